"""The generator's fixed tables: hosts, user agents of each traffic kind, client address pools, paths and
label weights. Data only; streams/tools/gen.py turns it into labelled traffic (changing a table changes
every generated mix, so the truth tests' expected figures move with it)."""

from __future__ import annotations


HOST = "shop.example.com"
CGNAT_IP = "100.64.12.34"
DEFAULT_START_MS = 1767225600000  # 2026-01-01T00:00:00Z
JITTER_MS = 2000
EVENTS_PER_MINUTE = 2000
BURST_LENGTH_MS = 5 * 60 * 1000
CGNAT_SHARE = 0.03
CGNAT_MAX_AVG_PER_MIN = 30

TRUTH_LATENCY_THRESHOLDS_MS: dict[str, int] = {
    "checkout": 800,
    "login": 300,
    "search": 500,
    "browse": 400,
}
TRUTH_JOURNEYS = ("checkout", "login", "search", "browse")

LABELS = (
    "real_user",
    "crawler",
    "scanner",
    "credential_stuffing",
    "edge_rate_limited",
    "health_check",
    "background_job",
    "synthetic",
)
# label index constants (order of LABELS)
_REAL, _CRAWL, _SCAN, _STUFF, _RL, _HEALTH, _BG, _SYN = range(8)

# shares within the non-real traffic (sum 100)
_NONREAL_WEIGHTS = {
    _CRAWL: 80,
    _HEALTH: 6,
    _BG: 3,
    _SYN: 2,
    _RL: 4,
    _SCAN: 3,
    _STUFF: 2,
}

# real-user journeys: (name, share, 5xx rate)
_J_BROWSE, _J_SEARCH, _J_LOGIN, _J_CHECKOUT, _J_ASSETS = range(5)
_JOURNEY_NAMES = ("browse", "search", "login", "checkout", "assets")
_JOURNEY_SHARES = (0.45, 0.15, 0.12, 0.10, 0.18)
_JOURNEY_ERR = (0.010, 0.005, 0.010, 0.020, 0.002)
_LOGIN_401 = 0.03
_5XX = (500, 502, 503)

BROWSER_UAS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.6167.101 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.210 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:122.0) Gecko/20100101 Firefox/122.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.2210.115",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
)

# (UA, weight, IP /24 prefixes it crawls from)
_CRAWLER_SPECS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 14, ("66.249.66", "66.249.68")),
    ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 12, ("66.249.79",)),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 12, ("40.77.167", "157.55.39", "207.46.13")),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 10, ("54.36.148", "54.36.149")),
    ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", 9, ("85.208.96", "185.191.171")),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", 7, ("20.171.207",)),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", 6, ("160.79.104",)),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 5, ("31.13.115", "69.171.249")),
    ("python-requests/2.31.0", 5, ("34.141.22", "35.204.11")),
    ("Go-http-client/1.1", 4, ("18.208.54", "3.91.170")),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", 3, ("5.255.231",)),
    ("Mozilla/5.0 (compatible; Applebot/0.1; +http://www.apple.com/go/applebot)", 3, ("17.241.75",)),
    ("Mozilla/5.0 (compatible; Bytespider; spider-feedback@bytedance.com)", 3, ("110.249.201",)),
    ("Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; help@moz.com)", 2, ("216.244.66",)),
    ("Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)", 2, ("114.119.145",)),
    ("Mozilla/5.0 (compatible; Amazonbot/0.1; +https://developer.amazon.com/support/amazonbot)", 2, ("52.70.240",)),
    ("Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", 1, ("46.4.89",)),
    ("curl/8.4.0", 1, ("13.48.211",)),
    ("Scrapy/2.11.0 (+https://scrapy.org)", 1, ("47.76.99",)),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36", 1, ("44.201.13",)),
)
CRAWLER_UAS: tuple[str, ...] = tuple(s[0] for s in _CRAWLER_SPECS)

_SCANNER_TOOL_UAS = (
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.0 (compatible; Nikto/2.5.0)",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
)
_SCANNER_TOOL_IPS = ("91.92.240.17", "91.92.241.3", "91.92.245.120")
_SCANNER_TOOL_PATHS = (
    ("/search?q=1%27%20OR%20%271%27%3D%271", 200),
    ("/products/1%20UNION%20SELECT%20NULL--", 404),
    ("/login?redirect=..%2F..%2F..%2Fetc%2Fpasswd", 400),
    ("/admin", 404),
    ("/admin/config.php", 404),
    ("/server-status", 403),
    ("/.DS_Store", 404),
    ("/config.php.bak", 404),
    ("/api/v1/users?id=1%27", 404),
    ("/?s=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 200),
    ("/actuator/env", 404),
    ("/backup.zip", 404),
    ("/WEB-INF/web.xml", 404),
    ("/console", 404),
)
_SCANNER_PROBE_IPS = ("185.220.101.12", "185.220.101.34", "185.220.101.45", "185.220.101.56")
_SCANNER_PROBE_PATHS = (
    "/.env",
    "/wp-login.php",
    "/phpmyadmin/index.php",
    "/.git/config",
    "/cgi-bin/test.cgi",
    "/wp-admin/setup.php",
)
_SCANNER_ENUM_IP = "185.220.101.77"

_STUFFING_IPS = ("203.0.113.7", "203.0.113.23", "203.0.113.89", "203.0.113.150")
_HEALTH_UA = "kube-probe/1.29"
_HEALTH_IPS = tuple(f"10.0.{n}.{h}" for n, h in ((1, 11), (1, 12), (2, 21), (2, 22), (3, 31), (3, 32)))
_BG_UA = "acme-cron/2.3"
_BG_IPS = ("10.1.4.20", "10.1.4.21")
_BG_PATHS = ("/internal/jobs/reindex", "/internal/jobs/send-emails")
_SYN_DD_UA = "Datadog/Synthetics"
_SYN_DD_IPS = ("3.233.144.201", "3.233.144.202", "3.233.144.203")
_SYN_FLAG_IPS = ("34.82.77.10", "34.82.77.11")
_SYN_PATHS = ("/", "/search?q=probe")

# first octets that real-user addresses never use (reserved / private or used
# by non-user pools above)
_RESERVED_OCTETS = frozenset(
    {10, 100, 127, 169, 172, 192, 198, 203, 185}
    | {int(p.split(".")[0]) for s in _CRAWLER_SPECS for p in s[2]}
    | {3, 34, 35, 45, 91}
)

_CATEGORIES = (
    "shoes", "jackets", "shirts", "trousers", "dresses", "bags", "hats",
    "watches", "sunglasses", "socks", "outdoor", "kids", "sale", "new-in",
    "accessories", "sportswear",
)
_SEARCH_WORDS = (
    "red+shoes", "winter+jacket", "linen+shirt", "running", "sneakers",
    "rain+coat", "wool+socks", "gift", "backpack", "sale", "leather+bag",
    "sunglasses", "hoodie", "jeans", "boots", "scarf", "watch", "dress",
    "swimwear", "yoga+pants", "cap", "gloves", "belt", "wallet",
)
_CSS_NAMES = ("main", "vendor", "checkout", "theme", "print")
_JS_HASHES = ("3f9a2c1b", "8d41e0a7", "c07b55e2")
