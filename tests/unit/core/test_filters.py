"""The filter chain: synthetic → ip_deny → bot_ua → rate_limited → scanner → credential_stuffing.

Each test feeds request lines through a Pipeline and checks the exact (verdict, reason, rule) of every
record, the tallies and, for the behavioural filters, the IpFlag outputs.
"""

from __future__ import annotations

import re

import pytest

from streams.config import Config
from streams.core.filters.traffic import crawler_user_agents_patterns as crawler_patterns
from streams.core.pipeline import Pipeline
from streams.core.model import IpFlag
from tests.unit.helpers import BROWSER, GOOGLEBOT, T0_MS, at, cfg, req, run, why

COUNTED = ("counted", None, "journeys[0]")


def filtered(reason: str, rule: str) -> tuple[str, str, str]:
    return ("filtered", reason, rule)


def filters(**sections) -> Config:
    return cfg(filters=sections)


# -- order: the first reason wins -------------------------------------------------------------------------

ORDER_CFG = filters(ip_deny={"deny": ["203.0.113.0/24"]})


def test_synthetic_wins_over_everything():
    line = req(ip="203.0.113.5", ua=GOOGLEBOT, synthetic=True, rate_limited=True, status=429)
    _, out = run(ORDER_CFG, [line])
    assert why(out) == [filtered("synthetic", "flag")]


def test_ip_deny_wins_over_bot_ua_and_rate_limited():
    line = req(ip="203.0.113.5", ua=GOOGLEBOT, rate_limited=True)
    _, out = run(ORDER_CFG, [line])
    assert why(out) == [filtered("ip_deny", "deny:203.0.113.0/24")]


def test_bot_ua_wins_over_rate_limited():
    _, out = run(ORDER_CFG, [req(ua=GOOGLEBOT, rate_limited=True)])
    assert why(out) == [filtered("crawler", "crawler-user-agents:Googlebot\\/")]


def test_rate_limited_wins_over_scanner_and_credential_stuffing():
    _, out = run(ORDER_CFG, [req(ua="sqlmap/1.7", rate_limited=True, method="POST", path="/login", status=401)])
    assert why(out) == [filtered("rate_limited", "edge_flag")]


def test_scanner_wins_over_credential_stuffing():
    config = filters(credential_stuffing={"max_failures": 1})
    batch = [req(ts=at(i), ua="sqlmap/1.7", method="POST", path="/login", status=401) for i in range(3)]
    _, out = run(config, batch)
    assert why(out) == [filtered("scanner", "user_agent:sqlmap")] * 3
    # the tool's first request flags the IP (one scanner episode), the rest fall in its cooldown
    assert [(f.ts_ms, f.reason, f.rule) for f in out.flags] == [(at(0), "scanner", "user_agent:sqlmap")]


# A user agent on two lists gets the earlier filter's reason on both code paths of the chain: the cached
# per-UA verdict of the stateless filters (taken when they list no IPs — the default config) and the
# per-record walk (taken as soon as an IP list is configured, as in ORDER_CFG).
UPTIMEROBOT = "UptimeRobot/2.0 (http://www.uptimerobot.com/)"  # synthetic user_agents and the crawler list
DATADOG = "Mozilla/5.0 (compatible; Datadog/Synthetics)"          # synthetic user_agents and a bot pattern
PATHS = {"cached per-UA verdicts": {}, "per-record chain": {"ip_deny": {"deny": ["203.0.113.0/24"]}}}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("ua, rule", [(UPTIMEROBOT, "user_agent:UptimeRobot"),
                                      (DATADOG, "user_agent:Datadog/Synthetics")])
def test_a_user_agent_on_two_lists_is_synthetic_on_both_paths(path, ua, rule):
    config = filters(bot_ua={"patterns": ["Datadog"]}, **PATHS[path])
    p, out = run(config, [req(ts=at(i), ua=ua, ip=f"11.0.0.{i + 1}") for i in range(3)])  # 2nd, 3rd: cache hits
    assert (p.filters._ua_parts is not None) == (path == "cached per-UA verdicts")
    assert why(out) == [filtered("synthetic", rule)] * 3
    # with the synthetic filter off, the same user agent is the second list's
    off = filters(synthetic={"enabled": False}, bot_ua={"patterns": ["Datadog"]}, **PATHS[path])
    # (bot_ua's reason is the traffic class: UptimeRobot is monitoring, a configured pattern is crawler)
    bot = ("monitoring", "crawler-user-agents:UptimeRobot") if ua == UPTIMEROBOT else ("crawler", "pattern:Datadog")
    assert why(run(off, [req(ua=ua)])[1]) == [filtered(*bot)]


@pytest.mark.parametrize("path", PATHS)
def test_denied_ip_with_a_bot_user_agent_on_both_paths(path):
    """ip_deny before bot_ua: on the per-record path the deny list names the IP; on the cached path (no deny
    list) the same request is a bot."""
    _, out = run(filters(**PATHS[path]), [req(ip="203.0.113.5", ua=GOOGLEBOT), req(ip="11.0.0.9", ua=GOOGLEBOT)])
    first = (filtered("ip_deny", "deny:203.0.113.0/24") if path == "per-record chain"
             else filtered("crawler", "crawler-user-agents:Googlebot\\/"))
    assert why(out) == [first, filtered("crawler", "crawler-user-agents:Googlebot\\/")]


def test_filtered_tally_by_reason():
    batch = [
        req(ts=at(1), synthetic=True),
        req(ts=at(2), ip="203.0.113.1"),
        req(ts=at(3), ua=GOOGLEBOT),
        req(ts=at(4), status=429),
        req(ts=at(5), ua="Nikto/2.5", ip="198.51.100.9"),
        req(ts=at(6)),
        req(ts=at(7), path="/healthz", ua=GOOGLEBOT),  # exclusions come before filters
    ]
    _, out = run(ORDER_CFG, batch)
    assert why(out) == [
        filtered("synthetic", "flag"),
        filtered("ip_deny", "deny:203.0.113.0/24"),
        filtered("crawler", "crawler-user-agents:Googlebot\\/"),
        filtered("rate_limited", "status_429"),
        filtered("scanner", "user_agent:nikto"),
        COUNTED,
        ("excluded", "health", "exclusions[0]"),
    ]
    assert out.tally.filtered == {"synthetic": 1, "ip_deny": 1, "crawler": 1, "rate_limited": 1, "scanner": 1}
    assert (out.tally.counted, out.tally.excluded) == (1, {"health": 1})


def test_unmatched_requests_are_filtered_too():
    config = cfg(journeys=[{"name": "api", "match": {"path_prefixes": ["/api/"]},
                            "slos": [{"name": "availability", "kind": "availability", "objective": 0.99}]}])
    _, out = run(config, [req(path="/blog", ua=GOOGLEBOT), req(path="/blog")])
    assert [(v.journey, v.verdict, v.reason, v.rule) for v in out.verdicts] == [
        (None, "filtered", "crawler", "crawler-user-agents:Googlebot\\/"),
        (None, "unmatched", None, None),
    ]
    assert (out.tally.filtered, out.tally.unmatched) == ({"crawler": 1}, 1)


# -- synthetic ----------------------------------------------------------------------------------------------

def test_synthetic_flag_user_agent_and_ips():
    config = filters(synthetic={"ips": ["192.0.2.0/24", "2001:db8:5::/48"]})
    batch = [
        req(ts=at(1), synthetic=True),
        req(ts=at(2), ua="Datadog/Synthetics"),
        req(ts=at(3), ua="Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"),
        req(ts=at(4), ua="mozilla/5.0 pingdom.com_bot_version_1.4"),
        req(ts=at(5), ip="192.0.2.77"),
        req(ts=at(6), ip="2001:db8:5::9"),
        req(ts=at(7), synthetic=False),
        req(ts=at(8), ip="192.0.3.1"),
    ]
    _, out = run(config, batch)
    assert why(out) == [
        filtered("synthetic", "flag"),
        filtered("synthetic", "user_agent:Datadog/Synthetics"),
        filtered("synthetic", "user_agent:UptimeRobot"),
        filtered("synthetic", "user_agent:Pingdom"),
        filtered("synthetic", "ip:192.0.2.0/24"),
        filtered("synthetic", "ip:2001:db8:5::/48"),
        COUNTED,
        COUNTED,
    ]


def test_synthetic_flag_ignored_when_not_honored():
    _, out = run(filters(synthetic={"honor_flag": False}), [req(synthetic=True)])
    assert why(out) == [COUNTED]


def test_synthetic_disabled():
    _, out = run(filters(synthetic={"enabled": False}), [req(synthetic=True), req(ua="Datadog/Synthetics")])
    # not synthetic any more; the UA is still a monitoring service's, which bot_ua names
    assert why(out) == [COUNTED, filtered("monitoring", "truesli:monitoring")]


# -- ip_deny ----------------------------------------------------------------------------------------------

def test_ip_deny_ipv4_ipv6_and_allow_carve_out():
    config = filters(ip_deny={"deny": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"],
                              "allow": ["203.0.113.7/32", "2001:db8:1::/48"]})
    batch = [
        req(ts=at(1), ip="203.0.113.8"),
        req(ts=at(2), ip="203.0.113.7"),  # allow-listed inside a denied block
        req(ts=at(3), ip="2001:DB8::1"),
        req(ts=at(4), ip="2001:db8:1::5"),  # allow-listed IPv6
        req(ts=at(5), ip="198.51.100.7"),
        req(ts=at(6), ip="198.51.100.8"),
        req(ts=at(7), ip="203.0.112.255"),
    ]
    _, out = run(config, batch)
    assert why(out) == [
        filtered("ip_deny", "deny:203.0.113.0/24"),
        COUNTED,
        filtered("ip_deny", "deny:2001:db8::/32"),
        COUNTED,
        filtered("ip_deny", "deny:198.51.100.7/32"),
        COUNTED,
        COUNTED,
    ]
    assert out.tally.filtered == {"ip_deny": 3}


def test_ip_deny_longest_prefix_names_the_rule():
    config = filters(ip_deny={"deny": ["10.0.0.0/8", "10.20.0.0/16"]})
    _, out = run(config, [req(ip="10.20.3.4"), req(ip="10.9.9.9")])
    assert why(out) == [filtered("ip_deny", "deny:10.20.0.0/16"), filtered("ip_deny", "deny:10.0.0.0/8")]


# -- bot_ua -----------------------------------------------------------------------------------------------

def test_googlebot_is_a_bot_by_the_crawler_list():
    _, out = run(Config(), [req(ua=GOOGLEBOT)])
    ((verdict, reason, rule),) = why(out)
    assert (verdict, reason) == ("filtered", "crawler")
    assert rule.startswith("crawler-user-agents:")
    pattern = rule.removeprefix("crawler-user-agents:")
    assert pattern in crawler_patterns()
    assert re.search(pattern, GOOGLEBOT)


def test_configured_bot_pattern_names_itself():
    config = filters(bot_ua={"patterns": ["(?i)acme-monitor", "^LinkChecker/"], "use_crawler_list": False,
                             "no_browser_token_is_automation": False})
    _, out = run(config, [req(ua="ACME-Monitor/3"), req(ua="LinkChecker/10.0"), req(ua="x LinkChecker/10")])
    assert why(out) == [
        filtered("crawler", "pattern:(?i)acme-monitor"),
        filtered("crawler", "pattern:^LinkChecker/"),
        filtered("monitoring", "truesli:monitoring"),  # the pattern is anchored; truesli's table still knows it
    ]


def test_allow_list_wins_over_crawler_list_and_patterns():
    plain = run(Config(), [req(ua="python-requests/2.31.0")])[1]
    assert why(plain) == [filtered("automation", "crawler-user-agents:python-requests")]
    config = filters(bot_ua={"allow": ["python-requests"], "patterns": ["requests"]})
    _, out = run(config, [req(ua="python-requests/2.31.0"), req(ua="node-requests/1")])
    assert why(out) == [COUNTED, filtered("crawler", "pattern:requests")]


def test_crawler_list_can_be_switched_off():
    _, out = run(filters(bot_ua={"use_crawler_list": False}), [req(ua=GOOGLEBOT)])
    assert why(out) == [filtered("crawler", "truesli:bot-shapes")]  # no list: truesli's own table only


def test_scanner_user_agents_are_scanner_not_bot_ua():
    # sqlmap, nikto, zgrab and masscan are also on the crawler list; the scanner verdict is the specific one.
    batch = [req(ts=at(i), ip=f"11.0.1.{i}", ua=ua) for i, ua in enumerate(
        ["sqlmap/1.7.2#stable (https://sqlmap.org)", "Mozilla/5.00 (Nikto/2.1.6)", "Mozilla/5.0 zgrab/0.x",
         "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"])]
    _, out = run(Config(), batch)
    assert why(out) == [filtered("scanner", "user_agent:sqlmap"), filtered("scanner", "user_agent:nikto"),
                        filtered("scanner", "user_agent:zgrab"), filtered("scanner", "user_agent:masscan")]


def test_scanner_user_agent_falls_back_to_bot_ua_when_scanner_filter_is_off():
    _, out = run(filters(scanner={"enabled": False}), [req(ua="sqlmap/1.7")])
    assert why(out) == [filtered("crawler", "crawler-user-agents:sqlmap")]


def test_empty_user_agent_counted_unless_configured_as_bot():
    batch = [req(ts=at(1), ua=""), req(ts=at(2), ua="-"), req(ts=at(3), ua=None)]
    assert why(run(Config(), batch)[1]) == [COUNTED] * 3
    out = run(filters(bot_ua={"empty_user_agent_is_bot": True}), batch)[1]
    assert why(out) == [filtered("crawler", "empty_user_agent")] * 3


def test_browsers_are_not_bots():
    uas = [BROWSER,
           "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/17.0 Mobile/15E148 Safari/604.1",
           "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"]
    _, out = run(Config(), [req(ts=at(i), ua=ua) for i, ua in enumerate(uas)])
    assert why(out) == [COUNTED] * 3


# -- rate_limited -----------------------------------------------------------------------------------------

def test_edge_flag_and_status_429():
    _, out = run(Config(), [req(ts=at(1), rate_limited=True), req(ts=at(2), status=429), req(ts=at(3))])
    assert why(out) == [filtered("rate_limited", "edge_flag"), filtered("rate_limited", "status_429"), COUNTED]
    assert out.flags == []


def test_edge_flag_and_429_can_be_turned_off():
    config = filters(rate_limited={"edge_flag": False, "status_429": False})
    _, out = run(config, [req(ts=at(1), rate_limited=True), req(ts=at(2), status=429)])
    assert why(out) == [COUNTED, COUNTED]


RATE_CFG = filters(rate_limited={"max_requests": 5, "window_s": 60, "cooldown_s": 120})
RULE_RATE = "ip_rate>5/60s"


def test_ip_over_the_rate_is_dropped_after_exactly_max_requests():
    batch = [req(ts=at(i), ip="11.0.0.9") for i in range(7)]
    _, out = run(RATE_CFG, batch)
    assert why(out) == [COUNTED] * 5 + [filtered("rate_limited", RULE_RATE)] * 2
    assert out.flags == [IpFlag(at(5), "11.0.0.9", "rate_limited", RULE_RATE, at(5 + 120))]
    assert out.tally.filtered == {"rate_limited": 2}


def test_rate_drop_lasts_for_the_cooldown_in_event_time_then_ends():
    p = Pipeline(RATE_CFG, collect_verdicts=True)
    first = p.process([req(ts=at(i), ip="11.0.0.9") for i in range(6)], now_ms=at(6))
    assert why(first) == [COUNTED] * 5 + [filtered("rate_limited", RULE_RATE)]
    assert len(first.flags) == 1
    flag_until = first.flags[0].until_ms
    assert flag_until == at(5) + 120_000
    later = p.process([
        req(ts=at(30), ip="11.0.0.10"),            # a different IP is unaffected
        req(ts=at(100), ip="11.0.0.9"),            # inside the cooldown: still dropped
        req(ts=flag_until - 1, ip="11.0.0.9"),     # last millisecond of the cooldown
        req(ts=flag_until, ip="11.0.0.9"),         # cooldown over
        req(ts=flag_until + 1000, ip="11.0.0.9"),
    ], now_ms=flag_until + 1000)
    assert why(later) == [COUNTED, filtered("rate_limited", RULE_RATE), filtered("rate_limited", RULE_RATE),
                          COUNTED, COUNTED]
    assert later.flags == []  # no new flag while (or after) the same episode


def test_rate_cooldown_restarts_while_the_ip_stays_above_the_rate():
    p = Pipeline(RATE_CFG, collect_verdicts=True)
    first = p.process([req(ts=at(i), ip="11.0.0.9") for i in range(6)])
    assert first.flags[0].until_ms == at(125)
    # 6 requests at 110..115 s: the sliding estimate passes 5 at 114 s, restarting the cooldown to 235 s.
    burst = p.process([req(ts=at(110 + i), ip="11.0.0.9") for i in range(6)])
    assert why(burst) == [filtered("rate_limited", RULE_RATE)] * 6
    tail = p.process([req(ts=at(200), ip="11.0.0.9"), req(ts=at(235) - 1, ip="11.0.0.9"),
                      req(ts=at(235), ip="11.0.0.9")])
    assert why(tail) == [filtered("rate_limited", RULE_RATE)] * 2 + [COUNTED]
    assert burst.flags == [] and tail.flags == []


def test_rate_is_counted_across_batches():
    p = Pipeline(RATE_CFG, collect_verdicts=True)
    outs = [p.process([req(ts=at(i), ip="11.0.0.9")], now_ms=at(i)) for i in range(6)]
    assert [why(o)[0] for o in outs] == [COUNTED] * 5 + [filtered("rate_limited", RULE_RATE)]
    assert [len(o.flags) for o in outs] == [0, 0, 0, 0, 0, 1]


def test_rate_limit_is_per_ip():
    batch = []
    for i in range(6):
        batch.append(req(ts=at(i), ip="11.0.0.9"))
        batch.append(req(ts=at(i), ip="11.0.0.10"))
    _, out = run(filters(rate_limited={"max_requests": 6, "window_s": 60}), batch)
    assert why(out) == [COUNTED] * 12
    assert out.flags == []


def test_cgnat_address_below_the_limit_is_never_dropped():
    """Many real users behind one address at 86% of the limit, for ten minutes: all counted."""
    config = filters(rate_limited={"max_requests": 100, "window_s": 60, "cooldown_s": 300})
    uas = [BROWSER, "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"]
    batch = [req(ts=T0_MS + i * 700, ip="100.64.12.34", ua=uas[i % 3]) for i in range(860)]
    _, out = run(config, batch)
    assert out.tally.counted == 860
    assert out.tally.filtered == {}
    assert out.flags == []


def test_rate_flag_is_raised_again_for_a_new_episode_after_cooldown():
    p = Pipeline(RATE_CFG, collect_verdicts=True)
    a = p.process([req(ts=at(i), ip="11.0.0.9") for i in range(6)])
    b = p.process([req(ts=at(600 + i), ip="11.0.0.9") for i in range(6)])
    assert why(b) == [COUNTED] * 5 + [filtered("rate_limited", RULE_RATE)]
    assert a.flags == [IpFlag(at(5), "11.0.0.9", "rate_limited", RULE_RATE, at(125))]
    assert b.flags == [IpFlag(at(605), "11.0.0.9", "rate_limited", RULE_RATE, at(725))]


# -- scanner ----------------------------------------------------------------------------------------------

def test_scanner_user_agent_is_case_insensitive():
    _, out = run(Config(), [req(ua="SQLMAP/1.7"), req(ua="Mozilla/5.0 (compatible; Nuclei - Open-source)")])
    assert why(out) == [filtered("scanner", "user_agent:sqlmap"), filtered("scanner", "user_agent:nuclei")]
    assert [f.rule for f in out.flags] == ["user_agent:sqlmap"]  # same IP: the second is within the cooldown


SCAN_CFG = filters(scanner={"cooldown_s": 600, "distinct_404_threshold": 3, "window_s": 600})


def test_probe_path_flags_the_ip_for_the_cooldown():
    p = Pipeline(SCAN_CFG, collect_verdicts=True)
    out = p.process([
        req(ts=at(10), ip="11.0.0.66", path="/.env", status=404),
        req(ts=at(11), ip="11.0.0.66", path="/", status=200),
        req(ts=at(12), ip="11.0.0.67", path="/", status=200),          # another IP: unaffected
        req(ts=at(13), ip="11.0.0.66", path="/products/1", status=200),
    ])
    assert why(out) == [filtered("scanner", "probe_path:/.env"), filtered("scanner", "probe_path:/.env"),
                        COUNTED, filtered("scanner", "probe_path:/.env")]
    assert out.flags == [IpFlag(at(10), "11.0.0.66", "scanner", "probe_path:/.env", at(610))]
    after = p.process([req(ts=at(610) - 1, ip="11.0.0.66"), req(ts=at(610), ip="11.0.0.66")])
    assert why(after) == [filtered("scanner", "probe_path:/.env"), COUNTED]
    assert after.flags == []


def test_probe_paths_match_by_prefix_case_insensitively():
    batch = [req(ts=at(1), ip="11.0.0.1", path="/wp-login.php"),
             req(ts=at(2), ip="11.0.0.2", path="/.git/config"),
             req(ts=at(3), ip="11.0.0.3", path="/phpMyAdmin/index.php"),
             req(ts=at(4), ip="11.0.0.4", path="/environment")]
    _, out = run(Config(), batch)
    assert why(out) == [filtered("scanner", "probe_path:/wp-login.php"), filtered("scanner", "probe_path:/.git/"),
                        filtered("scanner", "probe_path:/phpmyadmin"), COUNTED]
    assert [f.client_ip for f in out.flags] == ["11.0.0.1", "11.0.0.2", "11.0.0.3"]


def test_distinct_404_threshold():
    ip = "11.0.0.44"
    batch = [req(ts=at(1), ip=ip, path="/a", status=404),
             req(ts=at(2), ip=ip, path="/b", status=404),
             req(ts=at(3), ip=ip, path="/a", status=404),   # repeat: not distinct
             req(ts=at(4), ip=ip, path="/a", status=404),
             req(ts=at(5), ip=ip, path="/c", status=404),   # 3rd distinct: still allowed
             req(ts=at(6), ip=ip, path="/c", status=404),
             req(ts=at(7), ip=ip, path="/x", status=200),   # a 200 is not a 404
             req(ts=at(8), ip=ip, path="/d", status=404),   # 4th distinct: flagged
             req(ts=at(9), ip=ip, path="/", status=200)]    # and the rest of the scan goes too
    _, out = run(SCAN_CFG, batch)
    rule = "distinct_404>3/600s"
    assert why(out) == [COUNTED] * 7 + [filtered("scanner", rule)] * 2
    assert out.flags == [IpFlag(at(8), ip, "scanner", rule, at(608))]


def test_repeating_one_404_path_never_flags():
    batch = [req(ts=at(i), ip="11.0.0.45", path="/missing.png", status=404) for i in range(50)]
    _, out = run(SCAN_CFG, batch)
    assert why(out) == [COUNTED] * 50
    assert out.flags == []


def test_distinct_404s_of_different_ips_are_not_pooled():
    batch = [req(ts=at(i), ip=f"11.0.0.{50 + i % 2}", path=f"/p{i}", status=404) for i in range(6)]
    _, out = run(SCAN_CFG, batch)
    assert why(out) == [COUNTED] * 6


def test_404s_during_scanner_cooldown_extend_it():
    p = Pipeline(SCAN_CFG, collect_verdicts=True)
    p.process([req(ts=at(0), ip="11.0.0.66", path="/.env")])
    out = p.process([req(ts=at(500), ip="11.0.0.66", path="/nope", status=404),
                     req(ts=at(700), ip="11.0.0.66", path="/"),
                     req(ts=at(1100), ip="11.0.0.66", path="/")])
    assert why(out) == [filtered("scanner", "probe_path:/.env")] * 2 + [COUNTED]
    assert out.flags == []


# Two-bucket semantics like the rate limiter: "more than N distinct 404s within window_s" must not be
# escaped by straddling a bucket boundary, and an out-of-order 404 must not erase the evidence.

def test_distinct_404s_straddling_a_window_boundary_are_caught():
    ip = "11.0.0.46"
    batch = [req(ts=at(598), ip=ip, path="/a", status=404),
             req(ts=at(599), ip=ip, path="/b", status=404),
             req(ts=at(601), ip=ip, path="/c", status=404),
             req(ts=at(602), ip=ip, path="/d", status=404)]  # 4 distinct 404s within 4 s
    _, out = run(SCAN_CFG, batch)
    assert why(out) == [COUNTED] * 3 + [filtered("scanner", "distinct_404>3/600s")]


def test_out_of_order_404_does_not_reset_the_distinct_count():
    ip = "11.0.0.47"
    batch = [req(ts=at(601), ip=ip, path="/a", status=404),
             req(ts=at(602), ip=ip, path="/b", status=404),
             req(ts=at(603), ip=ip, path="/c", status=404),
             req(ts=at(599), ip=ip, path="/x", status=404),   # 4 s out of order (another edge's log)
             req(ts=at(604), ip=ip, path="/d", status=404)]
    _, out = run(SCAN_CFG, batch)
    rule = "distinct_404>3/600s"
    assert why(out) == [COUNTED] * 3 + [filtered("scanner", rule)] * 2


# -- credential_stuffing ------------------------------------------------------------------------------------

CS_CFG = filters(credential_stuffing={"max_failures": 3, "max_attempts": 40, "window_s": 60, "cooldown_s": 900})
RULE_FAIL = "login_failures>3/60s"


def test_failed_logins_beyond_max_failures_flag_the_ip_on_every_route():
    ip = "11.0.0.77"
    batch = [req(ts=at(i), ip=ip, method="POST", path="/login", status=401) for i in range(4)]
    batch += [req(ts=at(5), ip=ip, method="POST", path="/login", status=200),  # the attacker's success
              req(ts=at(6), ip=ip, method="GET", path="/"),
              req(ts=at(7), ip="11.0.0.78", method="POST", path="/login", status=401)]
    _, out = run(CS_CFG, batch)
    assert why(out) == [COUNTED] * 3 + [filtered("credential_stuffing", RULE_FAIL)] * 3 + [COUNTED]
    assert out.flags == [IpFlag(at(3), ip, "credential_stuffing", RULE_FAIL, at(3 + 900))]


def test_credential_stuffing_cooldown_ends():
    p = Pipeline(CS_CFG, collect_verdicts=True)
    first = p.process([req(ts=at(i), ip="11.0.0.77", method="POST", path="/login", status=403) for i in range(4)])
    assert why(first)[3] == filtered("credential_stuffing", RULE_FAIL)
    later = p.process([req(ts=at(903) - 1, ip="11.0.0.77"), req(ts=at(903), ip="11.0.0.77")])
    assert why(later) == [filtered("credential_stuffing", RULE_FAIL), COUNTED]


def test_failed_logins_during_cooldown_extend_it():
    p = Pipeline(CS_CFG, collect_verdicts=True)
    p.process([req(ts=at(i), ip="11.0.0.77", method="POST", path="/login", status=401) for i in range(4)])
    out = p.process([req(ts=at(800), ip="11.0.0.77", method="POST", path="/login", status=401),
                     req(ts=at(1000), ip="11.0.0.77", method="GET", path="/"),
                     req(ts=at(1701), ip="11.0.0.77", method="GET", path="/")])
    assert why(out) == [filtered("credential_stuffing", RULE_FAIL)] * 2 + [COUNTED]
    assert out.flags == []


def test_login_attempts_threshold():
    config = filters(credential_stuffing={"max_failures": 10, "max_attempts": 4, "window_s": 60})
    batch = [req(ts=at(i), ip="11.0.0.79", method="POST", path="/api/login", status=200) for i in range(6)]
    _, out = run(config, batch)
    rule = "login_attempts>4/60s"
    assert why(out) == [COUNTED] * 4 + [filtered("credential_stuffing", rule)] * 2
    assert out.flags == [IpFlag(at(4), "11.0.0.79", "credential_stuffing", rule, at(4 + 900))]


def test_get_login_is_not_a_login_route_by_default():
    batch = [req(ts=at(i), ip="11.0.0.80", method="GET", path="/login", status=401) for i in range(20)]
    _, out = run(CS_CFG, batch)
    assert why(out) == [COUNTED] * 20
    assert out.flags == []


def test_an_ip_with_few_failures_stays_counted():
    batch = []
    for i in range(10):
        batch.append(req(ts=at(i * 5), ip="11.0.0.81", method="POST", path="/login",
                         status=401 if i in (2, 6) else 200))
    _, out = run(Config(), batch)
    assert why(out) == [COUNTED] * 10
    assert out.flags == []


def test_custom_login_routes_and_failure_statuses():
    config = filters(credential_stuffing={"routes": [{"methods": ["PUT"], "paths": ["/session"]}],
                                          "failure_statuses": ["4xx"], "max_failures": 1})
    ip = "11.0.0.82"
    batch = [req(ts=at(1), ip=ip, method="POST", path="/login", status=401),   # not a login route now
             req(ts=at(2), ip=ip, method="POST", path="/login", status=401),
             req(ts=at(3), ip=ip, method="PUT", path="/session", status=422),
             req(ts=at(4), ip=ip, method="PUT", path="/session", status=422)]
    _, out = run(config, batch)
    assert why(out) == [COUNTED] * 3 + [filtered("credential_stuffing", "login_failures>1/60s")]


# -- trusted proxies ------------------------------------------------------------------------------------

PROXY_CFG = cfg(input={"trusted_proxies": ["10.0.0.0/8"]}, filters={"ip_deny": {"deny": ["203.0.113.0/24"]}})


def test_client_ip_comes_from_x_forwarded_for_behind_a_trusted_proxy():
    _, out = run(PROXY_CFG, [req(ip="10.1.1.1", forwarded_for="203.0.113.9, 10.2.2.2")])
    assert why(out) == [filtered("ip_deny", "deny:203.0.113.0/24")]


def test_forwarded_for_from_an_untrusted_peer_is_ignored():
    _, out = run(PROXY_CFG, [req(ip="198.51.100.1", forwarded_for="203.0.113.9")])
    assert why(out) == [COUNTED]


def test_spoofed_leftmost_hop_is_ignored():
    # The client sent "X-Forwarded-For: 203.0.113.9"; our proxy appended the real peer 198.51.100.7.
    _, out = run(PROXY_CFG, [req(ip="10.1.1.1", forwarded_for="203.0.113.9, 198.51.100.7")])
    assert why(out) == [COUNTED]


def test_unparseable_hop_stops_the_walk():
    _, out = run(PROXY_CFG, [req(ip="10.1.1.1", forwarded_for="203.0.113.9, not-an-ip")])
    assert why(out) == [COUNTED]


def test_forwarded_for_ignored_without_trusted_proxies():
    config = filters(ip_deny={"deny": ["203.0.113.0/24"]})
    _, out = run(config, [req(ip="10.1.1.1", forwarded_for="203.0.113.9")])
    assert why(out) == [COUNTED]


def test_behavioural_state_is_keyed_by_the_resolved_client():
    config = cfg(input={"trusted_proxies": ["10.0.0.0/8"]},
                 filters={"rate_limited": {"max_requests": 2, "window_s": 60}})
    batch = [req(ts=at(1), ip="10.1.1.1", forwarded_for="198.51.100.1"),
             req(ts=at(2), ip="10.1.1.1", forwarded_for="198.51.100.2"),
             req(ts=at(3), ip="10.1.1.2", forwarded_for="198.51.100.1"),
             req(ts=at(4), ip="10.1.1.1", forwarded_for="198.51.100.2"),
             req(ts=at(5), ip="10.1.1.2", forwarded_for="198.51.100.1")]
    _, out = run(config, batch)
    assert why(out) == [COUNTED] * 4 + [filtered("rate_limited", "ip_rate>2/60s")]
    assert [(f.client_ip, f.rule) for f in out.flags] == [("198.51.100.1", "ip_rate>2/60s")]


# -- per-IP state bounds -----------------------------------------------------------------------------------

def test_tracked_ips_never_exceed_the_maximum():
    config = cfg(state={"max_tracked_ips": 100})
    p = Pipeline(config)
    sizes = []
    for i in range(1000):
        p.process([req(ts=T0_MS + i * 10, ip=f"11.{i // 250}.{i % 250}.1")])
        sizes.append(len(p.filters.store))
    assert max(sizes) == 100
    assert sizes[:100] == list(range(1, 101))
    assert p.filters.store.evicted == 900
    assert p.tally.counted == 1000


def test_least_recently_touched_ip_is_evicted_first():
    config = cfg(state={"max_tracked_ips": 10}, filters={"scanner": {"cooldown_s": 600}})
    p = Pipeline(config, collect_verdicts=True)
    p.process([req(ts=at(0), ip="11.9.9.9", path="/.env"), req(ts=at(0), ip="11.8.8.8", path="/.env")])
    for i in range(30):
        # 11.9.9.9 keeps coming back (and stays tracked and flagged); 11.8.8.8 goes quiet.
        out = p.process([req(ts=at(1 + i), ip=f"12.0.0.{i}"), req(ts=at(1 + i), ip="11.9.9.9")])
        assert why(out)[1] == filtered("scanner", "probe_path:/.env")
    assert len(p.filters.store) == 10
    out = p.process([req(ts=at(40), ip="11.8.8.8")])
    assert why(out) == [COUNTED]  # its state was evicted, so its cooldown was forgotten


def test_ip_state_expires_by_ttl_in_event_time():
    short = {"window_s": 30, "cooldown_s": 30}
    p = Pipeline(cfg(state={"ip_ttl_s": 60}, filters={"rate_limited": short, "scanner": short,
                                                       "credential_stuffing": short}))
    store = p.filters.store
    p.process([req(ts=at(0), ip="11.0.0.1"), req(ts=at(30), ip="11.0.0.2")])
    assert (len(store), store.evicted) == (2, 0)
    p.process([req(ts=at(60), ip="11.0.0.3")])    # 11.0.0.1 untouched for exactly the TTL: kept
    assert (len(store), store.evicted) == (3, 0)
    p.process([req(ts=at(60) + 1, ip="11.0.0.3")])  # now older than the TTL
    assert (len(store), store.evicted) == (2, 1)
    p.process([req(ts=at(200), ip="11.0.0.4")])
    assert (len(store), store.evicted) == (1, 3)


def test_excluded_requests_do_not_create_ip_state():
    p = Pipeline(Config())
    p.process([req(ts=at(i), ip=f"11.0.0.{i}", path="/healthz") for i in range(5)])
    assert len(p.filters.store) == 0
