"""The state changelog records which SLI definition built it; a restore under another one is detectable."""

from __future__ import annotations

from streams.config import config_from_dict
from streams.live.changelog import changelog_records, config_fingerprint, restore_partition

LINE = b'{"ts":"2026-08-01T00:00:01Z","client_ip":"10.0.0.1","method":"GET","path":"/","status":200}'


def _config(objective: float, bootstrap: str = "localhost:9092"):
    return config_from_dict({"journeys": [{"name": "all", "slos": [
        {"name": "availability", "kind": "availability", "objective": objective}]}],
        "kafka": {"bootstrap_servers": bootstrap}})


def test_fingerprint_names_the_definition_not_where_it_runs():
    assert config_fingerprint(_config(0.999)) == config_fingerprint(_config(0.999, "other:9092"))
    assert config_fingerprint(_config(0.999)) != config_fingerprint(_config(0.99))
    assert len(config_fingerprint(_config(0.999))) == 12


def test_restored_state_says_which_config_wrote_it():
    a, b = _config(0.999), _config(0.99)
    state = restore_partition(a, 0, [], remote_write=False)
    assert (state.fingerprint, state.written_under) == (config_fingerprint(a), None)  # nothing recorded yet
    state.pipeline.process([LINE], now_ms=None)
    state.next_offset = 1
    records = list(changelog_records(state))
    same = restore_partition(a, 0, records, remote_write=False)
    other = restore_partition(b, 0, records, remote_write=False)
    assert same.written_under == same.fingerprint == config_fingerprint(a)
    assert (other.written_under, other.fingerprint) == (config_fingerprint(a), config_fingerprint(b))
