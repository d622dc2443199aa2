"""SLO detectors over merged window counters, evaluated once per window end, in event time.

Contract:
- Input: merged ``WindowCounter``s (any order; a counter replaces the one of its window received before
  it, so deliver revisions in order, as the counter topics do) and change events. ``advance(until_ms)`` evaluates every window end ≤ ``until_ms`` not yet
  evaluated, in order, on a regular grid of ``windows.size_s`` (a missing window counts as no traffic);
  ``finish()`` evaluates through the last window seen. Embedded and replay runs call ``finish`` once;
  the live worker calls ``advance`` as its event-time watermark moves.
- Deterministic: the anomalies are a function of (counters, changes, config) as long as every counter of
  a window has arrived before that window is evaluated. An update to an already evaluated window still
  updates the sums later evaluations see, but earlier decisions are not revisited.
- Conditions are episodes: one ``firing`` anomaly when a condition starts, one ``resolved`` when it ends,
  nothing while it persists. Ratios are never computed over zero events (no NaN anywhere).
- State per SLO is bounded by the longest window (the SLO period, default 30 days of windows).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from streams.config import Config, JourneyConfig, SLOConfig
from streams.core.burn import WINDOWS_MS, BurnPolicy, burn_rate, firing
from streams.core.detect.anomaly import Anomaly
from streams.core.detect.changes import ChangeEvent, ChangeLog
from streams.core.networks import top_networks
from streams.core.timeparse import format_rfc3339
from streams.core.model import WindowCounter

DAY_MS = 86_400_000


@dataclass(slots=True)
class _Step:
    """One window's values for one SLO."""

    bad: int = 0
    total: int = 0
    raw: int = 0
    filtered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    networks: dict[str, int] = field(default_factory=dict)

    def vector(self) -> tuple[int, int, int, int]:
        return self.bad, self.total, self.raw, self.filtered


_ZERO = _Step()


@dataclass(slots=True)
class _Open:
    """An open episode: when it started and what it fired with."""

    start_ms: int
    severity: str = "info"
    window_start_ms: int = 0


class _SloTrack:
    """Per-(journey, SLO) history and running window sums. Owned by one Detector."""

    def __init__(self, journey: JourneyConfig, slo: SLOConfig, spans: dict[str, int]) -> None:
        self.journey = journey.name
        self.slo = slo.name
        self.service = journey.service or journey.name
        self.objective = slo.objective
        self.spans = spans  # window name → length in ms
        self.steps: dict[int, _Step] = {}  # window end → values
        self.sums: dict[str, list[int]] = {name: [0, 0, 0, 0] for name in spans}
        self.first_end: int | None = None
        self.last_end: int | None = None  # newest window end seen
        self.evaluated: int | None = None  # newest window end evaluated
        self.open: dict[str, _Open] = {}
        self.since: dict[str, int] = {}  # condition → start of the run of windows where it holds
        self.pending_suspects: deque[tuple[int, str, dict[str, float], dict]] = deque()
        self.last_burns: dict[str, float] = {}

    # -- input ------------------------------------------------------------------------------------------
    def put(self, c: WindowCounter) -> None:
        step = _Step(c.total - c.good, c.total, c.raw_total, sum(c.filtered.values()), dict(c.filtered),
                     dict(c.networks))
        end = c.window_end_ms
        old = self.steps.get(end, _ZERO)
        self.steps[end] = step
        if self.first_end is None or end < self.first_end:
            self.first_end = end
        if self.last_end is None or end > self.last_end:
            self.last_end = end
        t = self.evaluated
        if t is not None and end <= t:  # already evaluated: keep the running sums true for later windows
            delta = [a - b for a, b in zip(step.vector(), old.vector())]
            for name, span in self.spans.items():
                if end > t - span:
                    s = self.sums[name]
                    for i in range(4):
                        s[i] += delta[i]

    # -- sums -------------------------------------------------------------------------------------------
    def slide_to(self, end: int) -> None:
        """Move every running sum from window end ``evaluated`` to ``end`` (one grid step later)."""
        new = self.steps.get(end, _ZERO).vector()
        for name, span in self.spans.items():
            s = self.sums[name]
            old = self.steps.get(end - span, _ZERO).vector()
            for i in range(4):
                s[i] += new[i] - old[i]
        self.evaluated = end

    def prune(self, longest_ms: int, step_ms: int) -> None:
        if self.evaluated is None:
            return
        horizon = self.evaluated - longest_ms
        if len(self.steps) > longest_ms // step_ms + 16:
            for end in [e for e in self.steps if e <= horizon]:
                del self.steps[end]

    def detail(self, start_ms: int, end_ms: int) -> tuple[dict[str, int], dict[str, int]]:
        """Drop reasons and networks summed over window ends in (start, end]."""
        reasons: dict[str, int] = {}
        nets: dict[str, int] = {}
        for e, st in self.steps.items():
            if start_ms < e <= end_ms:
                for k, v in st.reasons.items():
                    reasons[k] = reasons.get(k, 0) + v
                for k, v in st.networks.items():
                    nets[k] = nets.get(k, 0) + v
        return dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))), top_networks(nets)


class Detector:
    """All SLO detectors of one config. Feed counters and changes, then ``advance``/``finish``."""

    def __init__(self, config: Config) -> None:
        d = config.detection
        self.cfg = d
        self.step_ms = config.windows.size_s * 1000
        self.policy = BurnPolicy.from_config(d.burn)
        self.changes = ChangeLog()
        spans = dict(WINDOWS_MS)
        spans["period"] = d.slo_period_days * DAY_MS
        spans["surge"] = d.bot_surge.window_s * 1000
        spans["surge_base"] = (d.bot_surge.window_s + d.bot_surge.baseline_s) * 1000
        # Running sums are per window end: round every span to whole windows.
        self.spans = {k: max(self.step_ms, v - v % self.step_ms) for k, v in spans.items()}
        self.longest_ms = max(self.spans.values())
        self.tracks: dict[tuple[str, str], _SloTrack] = {
            (j.name, s.name): _SloTrack(j, s, self.spans) for j in config.journeys for s in j.slos}

    # -- input ------------------------------------------------------------------------------------------
    def observe(self, counter: WindowCounter) -> None:
        track = self.tracks.get((counter.journey, counter.slo))
        if track is not None:  # a counter of a journey/SLO this config does not define: not ours to judge
            track.put(counter)

    def observe_change(self, change: ChangeEvent) -> None:
        self.changes.add(change)

    # -- evaluation -------------------------------------------------------------------------------------
    def advance(self, until_ms: int) -> list[Anomaly]:
        """Evaluate every window end ≤ ``until_ms`` (grid-aligned) not evaluated yet, per SLO in order."""
        out: list[Anomaly] = []
        for track in self.tracks.values():
            out.extend(self._advance_track(track, until_ms))
        return out

    def advance_ready(self, delay_ms: int) -> list[Anomaly]:
        """Live: evaluate each SLO up to its newest window end minus ``delay_ms`` (time for the partials of
        the other input partitions to arrive); ``delay_ms`` 0 when the stream has gone idle."""
        out: list[Anomaly] = []
        for track in self.tracks.values():
            if track.last_end is not None:
                out.extend(self._advance_track(track, track.last_end - delay_ms))
        return out

    def _advance_track(self, track: _SloTrack, until_ms: int) -> list[Anomaly]:
        out: list[Anomaly] = []
        if track.first_end is None:
            return out
        t = track.first_end if track.evaluated is None else track.evaluated + self.step_ms
        while t <= until_ms:
            track.slide_to(t)
            out.extend(self._evaluate(track, t))
            out.extend(self._decide_suspects(track, t, final=False))
            t += self.step_ms
        track.prune(self.longest_ms, self.step_ms)
        return out

    def finish(self) -> list[Anomaly]:
        """End of input: evaluate through the newest window seen and decide pending suspects."""
        ends = [t.last_end for t in self.tracks.values() if t.last_end is not None]
        if not ends:
            return []
        last = max(ends)
        out = self.advance(last)
        for track in self.tracks.values():
            out.extend(self._decide_suspects(track, last, final=True))
        return out

    def _sums(self, track: _SloTrack) -> dict[str, tuple[int, int]]:
        return {name: (s[0], s[1]) for name, s in track.sums.items()}

    def _burns(self, track: _SloTrack) -> dict[str, float]:
        out = {}
        for name in WINDOWS_MS:
            b = burn_rate(track.sums[name][0], track.sums[name][1], track.objective)
            if b is not None:
                out[name] = b
        return out

    def _evaluate(self, track: _SloTrack, t: int) -> list[Anomaly]:
        out: list[Anomaly] = []
        burns = self._burns(track)
        track.last_burns = burns
        out.extend(self._burn_spikes(track, t, burns))
        out.extend(self._no_traffic(track, t))
        if self.cfg.bot_surge.enabled:
            out.extend(self._bot_surge(track, t))
        if self.cfg.calibration.enabled:
            out.extend(self._calibration(track, t, burns))
        out.extend(self._policy(track, t, burns))
        return out

    # -- burn spikes and security suspects --------------------------------------------------------------
    def _burn_spikes(self, track: _SloTrack, t: int, burns: dict[str, float]) -> list[Anomaly]:
        out: list[Anomaly] = []
        fired = firing(self._sums(track), track.objective, self.policy)
        for severity in ("page", "ticket"):
            key = f"burn_{severity}"
            is_open = key in track.open
            cond = fired.get(severity)
            if cond is not None and not is_open:
                start = t - self.spans[cond.long]
                track.open[key] = _Open(t, severity, start)
                reasons, nets = track.detail(start, t)
                raw, filt = track.sums[cond.long][2], track.sums[cond.long][3]
                evidence = {"condition": f"burn {cond.long} > {cond.factor:g} and {cond.short} > {cond.factor:g}",
                            "events": track.sums[cond.long][1],
                            "filtered_share": round(filt / raw, 6) if raw else 0.0,
                            "top_drop_reasons": reasons, "top_networks": nets}
                changes = [c.to_dict() for c in self.changes.between(
                    track.service, t - self.cfg.change_window_s * 1000, t)]
                out.append(Anomaly("burn_spike", "firing", track.journey, track.slo, severity, start, t, t, t,
                                   severity, dict(burns), evidence, changes))
                if severity == "page":
                    # Fast burns only: a slow burn (ticket) is calibration or decay, not an attack signature.
                    track.pending_suspects.append((t, severity, dict(burns), evidence))
            elif cond is None and is_open:
                ep = track.open.pop(key)
                out.append(Anomaly("burn_spike", "resolved", track.journey, track.slo, severity, ep.start_ms, t, t,
                                   ep.start_ms, severity, dict(burns)))
        return out

    def _decide_suspects(self, track: _SloTrack, now_ms: int, final: bool) -> list[Anomaly]:
        """A fast-burn incident (page) with no deploy/config/upstream change of the journey's service within
        ±change_window becomes ``security_suspect`` — decided once the window after it has passed."""
        out: list[Anomaly] = []
        w = self.cfg.change_window_s * 1000
        while track.pending_suspects and (final or track.pending_suspects[0][0] + w <= now_ms):
            start, severity, burns, evidence = track.pending_suspects.popleft()
            if self.changes.between(track.service, start - w, start + w):
                continue  # explained by a change: the burn_spike stands alone
            ev = dict(evidence)
            ev["service"] = track.service
            ev["change_window_s"] = self.cfg.change_window_s
            out.append(Anomaly("security_suspect", "firing", track.journey, track.slo, severity, start - w,
                               start + w, min(start + w, now_ms), start, severity, burns, ev))
        return out

    # -- no traffic ---------------------------------------------------------------------------------------
    def _no_traffic(self, track: _SloTrack, t: int) -> list[Anomaly]:
        total = track.steps.get(t, _ZERO).total
        if total == 0:
            since = track.since.setdefault("no_traffic", t - self.step_ms)
            if "no_traffic" not in track.open and t - since >= max(self.cfg.no_traffic_after_s * 1000, self.step_ms):
                track.open["no_traffic"] = _Open(since)
                return [Anomaly("no_traffic", "firing", track.journey, track.slo, "ticket", since, t, t, since,
                                evidence={"silent_s": (t - since) // 1000})]
            return []
        track.since.pop("no_traffic", None)
        ep = track.open.pop("no_traffic", None)
        if ep is None:
            return []
        return [Anomaly("no_traffic", "resolved", track.journey, track.slo, "ticket", ep.start_ms, t - self.step_ms, t,
                        ep.start_ms, evidence={"silent_s": (t - self.step_ms - ep.start_ms) // 1000})]

    # -- bot surge ----------------------------------------------------------------------------------------
    def _bot_surge(self, track: _SloTrack, t: int) -> list[Anomaly]:
        cfg = self.cfg.bot_surge
        _, _, raw_w, filt_w = track.sums["surge"]
        _, _, raw_all, filt_all = track.sums["surge_base"]
        raw_b, filt_b = raw_all - raw_w, filt_all - filt_w
        is_open = "bot_surge" in track.open
        if raw_w < cfg.min_events or raw_b < cfg.min_events:
            holds = False
        else:
            share, base = filt_w / raw_w, filt_b / raw_b
            margin = cfg.min_increase if not is_open else cfg.min_increase / 2  # hysteresis: no flapping
            holds = share >= base + margin and share >= cfg.factor * base
        if holds and not is_open:
            start = t - self.spans["surge"]
            track.open["bot_surge"] = _Open(t, "info", start)
            reasons, nets = track.detail(start, t)
            ev = {"filtered_share": round(filt_w / raw_w, 6), "baseline_share": round(filt_b / raw_b, 6),
                  "requests": raw_w, "filtered": filt_w, "top_drop_reasons": reasons, "top_networks": nets}
            return [Anomaly("bot_surge", "firing", track.journey, track.slo, "info", start, t, t, t, evidence=ev)]
        if not holds and is_open:
            ep = track.open.pop("bot_surge")
            return [Anomaly("bot_surge", "resolved", track.journey, track.slo, "info", ep.start_ms, t, t, ep.start_ms)]
        return []

    # -- calibration (3-day burn average) ---------------------------------------------------------------
    def _calibration(self, track: _SloTrack, t: int, burns: dict[str, float]) -> list[Anomaly]:
        cfg = self.cfg.calibration
        out: list[Anomaly] = []
        full = track.first_end is not None and t - track.first_end + self.step_ms >= self.spans["3d"]
        b3 = burns.get("3d")
        enough = full and b3 is not None and track.sums["3d"][1] >= cfg.min_events
        for kind, holds, severity in (("burn_too_tight", enough and b3 > cfg.too_tight, "ticket"),
                                      ("burn_too_loose", enough and b3 < cfg.too_loose, "info")):
            if holds:
                since = track.since.setdefault(kind, t)
                if kind not in track.open and t - since >= cfg.sustain_s * 1000:
                    track.open[kind] = _Open(since, severity)
                    out.append(Anomaly(kind, "firing", track.journey, track.slo, severity, since - self.spans["3d"],
                                       t, t, since, burn_rates={"3d": b3},
                                       evidence={"burn_3d": round(b3, 6), "band": [cfg.too_loose, cfg.too_tight],
                                                 "sustained_s": (t - since) // 1000}))
            else:
                track.since.pop(kind, None)
                ep = track.open.pop(kind, None)
                if ep is not None:
                    out.append(Anomaly(kind, "resolved", track.journey, track.slo, ep.severity, ep.start_ms, t, t,
                                       ep.start_ms, burn_rates={"3d": b3} if b3 is not None else {}))
        return out

    # -- error budget policy ------------------------------------------------------------------------------
    def budget_remaining(self, track: _SloTrack) -> float:
        """1 − (errors over the SLO period ÷ allowed errors); 1.0 with no events (nothing spent)."""
        bad, total = track.sums["period"][0], track.sums["period"][1]
        return 1.0 - burn_rate(bad, total, track.objective) if total else 1.0

    def _policy(self, track: _SloTrack, t: int, burns: dict[str, float]) -> list[Anomaly]:
        remaining = self.budget_remaining(track)
        # A budget is judged only on enough history: three hours of data are not a 30-day period.
        history = t - track.first_end + self.step_ms if track.first_end is not None else 0
        # The same traffic guard as a ticket: fewer events than that prove nothing about the budget.
        exhausted = (remaining <= 0 and history >= self.cfg.policy_min_history_s * 1000
                     and track.sums["period"][1] >= self.cfg.burn.min_ticket_events)
        last_freeze, frozen = self.changes.last_freeze(track.service, t)
        holds = exhausted and not frozen
        if holds:
            since = track.since.setdefault("policy", t)
            if "policy" not in track.open and t - since >= self.cfg.policy_grace_s * 1000:
                track.open["policy"] = _Open(since, "ticket")
                ev = {"budget_remaining": round(remaining, 6), "slo_period_days": self.cfg.slo_period_days,
                      "service": track.service,
                      "last_freeze": None if last_freeze is None else format_rfc3339(last_freeze)}
                return [Anomaly("policy_not_enforced", "firing", track.journey, track.slo, "ticket", since, t, t,
                                since, burn_rates=dict(burns), evidence=ev)]
            return []
        track.since.pop("policy", None)
        ep = track.open.pop("policy", None)
        if ep is None:
            return []
        ev = {"budget_remaining": round(remaining, 6), "frozen": frozen}
        return [Anomaly("policy_not_enforced", "resolved", track.journey, track.slo, "ticket", ep.start_ms, t, t,
                        ep.start_ms, evidence=ev)]

    # -- gauges -------------------------------------------------------------------------------------------
    def gauges(self) -> dict:
        """The meta-dashboard at the newest evaluated window: per SLO burn rates (0 without events, never
        NaN), budget remaining, seconds since the last freeze (absent if never), and the program summary."""
        slos = []
        for track in self.tracks.values():
            if track.evaluated is None:
                continue
            last_freeze, frozen = self.changes.last_freeze(track.service, track.evaluated)
            slos.append({
                "journey": track.journey, "slo": track.slo, "at_ms": track.evaluated,
                "burn_rates": {w: track.last_burns.get(w, 0.0) for w in WINDOWS_MS},
                "budget_remaining": self.budget_remaining(track),
                "active": track.sums["period"][1] > 0,
                "seconds_since_freeze": None if last_freeze is None else (track.evaluated - last_freeze) // 1000,
                "frozen": frozen})
        active = [s for s in slos if s["active"]]
        return {
            "slos": slos,
            "active_slos": len(active),
            "slos_burning": sum(1 for s in active if s["burn_rates"]["1h"] > 1.0),
            "avg_budget_remaining": (sum(s["budget_remaining"] for s in active) / len(active)) if active else 1.0,
        }

