"""Probe paths: requests for files and endpoints a scanner looks for, at any depth, after normalisation.

Contract: :meth:`ProbeMatcher.rule` is a pure function of (path, status) returning the rule name
(``probe_path:<rule>``) or None; it is cached per distinct path (bounded) because the rule list is long
and paths repeat. ``status`` only matters for the site-profile rule of unknown script extensions.

Normalisation before matching, so that encodings and tricks do not hide a probe: lowercase, percent-
decoding (twice: ``%252e`` is a double-encoded dot), backslashes as slashes, ``;params`` and ``..;/``
(Tomcat path parameters) removed, ``//`` collapsed, ``/./`` dropped. The query string was already cut by
the decoder.

Rules:

- *segments*: a path segment equal to one of these, at any depth (``/blog/wp-admin/`` as much as
  ``/wp-admin/``): dot-files and VCS folders, admin consoles, CMS install and exploit paths;
- *names*: a last segment equal to one of these (``phpinfo.php``, ``wp-config.php.bak``…);
- *suffixes*: backup, dump, archive and key files (``.sql``, ``.bak``, ``.zip`` of a site…);
- *fragments*: substrings that never occur in a real URL (``/etc/passwd``, ``invokefunction``…);
- *site profile*: ``site.serves_php: false`` makes every ``.php`` a probe (likewise ``.asp``/``.aspx``,
  ``.jsp``, ``.cgi``/``.pl``); when unknown (the default) a script of that kind answered 403/404/410 is
  a probe — a site that runs no such scripts answers nothing else to them;
- the configured ``scanner.probe_paths``, matched as a path prefix at any segment boundary.
"""

from __future__ import annotations

from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc

from streams.core.regex import compile_re2

_CACHE_LIMIT = 100_000
_SCREEN_MIN = 256  # new paths at once from which one regex pass over them beats the rules (its compile: ~0.7 ms)

PROBE_SEGMENTS = (
    ".env", ".git", ".svn", ".hg", ".bzr", ".aws", ".ssh", ".docker", ".kube", ".vscode", ".idea",
    ".ds_store", ".htaccess", ".htpasswd", ".npmrc", ".travis.yml", ".gitlab-ci.yml", ".circleci", ".well-known/security.txt~",
    "wp-admin", "wp-login.php", "xmlrpc.php", "wp-config.php", "wp-includes/wlwmanifest.xml",
    "phpmyadmin", "pma", "myadmin", "mysqladmin", "phpmyadmin2", "dbadmin", "sqladmin", "adminer.php",
    "cgi-bin", "fckeditor", "ckfinder", "kcfinder", "elfinder", "filemanager", "webdav", "vendor/phpunit",
    "phpunit", "eval-stdin.php", "boaform", "hnap1", "server-status", "server-info", "jmx-console",
    "web-console", "invoker", "manager/html", "solr/admin", "actuator", "telescope", "_ignition",
    "owa/auth", "autodiscover", "ecp", "remote/login", "dana-na", "+cscoe+", "vpn", "geoserver",
    "console", "setup.php", "install.php", "installer.php", "config", "configuration.php", "credentials",
    "plus", "dede", "uploads/dede", "data/admin", "thinkphp", "think", "jenkins", "struts", "axis2",
    "shell", "webshell", "c99.php", "r57.php", "wso.php", "alfa.php", "backup", "backups", "bak", "old",
    "dump", "dumps", "sql", "db", "database", "restore", "wordpress", "wp", "cms", "joomla", "drupal",
    "magento", "typo3", "cpanel", "whm", "plesk", "webmail", "roundcube", "squirrelmail", "horde",
)
# Segments above that are ordinary on many sites count only as a *prefix* of a probe file request, i.e.
# when the last segment is a script, dump or dot-file, or when they are followed by another probe rule.
_WEAK_SEGMENTS = frozenset((
    "console", "config", "credentials", "plus", "backup", "backups", "bak", "old", "dump", "dumps", "sql",
    "db", "database", "restore", "wordpress", "wp", "cms", "joomla", "drupal", "magento", "typo3", "vpn",
    "ecp", "webmail", "shell", "think", "dede", "webdav", "filemanager", "actuator", "telescope",
    "autodiscover", "invoker", "roundcube", "horde", "squirrelmail", "cpanel", "whm", "plesk", "jenkins",
    "geoserver", "struts", "axis2", "pma", "myadmin", "installer.php", "install.php", "setup.php",
))
PROBE_NAMES = (
    "phpinfo.php", "info.php", "php.php", "test.php", "i.php", "x.php", "wp-config.php.bak", "wp-config.bak",
    "config.php", "config.inc.php", "config.json", "config.yml", "config.yaml", "settings.php", "shell.php",
    "cmd.php", "up.php", "upload.php", "uploader.php", "sftp-config.json", "web.config", "id_rsa",
    "id_dsa", "authorized_keys", "passwd", "shadow", "composer.json", "composer.lock", "package.json",
    "docker-compose.yml", "dockerfile", "database.yml", "secrets.yml", "credentials.json", "appsettings.json",
    "global.asa", "php.ini", ".user.ini", "server.key", "privatekey.pem", "wallet.dat", "debug.log",
    "error_log", "access.log", "error.log", "readme.html", "license.txt", "wlwmanifest.xml", "setup-config.php",
)
# Backup, dump and key files: a probe wherever they are.
PROBE_SUFFIXES = (
    ".sql", ".sql.gz", ".sql.zip", ".sql.bz2", ".dump", ".bak", ".backup", ".old", ".orig", ".save", ".swp",
    "~", ".pem", ".key", ".ppk", ".pfx", ".p12", ".kdbx", ".mdb", ".sqlite", ".sqlite3", ".env",
)
# Archives and logs: ordinary deep in a site (``/downloads/tool-1.2.zip``), a probe at its root
# (``/backup.zip``, ``/www.tar.gz``, ``/error.log``) where scanners guess them.
ROOT_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".rar", ".7z", ".zip", ".gz", ".bz2", ".log", ".ini", ".conf",
                 ".cfg", ".db", ".tmp")
PROBE_FRAGMENTS = (
    "/etc/passwd", "/etc/shadow", "/proc/self", "win.ini", "boot.ini", "invokefunction", "call_user_func",
    "allow_url_include", "auto_prepend_file", "php://input", "php://filter", "data://", "expect://",
    "base64_decode", "${jndi:", "<script", "union select", "union all select", "../..",
    "/.%2e/", "cmd=", "die(md5", "md5(", "onerror=", "javascript:", "xdebug_session_start", "index.php/module",
    "think\\app", "vendor/phpunit",
)
_SCRIPT_EXTS = {"php": (".php", ".php3", ".php4", ".php5", ".php7", ".phtml", ".phar"),
                "asp": (".asp", ".aspx", ".ashx", ".asmx", ".axd"),
                "jsp": (".jsp", ".jspx", ".do", ".action"),
                "cgi": (".cgi", ".pl")}
PROBE_STATUSES = frozenset((403, 404, 410))
_PROBE_STATUSES = PROBE_STATUSES


def normalize_path(path: str) -> str:
    """The path as a probe rule sees it (see the module docstring)."""
    p = path
    for _ in range(2):
        if "%" not in p:
            break
        p = unquote(p, errors="replace")
    p = p.lower().replace("\\", "/")
    if ";" in p:
        p = "/".join(seg.split(";", 1)[0] for seg in p.split("/"))
    while "//" in p:
        p = p.replace("//", "/")
    if "/./" in p:
        p = p.replace("/./", "/")
    return p


class ProbeMatcher:
    """Built once per pipeline from the scanner config and the site profile."""

    __slots__ = ("_segments", "_weak", "_names", "_suffix_rx", "_fragment_rx", "_fragments", "_prefixes",
                 "_always", "_when_missing", "_cache", "_builtin", "_clear", "suspect_pattern")

    def __init__(self, probe_paths: tuple[str, ...] = (), *, builtin: bool = True,
                 serves: dict[str, bool | None] | None = None) -> None:
        self._builtin = builtin
        self._segments = frozenset(PROBE_SEGMENTS) if builtin else frozenset()
        self._weak = _WEAK_SEGMENTS
        self._names = frozenset(PROBE_NAMES) if builtin else frozenset()
        self._fragments = PROBE_FRAGMENTS if builtin else ()
        self._fragment_rx = (compile_re2("|".join(_re_escape(f) for f in PROBE_FRAGMENTS))
                             if builtin else None)
        self._suffix_rx = (compile_re2("(?:" + "|".join(_re_escape(s) for s in PROBE_SUFFIXES) + ")$")
                           if builtin else None)
        self._prefixes = tuple((normalize_path(p).rstrip("/"), p.lower()) for p in probe_paths if p.strip("/"))
        serves = serves or {}
        always: list[str] = []
        missing: list[str] = []
        for kind, exts in _SCRIPT_EXTS.items():
            flag = serves.get(kind)
            if flag is False:
                always.extend(exts)
            elif flag is None and builtin:
                missing.extend(exts)
        self._always = tuple(always)
        self._when_missing = tuple(missing)
        self._cache: dict[tuple[str, bool], str | None] = {}
        self._clear: tuple[dict[str, bool], dict[str, bool]] = ({}, {})  # per missing: path → no rule
        self.suspect_pattern = self._suspect_pattern()

    def _suspect_pattern(self) -> str:
        """An RE2 pattern (matched case-insensitively, anywhere) that every path with a rule matches, for
        either kind of status: :meth:`clear_of_rules` runs the rules only on the new paths that match it.

        A superset, never a guess: a path that normalisation could change (``%``, ``\\``, ``;``, ``//``,
        ``/./``, any non-ASCII character — Python's ``lower`` maps some of those to ASCII) is a suspect;
        otherwise the normalised path is the lowercased path and each rule is a bounded substring test on it
        — a segment (weak ones too) bounded by ``/`` or the ends, a name or a suffix at the end (trailing
        slashes allowed: empty segments are dropped), a fragment or configured prefix anywhere, a dot-file
        last segment."""
        alts = [r"[^\x00-\x7f]", "%", r"\\", ";", "//", r"/\./"]
        alts += [_re_escape(prefix) for prefix, _ in self._prefixes]
        ends: list[str] = list(self._always) + list(self._when_missing)
        if self._builtin:
            alts += [_re_escape(f) for f in self._fragments]
            alts.append("(?:^|/)(?:" + "|".join(_re_escape(s) for s in sorted(self._segments)) + ")(?:/|$)")
            alts.append("(?:^|/)(?:" + "|".join(_re_escape(s) for s in sorted(self._names)) + ")/*$")
            alts.append(r"(?:^|/)\.[^/]*/*$")
            ends += list(PROBE_SUFFIXES) + list(ROOT_SUFFIXES)
        if ends:
            alts.append("(?:" + "|".join(_re_escape(e) for e in ends) + ")/*$")
        return "|".join(alts)

    def clear_of_rules(self, paths: list[str], missing: bool) -> list[bool]:
        """Per path: whether ``rule(path, status)`` is None for a status that is (``missing``) or is not
        one of PROBE_STATUSES — the batch core's quiet test over a batch's distinct paths. Remembered per
        path (bounded like the rule cache), so a path seen before costs one C-level dict lookup. When many
        are new (a busy site's ids in paths), one Arrow pass of :attr:`suspect_pattern` over them clears
        most without running the rules: ~0.7 µs a path and ~0.7 ms to compile, against ~4.3 µs a path
        for the rules (docs/benchmarks.md)."""
        memo, other = self._clear[missing], self._clear[not missing]
        got = list(map(memo.get, paths))
        if None in got:
            todo = [i for i, v in enumerate(got) if v is None]
            suspect = self._suspects([paths[i] for i in todo]) if len(todo) >= _SCREEN_MIN else None
            if len(memo) + len(todo) > _CACHE_LIMIT or len(other) + len(todo) > _CACHE_LIMIT:
                memo.clear()
                other.clear()
            for k, i in enumerate(todo):
                path = paths[i]
                if suspect is not None and not suspect[k]:
                    memo[path] = other[path] = got[i] = True
                    continue
                plain, when_missing = self._clear_both(path)
                v = got[i] = when_missing if missing else plain
                memo[path] = v
                other[path] = plain if missing else when_missing
        return got

    def _clear_both(self, path: str) -> tuple[bool, bool]:
        """(no rule for a status not in PROBE_STATUSES, no rule for one in it) from one pass of the rules:
        only :meth:`_missing_rule` depends on the status, and :meth:`_classify` asks it only when nothing
        else matched."""
        norm = normalize_path(path)
        if self._classify(norm, False) is not None:
            return False, False
        if not self._when_missing:
            return True, True
        segs = _segments_of(norm)
        return True, self._missing_rule(segs[-1] if segs else "") is None

    def _suspects(self, paths: list[str]) -> list[bool]:
        """Per path: whether :attr:`suspect_pattern` matches it."""
        arr = pa.array(paths, pa.string())
        return pc.match_substring_regex(arr, self.suspect_pattern, ignore_case=True).to_pylist()

    def rule(self, path: str, status: int | None) -> str | None:
        """``probe_path:<rule>`` for a probe, else None."""
        missing = status in _PROBE_STATUSES
        if self._clear[missing].get(path):  # the batch core's quiet test already cleared it
            return None
        key = (path, missing)
        rule = self._cache.get(key, 0)
        if rule == 0:
            rule = self._classify(normalize_path(path), missing)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = rule
        return rule

    def _classify(self, p: str, missing: bool) -> str | None:
        for prefix, name in self._prefixes:
            i = p.find(prefix)
            while i >= 0:
                end = i + len(prefix)
                if (i == 0 or p[i - 1] == "/" or prefix.startswith("/")) and (
                        end == len(p) or p[end] in "/." or prefix.endswith("/")):
                    return f"probe_path:{name}"
                i = p.find(prefix, i + 1)
        if not self._builtin and not self._always:
            return None
        segs = _segments_of(p)
        last = segs[-1] if segs else ""
        if self._builtin:
            if self._fragment_rx is not None and self._fragment_rx.search(p):
                frag = next(f for f in self._fragments if f in p)
                return f"probe_path:*{frag}*"
            if last in self._names:
                return f"probe_path:{last}"
            strong_file = bool(last) and last.endswith(PROBE_SUFFIXES)
            for i, seg in enumerate(segs):
                two = f"{seg}/{segs[i + 1]}" if i + 1 < len(segs) else None
                if two is not None and two in self._segments:
                    return f"probe_path:/{two}/"
                if seg in self._segments:
                    if seg not in self._weak:
                        return f"probe_path:/{seg}/"
                    # an ordinary-sounding folder holding a script, a dump or a dot-file
                    if i < len(segs) - 1 and (strong_file or last.endswith(_ALL_SCRIPTS) or last.startswith(".")):
                        return f"probe_path:/{seg}/"
            if strong_file:
                return f"probe_path:*{_suffix_of(last)}"
            if len(segs) == 1 and last.endswith(ROOT_SUFFIXES):
                return f"probe_path:/*{_suffix_of(last)}"
            if last.startswith(".") and len(last) > 1 and last != ".well-known":
                return "probe_path:dot-file"
        if self._always and last.endswith(self._always):
            return f"probe_path:*{_suffix_of(last)}(site serves none)"
        return self._missing_rule(last) if missing else None

    def _missing_rule(self, last: str) -> str | None:
        """The one rule that depends on the status, asked last (for a status in PROBE_STATUSES): a script
        of a kind the site may not run, by its last path segment ``last``."""
        if self._when_missing and last.endswith(self._when_missing):
            return f"probe_path:*{_suffix_of(last)}+missing"
        return None


_ALL_SCRIPTS = tuple(e for exts in _SCRIPT_EXTS.values() for e in exts)


def _segments_of(p: str) -> list[str]:
    """The non-empty segments of a normalised path (``//`` and a trailing ``/`` leave none)."""
    return [s for s in p.split("/") if s]


def _suffix_of(name: str) -> str:
    for s in sorted(PROBE_SUFFIXES + ROOT_SUFFIXES + _ALL_SCRIPTS, key=len, reverse=True):
        if name.endswith(s):
            return s
    return name[name.rfind("."):]


def _re_escape(text: str) -> str:
    return "".join("\\" + c if not c.isalnum() and c not in " _" else c for c in text)
