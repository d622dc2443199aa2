"""Routes and exclusions for a whole batch: :meth:`Router.classify`'s answer for every row, in C.

Contract: ``classify_columns`` returns, per row, an index into ``answers`` whose entry is exactly
``Router.classify(method, host, path, user_agent)`` of that row (tests/unit/core/test_route_columns.py
checks it against the per-record router).

How: the rules are evaluated once per distinct (method, host, path) of the batch — method and host
conditions per distinct value in Python, path conditions with Arrow kernels over the distinct paths
(exact paths ``is_in``, prefixes ``starts_with``, ``path_regex`` with Arrow's RE2, falling back to the
Python RE2 object per distinct path if Arrow cannot compile the pattern). The first matching journey and
the first unconditional exclusion are per route; an exclusion with a user-agent condition is applied per
row, from one bit per distinct user agent. The first exclusion that applies wins, as in ``classify``.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from streams.core.arrays import filled
from streams.config import RouteMatch

_INT64 = pa.int64()


def _per_distinct(values: list[str], ok) -> pa.Array:
    return pa.array([ok(v) for v in values], pa.bool_())


def route_mask(match: RouteMatch, regex, methods: pa.Array, hosts: pa.Array, paths: pa.Array) -> pa.Array | None:
    """Whether each route (row of the three same-length arrays) satisfies ``match``; None = all do."""
    mask = None
    if match.methods:
        mask = pc.is_in(methods, value_set=pa.array(list(match.methods), pa.string()))
    if match.hosts:
        exact = [h for h in match.hosts if not h.startswith("*.")]
        suffixes = [h[1:] for h in match.hosts if h.startswith("*.")]
        hmask = pc.is_in(hosts, value_set=pa.array(exact, pa.string())) if exact else None
        for suffix in suffixes:
            m = pc.ends_with(hosts, suffix)
            hmask = m if hmask is None else pc.or_(hmask, m)
        mask = hmask if mask is None else pc.and_(mask, hmask)
    if match.paths or match.path_prefixes or match.path_regex:
        pmask = pc.is_in(paths, value_set=pa.array(list(match.paths), pa.string())) if match.paths else None
        for prefix in match.path_prefixes:
            m = pc.starts_with(paths, prefix)
            pmask = m if pmask is None else pc.or_(pmask, m)
        if match.path_regex:
            try:
                m = pc.match_substring_regex(paths, match.path_regex)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                m = _per_distinct(paths.to_pylist(), lambda p: regex.search(p) is not None)
            pmask = m if pmask is None else pc.or_(pmask, m)
        mask = pmask if mask is None else pc.and_(mask, pmask)
    return mask


def classify_columns(router, methods: pa.Array, hosts: pa.Array, paths: pa.Array, route_idx: pa.Array,
                     ua_values: list[str], ua_idx: pa.Array) -> tuple[pa.Array, list[tuple]]:
    """(answer index per row, answers). ``methods``/``hosts``/``paths`` hold one entry per distinct route
    of the batch and ``route_idx`` maps each row to its route; ``ua_idx`` maps rows to ``ua_values``."""
    exclusions = router._exclusions
    n_routes = len(paths)
    answers: list[tuple] = [(-1, ex.reason, ex.rule) for ex in exclusions]
    no_journey = len(answers)
    answers.append((-1, None, None))
    answers.extend((i, None, f"journeys[{i}]") for i in range(len(router.journey_names)))
    # First matching journey per route (answer no_journey + 1 + i), none → no_journey.
    route_answer = filled(no_journey, n_routes, _INT64)
    for i in reversed(range(len(router.journey_names))):
        mask = route_mask(router._journey_matches[i], router._journey_regexes[i], methods, hosts, paths)
        route_answer = filled(no_journey + 1 + i, n_routes, _INT64) if mask is None else \
            pc.if_else(mask, no_journey + 1 + i, route_answer)
    # Exclusions in order: an unconditional one decides per route; a UA-conditioned one per row.
    conditional: list[tuple[int, pa.Array]] = []
    first_uncond = filled(no_journey, n_routes, _INT64)  # no_journey = "none"
    for e in reversed(range(len(exclusions))):
        ex = exclusions[e]
        mask = route_mask(router._exclusion_matches[e], router._exclusion_regexes[e], methods, hosts, paths)
        if mask is None:
            mask = filled(True, n_routes)
        if ex.ua_bit:
            conditional.append((e, mask))
        else:
            first_uncond = pc.if_else(mask, e, first_uncond)
    route_answer = pc.if_else(pc.less(first_uncond, no_journey), first_uncond, route_answer)
    row_answer = pc.take(route_answer, route_idx)
    if conditional:
        row_ex = pc.take(first_uncond, route_idx)
        masks = [router.ua_mask(u) for u in ua_values]
        for e, rmask in sorted(conditional, reverse=True):
            bit = exclusions[e].ua_bit
            ua_ok = pc.take(pa.array([bool(mk & bit) for mk in masks], pa.bool_()), ua_idx)
            applies = pc.and_(pc.take(rmask, route_idx), ua_ok)
            row_ex = pc.if_else(applies, pc.min_element_wise(row_ex, e), row_ex)
        row_answer = pc.if_else(pc.less(row_ex, no_journey), row_ex, row_answer)
    return row_answer, answers
