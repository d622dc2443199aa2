"""Detectors over merged, closed windows and filter flags, in event time (docs/design.md, detection).

``Detector`` (burn spikes, security suspects, bot surges, no traffic, calibration, policy) consumes merged
``WindowCounter``s and change events; ``AbuseEpisodes`` turns per-IP filter flags into scanner and
credential-stuffing episodes. Both are pure: no clock, no I/O; the caller says how far event time has
advanced. Output records are :class:`Anomaly` (schemas/anomaly.schema.json).
"""

from streams.core.detect.abuse import AbuseEpisodes
from streams.core.detect.anomaly import Anomaly
from streams.core.detect.changes import ChangeEvent, ChangeLog, parse_change
from streams.core.detect.detector import Detector

__all__ = ["AbuseEpisodes", "Anomaly", "ChangeEvent", "ChangeLog", "Detector", "parse_change"]
