"""Probe paths (streams/core/filters/probes.py): any depth, normalised, site profile."""

from __future__ import annotations

import pytest

from streams.config import Config
from streams.core.filters.probes import ProbeMatcher, normalize_path
from tests.unit.helpers import at, cfg, req, run, why

DEFAULT = ProbeMatcher(Config().filters.scanner.probe_paths, serves=Config().site.serves())


@pytest.mark.parametrize("path, status, rule", [
    ("/blog/wp-admin/", 200, "probe_path:/wp-admin"),          # configured prefix, at any depth
    ("/wordpress/wp-admin/install.php", 404, "probe_path:/wp-admin"),
    ("/backups/.env", 404, "probe_path:/.env"),
    ("/restore/.env", 200, "probe_path:/.env"),
    ("/x//.git/config", 403, "probe_path:/.git/"),
    ("/site.sql", 404, "probe_path:*.sql"),
    ("/db/dump.sql.gz", 404, "probe_path:/db/"),               # an ordinary folder holding a dump
    ("/backup.zip", 404, "probe_path:/*.zip"),
    ("/info/phpinfo.php", 200, "probe_path:phpinfo.php"),
    ("/cgi-bin/luci", 404, "probe_path:/cgi-bin/"),
    ("/plus/90sec.php", 404, "probe_path:/plus/"),
    ("/uploads/dede/login.php", 404, "probe_path:/uploads/dede/"),
    ("/index.php/module/action/param1/${@phpinfo()}", 404, "probe_path:*index.php/module*"),
    ("/geju.php", 404, "probe_path:*.php+missing"),            # an unknown site answering 404 to a script
    ("/A/%2e%2e;/WP-ADMIN", 200, "probe_path:/wp-admin"),      # %2e, ..;/ and case normalised
    ("/%252egit/HEAD", 404, "probe_path:/.git/"),              # double-encoded
])
def test_probe_paths(path: str, status: int, rule: str) -> None:
    assert DEFAULT.rule(path, status) == rule


@pytest.mark.parametrize("path, status", [
    ("/", 200), ("/products/shoes", 200), ("/downloads/tool-1.2.zip", 200), ("/static/app.css", 200),
    ("/.well-known/security.txt", 200), ("/index.php", 200), ("/wp-content/plugins/revslider/rs6.css", 200),
    ("/blog/backup-strategies", 200), ("/config", 200),
])
def test_ordinary_paths_are_not_probes(path: str, status: int) -> None:
    assert DEFAULT.rule(path, status) is None


def test_clear_of_rules_answers_rule_is_none_per_path_for_both_status_kinds() -> None:
    """The batch core's quiet test: per path, rule(path, status) is None, for a missing status (403, 404,
    410) and for any other — the same answers on a second call (remembered) and for a fresh matcher."""
    paths = ["/geju.php", "/products/shoes", "/backups/.env", "/index.php", "/A/%2e%2e;/WP-ADMIN", "/",
             "/geju.php"]
    m = ProbeMatcher(Config().filters.scanner.probe_paths, serves=Config().site.serves())
    for _ in range(2):
        assert m.clear_of_rules(paths, False) == [True, True, False, True, False, True, True]
        assert m.clear_of_rules(paths, True) == [False, True, False, False, False, True, False]
    for missing, status in ((False, 200), (True, 404)):
        assert m.clear_of_rules(paths, missing) == [DEFAULT.rule(x, status) is None for x in paths]


def test_site_profile_without_php_makes_every_php_a_probe() -> None:
    m = ProbeMatcher((), serves=cfg(site={"serves_php": False}).site.serves())
    assert m.rule("/index.php", 200) == "probe_path:*.php(site serves none)"
    assert m.rule("/default.aspx", 404) == "probe_path:*.aspx+missing"
    on = ProbeMatcher((), serves=cfg(site={"serves_php": True, "serves_asp": False}).site.serves())
    assert (on.rule("/geju.php", 404), on.rule("/default.aspx", 200)) == (None, "probe_path:*.aspx(site serves none)")


def test_normalisation() -> None:
    assert normalize_path("/A//B/./c;jsessionid=1/..;/%2E%2Eenv") == "/a/b/c/../..env"


def test_empty_user_agent_on_a_404_is_a_probe() -> None:
    batch = [req(ts=at(1), ip="11.0.0.7", ua="-", path="/sitemap.xml", status=404),
             req(ts=at(2), ip="11.0.0.8", ua="-", path="/", status=200)]
    _, out = run(Config(), batch)
    assert why(out) == [("filtered", "scanner", "empty_user_agent+404"), ("counted", None, "journeys[0]")]


# -- the suspect pattern: the batch core asks the rules only about paths it matches ---------------------

from pathlib import Path  # noqa: E402

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from streams.core.filters import probes as probes_mod  # noqa: E402

_SHARED_LOGS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "logs"
_MATCHERS = (
    DEFAULT,
    ProbeMatcher(("/Secret-Admin/", "/internal/api"), serves={"php": False, "asp": None, "jsp": True}),
    ProbeMatcher(("/only-this",), builtin=False),
    ProbeMatcher((), builtin=False, serves={"cgi": False}),
)


def _suspects(m: ProbeMatcher, paths: list[str]) -> list[bool]:
    return pc.match_substring_regex(pa.array(paths, pa.string()), m.suspect_pattern, ignore_case=True).to_pylist()


def _assert_superset(paths: list[str]) -> None:
    """No path the pattern lets through has a rule — the rules themselves (``_classify``) are the oracle:
    ``rule`` consults the pattern first."""
    for m in _MATCHERS:
        for path, suspect in zip(paths, _suspects(m, paths)):
            if not suspect:
                p = normalize_path(path)
                assert m._classify(p, True) is None and m._classify(p, False) is None, (path, m.suspect_pattern[:80])


_TOKENS = sorted({*probes_mod.PROBE_SEGMENTS, *probes_mod.PROBE_NAMES, *probes_mod.PROBE_FRAGMENTS,
                  *("x" + s for s in probes_mod.PROBE_SUFFIXES + probes_mod.ROOT_SUFFIXES),
                  *("x" + e for exts in probes_mod._SCRIPT_EXTS.values() for e in exts),
                  "secret-admin", "internal/api", "only-this", ".hidden", "api", "v1", "users", "img.png"})


def test_ordinary_paths_are_not_suspects_and_probes_are() -> None:
    paths = ["/api/v1/users/42", "/feedback", "/products/shoes", "/static/app.css", "/olden/days", "/dbx",
             "/wp-admin/", "/A/B.PHP", "/x/.env", "/db/", "/Foo%2e", "/a//b", "/caf\u00e9", "/x;jsessionid=1"]
    assert _suspects(DEFAULT, paths) == [False] * 6 + [True] * 8


@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_every_rule_token_at_every_place_is_a_suspect_when_it_is_a_probe(case) -> None:
    paths = []
    for t in _TOKENS:
        for shape in ("/{}", "/{}/", "/{}//", "/a/{}", "/a/{}/b", "{}", "/a/{}.php", "/a.{}", "/a/b{}", "/{}~"):
            paths.append(case(shape.format(t)))
    _assert_superset(paths)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_TOKENS), st.text(alphabet="/.;%\\~-_aZ9\u212a\u0130", max_size=4)),
                max_size=6))
def test_no_path_with_a_rule_escapes_the_suspect_pattern(parts: list[str]) -> None:
    _assert_superset(["/".join(parts), "".join(parts), "/" + "/".join(parts) + "/"])


def test_the_shared_real_logs_paths_with_a_rule_are_all_suspects() -> None:
    """Every distinct path of the two real access logs (../shared/data/logs, read in place)."""
    paths = set()
    for log in sorted(_SHARED_LOGS.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            parts = line.split('"')
            if len(parts) > 1 and len(parts[1].split(" ")) >= 2:
                paths.add(parts[1].split(" ")[1].split("?", 1)[0])
    paths = sorted(paths)
    _assert_superset(paths)
    # and the pattern leaves the rules little to do: 161 of 567 distinct paths asked, 123 of them probes
    assert (len(paths), sum(_suspects(DEFAULT, paths)), sum(DEFAULT._classify(normalize_path(x), True) is not None for x in paths)) == (
        567, 161, 123)


def test_clear_of_rules_on_many_new_paths_screens_them_and_answers_as_the_rules(monkeypatch) -> None:
    """From _SCREEN_MIN new paths on, one regex pass screens them: the rules run on the suspects only, and
    the answers stay the rules' own."""
    paths = [f"/a/{t}/{i}" if i % 3 else f"/shop/item-{i}" for i, t in enumerate(_TOKENS * 3)]
    assert len(paths) >= probes_mod._SCREEN_MIN
    ran: list[str] = []
    classify = ProbeMatcher._classify
    monkeypatch.setattr(ProbeMatcher, "_classify", lambda self, p, missing: ran.append(p) or classify(self, p, missing))
    for kind in (False, True):
        m = ProbeMatcher(Config().filters.scanner.probe_paths, serves=Config().site.serves())
        expected = [classify(m, normalize_path(x), kind) is None for x in paths]
        ran.clear()
        assert m.clear_of_rules(paths, kind) == expected
        assert len(ran) == sum(_suspects(m, paths)) == 294  # of 738: the 246 /shop and 198 /a/<token> paths skip them
        # the other status kind was answered by the same pass
        assert m.clear_of_rules(paths, not kind) == [classify(m, normalize_path(x), not kind) is None for x in paths]
        assert len(ran) == 294
        assert m.clear_of_rules(paths[:probes_mod._SCREEN_MIN - 1], kind) == expected[:probes_mod._SCREEN_MIN - 1]
        assert len(ran) == 294  # remembered: asked again, nothing runs
        m = ProbeMatcher(Config().filters.scanner.probe_paths, serves=Config().site.serves())
        ran.clear()
        assert m.clear_of_rules(paths[:probes_mod._SCREEN_MIN - 1], kind) == expected[:probes_mod._SCREEN_MIN - 1]
        assert len(ran) == probes_mod._SCREEN_MIN - 1  # too few new paths to screen: the rules answer each
