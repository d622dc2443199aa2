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
