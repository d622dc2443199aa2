"""truesli's own user-agent tables: traffic classes, human apps, guards on the maintained lists, scanners.

These are data, kept apart from the logic in :mod:`streams.core.filters.traffic`. Every pattern is RE2
and matched case-insensitively unless it says ``(?-i)``. Each entry is named: the name is what a verdict
shows (``truesli:<name>``), so a user can find and override the entry that dropped a request.

Why each table exists:

- ``HUMAN_APPS``: in-app and messaging browsers and desktop app shells. The maintained lists carry the
  *product* names (WhatsApp, Viber, Slack…) because the products also run link-preview fetchers; the
  fetcher and the human app differ in shape, so the human shape is allowed and the fetcher still drops.
- ``CLASS_PATTERNS``: what the maintained lists miss, and the class of what they catch (a list only says
  "bot"; the class decides whether a journey may keep it).
- ``GUARDS``: list patterns that also hit device models, build ids or version numbers. A guarded list
  pattern only counts when the UA still matches once the guard's text is blanked out.
- ``SCANNER_*``: typo-squatted browser tokens and exploit payloads (the tool names are configuration).
"""

from __future__ import annotations

TRAFFIC_CLASSES = ("crawler", "ai_crawler", "automation", "monitoring", "preview", "feed_reader", "headless",
                   "scanner")

# --- human apps: never dropped (an exploit payload or scanner typo-squat still is) --------------------
HUMAN_APPS: tuple[tuple[str, str], ...] = (
    ("whatsapp-app", r"whatsapp\+?/[\d.]+ (?:android|ios|iphone)/|whatsapp/[\d.]+ .*device/"),
    ("facebook-in-app", r"\[fb(?:an|av|_iab)/|fban/|fbav/|fb_iab/|fbios|fb4a|\bfbsv/"),
    ("instagram-in-app", r"\binstagram [\d.]+ \("),
    ("messenger-apps", r"\b(?:viber|line|kakaotalk|micromessenger|wechat|telegram|snapchat|"
                       r"twitter|linkedinapp|musical_ly|bytedancewebview|tiktok|zalo|outlook-ios|"
                       r"outlook-android|gsa|yjapp|daumapps|discord|qq)/[\d.]+|naver\(inapp|"
                       r"pinterest for (?:android|ios)|\[pinterest/"),
    ("cfnetwork-app", r"^(?:viber|slack|outlook|mail|reeder|readkit|teams|skype|whatsapp)/[\w.]+ cfnetwork/"),
    ("electron-app", r"\b(?:slack|code|trae|discord|teams|notion|obsidian|figma|signal|mattermost|"
                     r"postman|spotify|whatsapp|skype|zoom|msteams|element|insomnia|1password|"
                     r"bitwarden|joplin|typora|hyper|atom)/[\w.-]+ .*\belectron/"),
    ("qt-webengine-app", r"qtwebengine/[\d.]+ chrome/[\d.]+ safari/[\d.]+ \w+"),
    ("office-desktop", r"^microsoft office (?:word|excel|powerpoint|onenote|outlook|access|publisher|"
                       r"visio|project|teams)?/[\d.]+ \((?:windows|mac os|ios|android|desktop)|"
                       r"^microsoft office/[\d.]+ \((?:windows nt|microsoft outlook|macintosh)|"
                       r"^macoutlook/|microsoft outlook|^outlook-express/"),
    ("text-browsers", r"^(?:lynx|links|elinks|w3m|ncsa[_ ]mosaic|vms_mosaic|amigavoyager|voyager|"
                      r"netsurf|dillo|ibrowse|aweb)[/ (]"),
    ("stumbleupon-toolbar", r"\(compatible; msie [\d.]+;.*stumbleupon\.com [\d.]+[;)]|"
                            r"firefox/[\w.]+ stumbleupon/[\d.]+"),
    ("blackboard-app", r"\bblackboard(?:mobile|learn)?/"),
    ("android-webview", r"; wv\) applewebkit/[\d.]+ \(khtml, like gecko\) version/4\.0 chrome/[\d.]+ "
                        r"(?:mobile )?safari/[\d.]+(?: [a-z][\w]*/[\w.]+)*$"),
)

# --- classes: checked in this order; the first hit names the class ------------------------------------
# (class, name, pattern[, "hint"]): an entry marked "hint" never drops a request by itself, it only names
# the class of a request a maintained list already caught.
CLASS_PATTERNS: tuple[tuple, ...] = (
    # AI crawlers and agent fetchers (kept apart: sites often decide about them separately)
    ("ai_crawler", "openai", r"\bgptbot|chatgpt-user|oai-searchbot|openai/"),
    ("ai_crawler", "anthropic", r"claudebot|claude-web|claude-user|claude-searchbot|anthropic-ai|"
                                r"anthropic-claude|claude-code/"),
    ("ai_crawler", "ai-crawlers", r"perplexitybot|perplexity-user|cohere-ai|cohere-command|"
                                  r"cohere-training|ai2bot|diffbot|bytespider|ccbot/|"
                                  r"google-extended|googleother|applebot-extended|meta-externalagent|"
                                  r"meta-externalfetcher|facebookbot|amazonbot|youbot|timpibot|"
                                  r"imagesiftbot|omgili|webzio|character-ai|novaact|mistralai|"
                                  r"duckassistbot|petalbot|kangaroo bot|icc-crawler|panscient|"
                                  r"\bcursor/|githubcopilot|copilot/|phindbot|scrapy|firecrawl|"
                                  r"\bchatglm|deepseekbot|iaskspider|ai-research|\bai[-_ ]?agent"),
    # headless browsers, automation drivers, screenshot and prerender services
    ("headless", "headless", r"headlesschrome|\bheadless\b|phantomjs|slimerjs|htmlunit|puppeteer|"
                             r"playwright|selenium|webdriver|cypress/|nightmare|electron/[\d.]+ safari/"
                             r"[\d.]+ [\w-]*$|prerender|rendertron|webthumbnail|screenshot|"
                             r"page ?speed|lighthouse|chrome-lighthouse|gtmetrix|pagespeed|"
                             r"splash/|zombie\.js|wkhtmlto|\bjsdom/|browserless|urlbox|"
                             r"google-sites-thumbnails|thumbnail|dejaclick|functionize|"
                             r"crawlee|apify"),
    # monitoring: uptime, synthetic checks, health probes from outside
    ("monitoring", "monitoring", r"uptime|pingdom|statuscake|site24x7|monitis|newrelic|new relic|"
                                 r"datadog|dynatrace|ruxit|gomez|catchpoint|keynote|thousandeyes|"
                                 r"route ?53-health|health[- ]?check|healthservice|"
                                 r"\bmonitor(?:ing)?\b|monitor/|-monitor|synthetic|checkly|"
                                 r"freshping|hetrix|nodeping|updown\.io|betteruptime|better stack|"
                                 r"oh dear|ohdear|zabbix|nagios|icinga|xymon|hobbit|munin|collectd|"
                                 r"prometheus|blackbox[ -]exporter|grafana|telegraf|stackdriver|"
                                 r"cloudwatch|elastic-heartbeat|heartbeat/|sslshed|ssl ?checker|"
                                 r"ssllabs|sectigo dcv|cloudflare-(?:diagnostics|smart|traffic)|"
                                 r"cloudflare custom hostname|cloudflarediagnostics|"
                                 r"exchange check|webmon/|pagemonitor|page monitor|watchmouse|"
                                 r"alertsite|site-?shot|isitup|downforeveryone|observu|"
                                 r"link ?checker|linkcheck|broken ?link|w3c_validator|validator|"
                                 r"\bcheck\b|checker|status ?cake|k6/|loadimpact|jmeter|locust|"
                                 r"gatling|\bab/|apachebench|siege/|wrk/|vegeta"),
    # link previews, unfurlers, office and mail fetchers
    ("preview", "preview", r"facebookexternalhit|facebookcatalog|twitterbot|slackbot|slack-imgproxy|"
                           r"linkedinbot|discordbot|telegrambot|whatsapp|viberurldownloader|"
                           r"skypeuripreview|teams|embedly|iframely|unfurl|link ?preview|"
                           r"linkexpander|preview|cardyb|bluesky|mastodon|pleroma|misskey|akkoma|"
                           r"redditbot|pinterest|tumblr|vkshare|snapchat|googleimageproxy|"
                           r"imageproxy|notionembedder|\bembed|opengraph|ogp|metauri|"
                           r"microsoft office (?:existence|protocol) discovery|"
                           r"microsoft office [a-z]+ 20\d\d|microsoft office mobile/|"
                           r"microsoft-webdav|"
                           r"^microsoft office (?:word|excel|powerpoint|onenote)/[\d.]+$|"
                           r"google-pinpoint|google-lens|google-assess|google-read-aloud|"
                           r"googleweblight|google-shopping|google-businesslink|"
                           r"yahoo:linkexpander|scamadviserexternalhit|meta-externalads|"
                           r"externalhit|shareaholic|placid\.app|microlink|peekalink|"
                           r"linkbloom|skype|zoom marketplace|iftt|zapier|braze sender"),
    # feed readers: server-side fetchers are detected; reader and podcast *apps* only name the class
    # of a maintained list's hit (matomo and uap count many of them as people)
    ("feed_reader", "feed-fetchers", r"feedfetcher|feedburner|feedly|feedbin|feedspot|feedvalidator|"
                                     r"newsblur|inoreader|theoldreader|tiny tiny rss|tt-rss|miniflux|"
                                     r"freshrss|windows-rss-platform|apple-pubsub|superfeedr|"
                                     r"feed ?parser|feed ?fetcher|rss ?(?:reader|bot|daemon|fetcher)\b|"
                                     r"\brss\b.*\bcrawler|pubsubhubbub|websub|castopod|"
                                     r"episode duration lookup|librss"),
    ("feed_reader", "feed-apps", r"\brss\b|\bfeed|podcast|netnewswire|newsgator|akregator|liferea|"
                                 r"flipboard|breaker/|newsfox|rssowl|bloglines|feeddemon|feedstation|"
                                 r"\bnews(?:reader|bot|fetcher)|reeder/|readkit/|feeddler|downcast/",
     "hint"),
    # scripted clients: HTTP libraries, SDKs, CLIs, integration platforms
    ("automation", "http-libraries", r"^(?:java/\d|jakarta|apache-httpclient|apache-cxf|okhttp|"
                                     r"go-http-client|go \d|go package http|python|php/|ruby|perl|curl|"
                                     r"wget|libwww|lwp|node|deno/|bun/|axios|got/|got \(|undici|"
                                     r"dart/|rust|reqwest|http_request2|httpie|aiohttp|"
                                     r"httpx|urllib|requests|guzzle|winhttp|wininet|"
                                     r"microsoft-cryptoapi|microsoft bits|microsoft-delivery-optimization|"
                                     r"restsharp|grpc|jersey|vert\.x|reactornetty|"
                                     r"rest-client|faraday|typhoeus|mechanize|libcurl|"
                                     r"cpp-httplib|powershell|k6/|postmanruntime|insomnia/|paw/|"
                                     r"scrapy|colly|nutch|heritrix|httrack|webcopier|webstripper|"
                                     r"teleport pro|offline explorer|aria2|rclone|"
                                     r"aws-sdk-|aws-cli|boto3|botocore|google-api-|google-http-java-client|"
                                     r"azure-|azsdk-|google-cloud-|kiwitcms|matomo/|piwik/|"
                                     r"openai/|anthropic/|stripe/|twilio|sendgrid|hubspot|"
                                     r"zeno$|spark commit|request-promise|wordpress/|drupal/|joomla/)"),
    ("automation", "http-library-tokens", r"(?:^|[\s;(,])(?:java/\d[\d._]+|python-requests/|"
                                          r"python-urllib/|python/\d|okhttp/|aiohttp/|httpx/|libcurl/|"
                                          r"curl/\d|wget/\d|node-fetch/|undici/|axios/|guzzlehttp/|"
                                          r"symfony httpclient|reqwest/|http_request2/|"
                                          r"apache-httpclient/|restsharp/|faraday v|rest-client/|"
                                          r"grpc-[a-z]+/|http\.rb/|powershell/|winhttp|libwww-perl/|"
                                          r"lwp::simple/|www-mechanize/|urlgrabber/|aws-sdk-[a-z]+/|"
                                          r"botocore/|boto3/|google-api-[a-z]+-client/|azsdk-|"
                                          r"microsoft-flow/|logic-apps/|postmanruntime/|go-http-client/)"),
    # crawler shapes: no platform inside "compatible", a bare token after Mozilla, contact addresses
    ("crawler", "bot-shapes", r"^mozilla/\d\.\d \(compatible(?:; ?[^;()]*[a-z][\w-]*/v?[\d.]+[\w.-]*)?"
                              r"(?:; ?(?:\+|https?:|[\w.-]+@|[\w-]+\.[a-z]{2,})[^;()]*)*\)$|"
                              r"^mozilla/5\.0 [\w.-]+(?:/[\w.-]+)?$|^mozilla/\d\.\d \([^()]*@[^()]*\)$|"
                              r"^[\w ]+, mozilla/|\btime/\d{10,}|https?://[^ ;)]*(?:bot|crawl|spider|robot)|"
                              r"pageburst|adsenseinfeed|amazon-kendra|jobhunter|(?-i:^[a-z][a-z0-9_-]*$)"),
)

# Maps a maintained list's verdict to a class when CLASS_PATTERNS named none: the matched text decides.
LIST_HINTS: tuple[tuple[str, str], ...] = (
    ("feed_reader", r"feed|rss|podcast|news"),
    ("monitoring", r"monitor|uptime|check|ping|status|health|watch"),
    ("preview", r"preview|embed|unfurl|externalhit|share|card|thumbnail|link"),
    ("headless", r"headless|phantom|selenium|webdriver|render|screenshot"),
    ("automation", r"^(?:java|python|php|ruby|perl|curl|wget|go |go-|node|okhttp|libwww|lwp|http)|cron|\bjobs?\b|worker|scheduler|"
                   r"http[-_ ]?client|library|sdk|\bapi\b|fetch|download|request|urllib"),
)

# --- guards on the maintained lists --------------------------------------------------------------------
# (list, pattern as the list spells it, guard): the list's hit counts only if the UA still matches the
# list pattern after every match of ``guard`` is blanked. One test per guard (tests/unit/core/filters).
GUARDS: tuple[tuple[str, str, str, str], ...] = (
    # Android build ids: "Build/AP3A.240617.008" is a phone, not a bot.
    ("crawler-user-agents", r"AP3A\.240617\.008", r"build/[\w.]+", "Android build id"),
    ("crawler-user-agents", r"008\/", r"\b[a-z]+\d*008/|\d008/", "model number ending 008"),
    ("crawlerdetect", r"008\/", r"\b[a-z]+\d*008/|\d008/", "model number ending 008"),
    # Phone models named like bots.
    ("crawler-user-agents", r"Butterfly", r"htc[ _]butterfly", "HTC Butterfly phone"),
    ("crawler-user-agents", r"Sonic", r"viewsonic|\bo\+ sonic|sonic(?: ?\w+)? build/", "ViewSonic, O+ Sonic"),
    ("crawler-user-agents", r"Fever", r"fever[_ ]\w+\)", "Fever phone"),
    ("crawler-user-agents", r"Sogou", r"sogoumse|sogoumobilebrowser|sogoubrowser|sogousearch/", "Sogou browsers"),
    ("crawlerdetect", r"Yandex(?!Search)", r"yabrowser|yandexsearch|yasearchbrowser|yandex/[\d.]+ \(|com\.yandex\.|ru\.yandex\.|"
     r"yandexstation|yandex\.music",
     "Yandex browsers"),
    ("crawlerdetect", r"speedy", r"speedy[ _]?\d|smart[ _]4g[ _]speedy", "Speedy phones"),
    ("crawlerdetect", r"Buddy", r"ibuddy", "iBuddy phone"),
    ("crawlerdetect", r"Snake", r"moonsnake", "Moonsnake browser"),
    ("crawlerdetect", r"Seeker", r"sureseeker\.com\)", "toolbar token"),
    ("crawlerdetect", r"PeoplePal", r"peoplepal [\d.]+\)", "toolbar token"),
    ("crawlerdetect", r"Word\/", r"\d word/", "game names ('4 Pics 1 Word/')"),
    ("crawlerdetect", r"Turingos", r"turingos", "TuringOS phone"),
    ("crawlerdetect", r"LibWeb", r"libweb\+libjs/[\d.]+ ladybird", "Ladybird browser"),
    ("crawlerdetect", r"Fetch\/[0-9]", r"mozacfetch/", "Firefox for Android fetch"),
    ("crawler-user-agents", r"Fetch\/", r"mozacfetch/", "Firefox for Android fetch"),
    # device names "XBot", "VR BOT" inside the platform parentheses of a browser UA
    ("crawlerdetect",
     r"[a-z0-9\-_]*(bot|crawl|headless|archiver|transcoder|spider|uptime|validator|fetcher|cron|checker|reader|extractor|monitoring|analyzer|scraper)",
     r"\((?:linux|[^()]*android)[^()]*\)|\bcronet\b|\b(?:good|victor|omea|oyo|bacon|j\. river internet|"
     r"kindle|comic|pdf|e-?book|news)[ _]?reader\w*|\breadera\b|\bsmartreader",
     "device and reader-app names"),
)

# --- scanners --------------------------------------------------------------------------------------------
# Attack tools: the list is configuration (``filters.scanner.user_agents``, streams/config/sli.py).
# Browser tokens misspelt by scanner kits (real browsers never misspell their own UA).
SCANNER_TYPOS = (
    r"\bmozlila/", r"\bmozila/", r"\bmozilla/\d+\.\d+\s*\(\s*\)", r"\bmoblie\b", r"\bbulid/",
    r"\bmozlla/", r"\bmozillla/", r"\bmozilliqa", r"\bgecko/geckotrail",
    r"\bchorme/", r"\bsafar/", r"\bwindwos\b", r"\bwindos\b", r"\bandriod\b", r"\bkhtml like gecko\) chrome/\d+\.\d+\.\d+\.\d+ safari/\d+\.\d+ [a-z]+$",
)

# Exploit payloads: JNDI/log4shell, template and code injection, SQL and shell metacharacters.
SCANNER_PAYLOADS = (
    r"\$\{(?:jndi|env|sys|java|lower|upper|::-)", r"\$\{\{|\{\{[^}]*\}\}", r"<\?(?:php|=)", r"<script",
    r"\bunion\b.{0,20}\bselect\b", r"\bselect\b.{0,40}\bfrom\b", r"load_file\(", r"\bsleep\(\d", r"benchmark\(",
    r"'\s*(?:or|and)\s*'?\d", r"'\+\(select", r"\bwaitfor delay\b", r"\bxp_cmdshell\b", r"\(\)\s*\{\s*:;\s*\}",
    r"(?-i:(?:;|&&|\|\|?)\s*(?:wget|curl|bash|sh|nc|cat|echo|rm|chmod|busybox)\s+[-\w./:$]+)", r"`[^`]+`", r"\$\((?:[a-z]+)",
    r"/etc/passwd", r"\.\./\.\./", r"%0a|%0d|\r|\n", r"\bphpinfo\(",
)

# --- shape ----------------------------------------------------------------------------------------------
# A person's client names a platform, an engine or a device: an OS, a browser engine, a phone vendor or a
# feature-phone profile. A UA with none of these ("Zeno", "node", "Report Runner") is a script.
BROWSER_SHAPE = (
    r"windows|win(?:32|64|9[58x]|nt|ce)|macintosh|mac ?os|mac_powerpc|darwin|cfnetwork|iphone|ipad|ipod|"
    r"\bios\b|android|linux|x11|\bcros\b|bsd|sunos|solaris|\bhp-?ux|\baix\b|irix|os/2|amiga|morphos|haiku|"
    r"beos|risc ?os|openvms|ecomstation|blackberry|\bbb10\b|symbian|series ?[46]0|\bs60\b|midp|cldc|j2me|"
    r"\bwap|up\.browser|netfront|obigo|teleca|docomo|kddi|vodafone|softbank|nintendo|playstation|xbox|"
    r"smart-?tv|tizen|web0s|webos|kaios|roku|appletv|tvos|watch ?os|hbbtv|kindle|silk|bada|brew|palm|"
    r"mozilla|opera|gecko|webkit|trident|presto|khtml|dalvik|ucbrowser|ucweb|mqqbrowser|"
    r"\b(?:samsung|nokia|sonyericsson|sony|lge?|htc|motorola|mot|huawei|zte|alcatel|sharp|sanyo|"
    r"panasonic|philips|sagem|siemens|sie|benq|pantech|amoi|lenovo|asus|archos|bird|vizio|amazon|"
    r"tcl|hisense|xiaomi|oppo|vivo|realme|oneplus|nexus|pixel|gt-[a-z]?\d|sm-[a-z]?\d)[-_ /;.]?|"
    r"\bqt\b|electron|vlc|libvlc|kodi|lavf|applecoremedia|stagefright|exoplayer|"
    r"lynx|links \(|elinks|w3m|mosaic|contiki|mozac|"
    # media, podcast and device clients a person drives (matomo's mediaplayer and podcast fixtures)
    r"pod|cast|player|music|radio|audio|tune|spotify|sonos|garmin|watch|galaxy|stream|\bfm\b|mpv|"
    r"amarok|rhythmbox|foobar|musicbee|zune|quicktime|nsplayer|airplay|gstreamer|libsoup|bose|"
    r"torrent|downloader|\bbrowser\b|\.browser|acer|audiovox|haier|kwc-|kyocera|lumia|sprint|"
    r"\bspice\b|nexian|\bfly-|citrix|the bat!|aplix|hotjava|\bice\b|xiino|nook"
)
