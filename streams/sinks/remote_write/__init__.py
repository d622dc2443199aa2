"""Prometheus remote-write 1.0 sink, by job:

- :mod:`.encode` — hand-encoded protobuf ``WriteRequest`` and snappy block compression (pure);
- :mod:`.send` — one HTTP POST: keep-alive connection, TLS, auth headers, a safe echo of the answer;
- :mod:`.policy` — retry, split and drop rules and their accounting (``DeliveryReport``);
- :mod:`.sink` — ``RemoteWriteSink``: collect samples, batch them, hand them to the policy.

Settings are validated once, by :class:`streams.config.RemoteWriteConfig`; see docs/remote-write.md.
"""

from streams.sinks.remote_write.encode import compress, encode_labels, encode_write_request, validate_labels
from streams.sinks.remote_write.policy import (
    RECEIVER_UNREACHABLE, REJECTED_4XX, REJECTED_OTHER, RETRIES_EXHAUSTED, DeliveryReport,
)
from streams.sinks.remote_write.send import USER_AGENT
from streams.sinks.remote_write.sink import RemoteWriteSink

__all__ = [
    "DeliveryReport", "RECEIVER_UNREACHABLE", "REJECTED_4XX", "REJECTED_OTHER", "RETRIES_EXHAUSTED",
    "RemoteWriteSink", "USER_AGENT", "compress", "encode_labels", "encode_write_request", "validate_labels",
]
