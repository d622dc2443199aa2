"""Route rules: exclusions first, then journeys, in order; the first match wins."""

from __future__ import annotations

from streams.config import Config, config_from_dict
from streams.core.journeys import Router
from tests.unit.helpers import BROWSER, at, cfg, req, run, why

AVAIL = [{"name": "availability", "kind": "availability", "objective": 0.99}]


def journey(name: str, **match) -> dict:
    return {"name": name, "match": match, "slos": AVAIL}


def router(journeys: list[dict], exclusions: list[dict] | None = None) -> Router:
    data: dict = {"journeys": journeys}
    if exclusions is not None:
        data["exclusions"] = exclusions
    return Router(config_from_dict(data))


# -- journeys ----------------------------------------------------------------------------------------------

def test_first_matching_journey_wins_in_config_order():
    r = router([journey("checkout", path_prefixes=["/api/checkout"]),
                journey("api", path_prefixes=["/api/"]),
                journey("web")], exclusions=[])
    assert r.classify("GET", "shop.example.com", "/api/checkout/pay", BROWSER) == (0, None, "journeys[0]")
    assert r.classify("GET", "shop.example.com", "/api/cart", BROWSER) == (1, None, "journeys[1]")
    assert r.classify("GET", "shop.example.com", "/about", BROWSER) == (2, None, "journeys[2]")


def test_order_decides_when_two_journeys_match():
    r = router([journey("api", path_prefixes=["/api/"]),
                journey("checkout", path_prefixes=["/api/checkout"])], exclusions=[])
    assert r.classify("POST", "h", "/api/checkout/pay", BROWSER) == (0, None, "journeys[0]")


def test_methods_condition():
    r = router([journey("writes", methods=["post", "PUT"])], exclusions=[])
    assert r.classify("POST", "h", "/x", BROWSER) == (0, None, "journeys[0]")
    assert r.classify("PUT", "h", "/x", BROWSER) == (0, None, "journeys[0]")
    assert r.classify("GET", "h", "/x", BROWSER) == (-1, None, None)


def test_hosts_exact_and_wildcard():
    r = router([journey("exact", hosts=["Shop.Example.com"]),
                journey("wild", hosts=["*.example.com"])], exclusions=[])
    assert r.classify("GET", "shop.example.com", "/", BROWSER) == (0, None, "journeys[0]")
    assert r.classify("GET", "api.example.com", "/", BROWSER) == (1, None, "journeys[1]")
    assert r.classify("GET", "a.b.example.com", "/", BROWSER) == (1, None, "journeys[1]")
    # "*.example.com" is a subdomain wildcard: the apex and look-alike suffixes do not match.
    assert r.classify("GET", "example.com", "/", BROWSER) == (-1, None, None)
    assert r.classify("GET", "badexample.com", "/", BROWSER) == (-1, None, None)
    assert r.classify("GET", "", "/", BROWSER) == (-1, None, None)


def test_exact_paths_prefixes_and_regex():
    r = router([journey("login", paths=["/login"]),
                journey("static", path_prefixes=["/static/", "/assets/"]),
                journey("product", path_regex=r"^/products/\d+$")], exclusions=[])
    assert r.classify("GET", "h", "/login", BROWSER) == (0, None, "journeys[0]")
    assert r.classify("GET", "h", "/login/", BROWSER) == (-1, None, None)  # exact means exact
    assert r.classify("GET", "h", "/loginx", BROWSER) == (-1, None, None)
    assert r.classify("GET", "h", "/static/app.js", BROWSER) == (1, None, "journeys[1]")
    assert r.classify("GET", "h", "/assets/x.png", BROWSER) == (1, None, "journeys[1]")
    assert r.classify("GET", "h", "/products/42", BROWSER) == (2, None, "journeys[2]")
    assert r.classify("GET", "h", "/products/42/reviews", BROWSER) == (-1, None, None)
    assert r.classify("GET", "h", "/products/abc", BROWSER) == (-1, None, None)


def test_path_regex_is_searched_not_anchored():
    r = router([journey("search", path_regex=r"/search")], exclusions=[])
    assert r.classify("GET", "h", "/en/search/results", BROWSER) == (0, None, "journeys[0]")
    assert r.classify("GET", "h", "/en/browse", BROWSER) == (-1, None, None)


def test_all_conditions_of_a_match_must_hold():
    r = router([journey("api_write", methods=["POST"], hosts=["api.example.com"], path_prefixes=["/v1/"])],
               exclusions=[])
    assert r.classify("POST", "api.example.com", "/v1/orders", BROWSER) == (0, None, "journeys[0]")
    assert r.classify("GET", "api.example.com", "/v1/orders", BROWSER) == (-1, None, None)
    assert r.classify("POST", "www.example.com", "/v1/orders", BROWSER) == (-1, None, None)
    assert r.classify("POST", "api.example.com", "/v2/orders", BROWSER) == (-1, None, None)


def test_repeated_lookups_give_the_same_answer():
    """Route decisions are cached; the cache must not change answers (nor leak across user agents)."""
    r = router([journey("web")], exclusions=[
        {"reason": "jobs", "match": {"paths": ["/sync"]}, "user_agents": ["cron"]}])
    for _ in range(3):
        assert r.classify("GET", "h", "/sync", "my-cron/1.0") == (-1, "jobs", "exclusions[0]")
        assert r.classify("GET", "h", "/sync", BROWSER) == (0, None, "journeys[0]")


# -- exclusions -----------------------------------------------------------------------------------------

def test_exclusions_are_checked_before_journeys():
    r = router([journey("web")], exclusions=[{"reason": "health", "match": {"paths": ["/healthz"]}}])
    assert r.classify("GET", "h", "/healthz", BROWSER) == (-1, "health", "exclusions[0]")
    assert r.classify("GET", "h", "/", BROWSER) == (0, None, "journeys[0]")


def test_first_matching_exclusion_wins():
    r = router([journey("web")], exclusions=[
        {"reason": "internal", "match": {"path_prefixes": ["/internal/"]}},
        {"reason": "jobs", "match": {"path_prefixes": ["/internal/jobs"]}},
    ])
    assert r.classify("GET", "h", "/internal/jobs/run", BROWSER) == (-1, "internal", "exclusions[0]")


def test_exclusion_by_user_agent_substring_is_case_insensitive_and_matches_any_route():
    r = router([journey("web")], exclusions=[{"reason": "jobs", "user_agents": ["Our-Cron"]}])
    assert r.classify("GET", "h", "/", "our-cron/2.1 (nightly)") == (-1, "jobs", "exclusions[0]")
    assert r.classify("POST", "other.host", "/any/path", "OUR-CRON") == (-1, "jobs", "exclusions[0]")
    assert r.classify("GET", "h", "/", BROWSER) == (0, None, "journeys[0]")


def test_exclusion_by_user_agent_regex():
    r = router([journey("web")], exclusions=[{"reason": "jobs", "user_agent_regex": r"^backup-agent/\d+"}])
    assert r.classify("GET", "h", "/", "backup-agent/7 linux") == (-1, "jobs", "exclusions[0]")
    assert r.classify("GET", "h", "/", "not backup-agent/7") == (0, None, "journeys[0]")


def test_route_plus_user_agent_exclusion_needs_both():
    r = router([journey("web")], exclusions=[
        {"reason": "jobs", "match": {"paths": ["/api/sync"]}, "user_agents": ["sync-bot"]}])
    assert r.classify("GET", "h", "/api/sync", "sync-bot/1.0") == (-1, "jobs", "exclusions[0]")
    assert r.classify("GET", "h", "/api/sync", BROWSER) == (0, None, "journeys[0]")  # route only
    assert r.classify("GET", "h", "/", "sync-bot/1.0") == (0, None, "journeys[0]")  # UA only


def test_ua_conditioned_exclusion_that_fails_falls_through_to_later_exclusions():
    r = router([journey("web")], exclusions=[
        {"reason": "jobs", "match": {"path_prefixes": ["/ops/"]}, "user_agents": ["cron"]},
        {"reason": "ops", "match": {"path_prefixes": ["/ops/"]}},
    ])
    assert r.classify("GET", "h", "/ops/x", "cron") == (-1, "jobs", "exclusions[0]")
    assert r.classify("GET", "h", "/ops/x", BROWSER) == (-1, "ops", "exclusions[1]")


def test_earlier_route_exclusion_wins_over_later_ua_exclusion():
    r = router([journey("web")], exclusions=[
        {"reason": "metrics", "match": {"paths": ["/metrics"]}},
        {"reason": "health", "user_agents": ["kube-probe"]},
    ])
    assert r.classify("GET", "h", "/metrics", "kube-probe/1.29") == (-1, "metrics", "exclusions[0]")
    assert r.classify("GET", "h", "/", "kube-probe/1.29") == (-1, "health", "exclusions[1]")


def test_unmatched_when_no_journey_matches():
    r = router([journey("api", path_prefixes=["/api/"])], exclusions=[])
    assert r.classify("GET", "h", "/", BROWSER) == (-1, None, None)


# -- defaults ---------------------------------------------------------------------------------------------

def test_default_config_routes():
    r = Router(Config())
    assert r.journey_names == ("all",)
    assert r.classify("GET", "h", "/", BROWSER) == (0, None, "journeys[0]")
    assert r.classify("GET", "h", "/healthz", BROWSER) == (-1, "health", "exclusions[0]")
    assert r.classify("GET", "h", "/", "kube-probe/1.29") == (-1, "health", "exclusions[1]")
    assert r.classify("GET", "h", "/metrics", BROWSER) == (-1, "metrics", "exclusions[2]")
    assert r.classify("GET", "h", "/internal/reindex", BROWSER) == (-1, "internal", "exclusions[3]")
    assert r.classify("GET", "h", "/internals", BROWSER) == (0, None, "journeys[0]")


# -- through the pipeline ---------------------------------------------------------------------------------

def test_pipeline_verdicts_and_tally_with_default_config():
    batch = [
        req(ts=at(1), path="/"),
        req(ts=at(2), path="/healthz"),
        req(ts=at(3), path="/", ua="kube-probe/1.29"),
        req(ts=at(4), path="/metrics"),
        req(ts=at(5), path="/internal/jobs"),
        req(ts=at(6), path="/cart?id=7"),
    ]
    _, out = run(Config(), batch, now_ms=at(6))
    assert why(out) == [
        ("counted", None, "journeys[0]"),
        ("excluded", "health", "exclusions[0]"),
        ("excluded", "health", "exclusions[1]"),
        ("excluded", "metrics", "exclusions[2]"),
        ("excluded", "internal", "exclusions[3]"),
        ("counted", None, "journeys[0]"),
    ]
    assert [v.journey for v in out.verdicts] == ["all", None, None, None, None, "all"]
    assert [v.line for v in out.verdicts] == [1, 2, 3, 4, 5, 6]
    assert out.tally.consumed == 6
    assert out.tally.counted == 2
    assert out.tally.excluded == {"health": 2, "metrics": 1, "internal": 1}
    assert out.tally.unmatched == 0
    assert out.tally.filtered == {}


def test_pipeline_unmatched_and_journey_names():
    config = cfg(journeys=[journey("checkout", methods=["POST"], path_prefixes=["/checkout"]),
                           journey("browse", methods=["GET"], hosts=["*.example.com"])])
    batch = [
        req(ts=at(1), method="POST", path="/checkout/pay"),
        req(ts=at(2), method="GET", path="/p/1", host="shop.example.com"),
        req(ts=at(3), method="GET", path="/p/1", host="shop.example.org"),
        req(ts=at(4), method="DELETE", path="/checkout/pay"),
        req(ts=at(5), method="GET", path="/healthz", host="shop.example.org"),
    ]
    _, out = run(config, batch, now_ms=at(5))
    assert [(v.journey, v.verdict, v.reason, v.rule) for v in out.verdicts] == [
        ("checkout", "counted", None, "journeys[0]"),
        ("browse", "counted", None, "journeys[1]"),
        (None, "unmatched", None, None),
        (None, "unmatched", None, None),
        (None, "excluded", "health", "exclusions[0]"),
    ]
    assert (out.tally.counted, out.tally.unmatched, out.tally.excluded) == (2, 2, {"health": 1})


def test_excluded_requests_do_not_reach_journey_counters():
    _, out = run(Config(), [req(ts=at(1)), req(ts=at(2), path="/healthz"), req(ts=at(3), path="/metrics")])
    assert out.counters == []  # nothing closed yet (allowed lateness 120 s)
    p, out = run(Config(), [req(ts=at(1)), req(ts=at(2), path="/healthz")])
    (c,) = p.flush().counters
    assert (c.journey, c.slo, c.good, c.total, c.raw_total, c.filtered) == ("all", "availability", 1, 1, 1, {})


def test_pipeline_custom_exclusions_and_journeys_in_order():
    config = cfg(
        exclusions=[
            {"reason": "jobs", "match": {"methods": ["POST"], "paths": ["/api/sync"]}, "user_agents": ["Sync-Bot"]},
            {"reason": "monitoring", "user_agent_regex": r"(?i)^statuspage/\d"},
            {"reason": "assets", "match": {"hosts": ["*.cdn.example.com"]}},
        ],
        journeys=[journey("checkout", methods=["POST"], path_regex=r"^/api/(checkout|pay)$"),
                  {**journey("api", hosts=["api.example.com"], path_prefixes=["/api/"]), "keep": ["crawler"]},
                  journey("home", paths=["/"])])
    batch = [
        req(ts=at(1), method="POST", path="/api/sync", ua="sync-bot/3", host="api.example.com"),
        req(ts=at(2), method="POST", path="/api/sync", host="api.example.com"),       # UA does not hold
        # method does not hold; the UA is a crawler's, and the api journey keeps crawlers
        req(ts=at(3), method="GET", path="/api/sync", ua="SYNC-BOT", host="api.example.com"),
        req(ts=at(4), path="/", ua="StatusPage/2.0"),
        req(ts=at(5), path="/", ua="my statuspage/2.0"),                                 # regex is anchored
        req(ts=at(6), path="/app.js", host="img.cdn.example.com"),
        req(ts=at(7), method="POST", path="/api/pay", host="api.example.com"),
        req(ts=at(8), method="POST", path="/api/payments", host="api.example.com"),
        req(ts=at(9), method="POST", path="/api/pay", host="www.example.com"),
        req(ts=at(10), path="/about"),
    ]
    _, out = run(config, batch)
    assert [(v.journey, v.verdict, v.reason, v.rule) for v in out.verdicts] == [
        (None, "excluded", "jobs", "exclusions[0]"),
        ("api", "counted", None, "journeys[1]"),
        ("api", "counted", None, "journeys[1]"),
        (None, "excluded", "monitoring", "exclusions[1]"),
        ("home", "filtered", "automation", "truesli:no-browser-token"),   # not excluded, and no browser's UA
        (None, "excluded", "assets", "exclusions[2]"),
        ("checkout", "counted", None, "journeys[0]"),
        ("api", "counted", None, "journeys[1]"),
        ("checkout", "counted", None, "journeys[0]"),
        (None, "unmatched", None, None),
    ]
    assert out.tally.excluded == {"jobs": 1, "monitoring": 1, "assets": 1}
    assert (out.tally.counted, out.tally.unmatched, out.tally.filtered) == (5, 1, {"automation": 1})
