"""The registration page (roles/selfservice/files/page.py) through Flask's test client, on a
database the PBX's tool made in tmp_path: a claim gives its token, release secret and (for a
softphone) SIP credentials once, the database keeps the secrets hashed, a release needs the
secret, a form without its CSRF token is refused, the limits per source answer 429, and no
secret reaches the log."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from roles.selfservice import schema
from roles.selfservice.files import claimsdb, page

SETTINGS = {
    "claimable_first": "2000",
    "claimable_last": "2009",
    "token_digits": "8",
    "token_minutes": "30",
    "in_directory": "0",
}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def site(tmp_path):
    db = tmp_path / "selfservice" / "claims.sqlite3"
    (tmp_path / "m.sql").write_text(schema.upgrade_sql(None))
    (tmp_path / "w.json").write_text(json.dumps({"settings": SETTINGS, "endpoint_defaults": {"context": "x"}}))
    assert (
        claimsdb.main(
            ["--db", str(db), "--owner", "root", "migrate", str(tmp_path / "m.sql"), str(tmp_path / "w.json")]
        )
        == 0
    )
    lines: list[str] = []
    clock = Clock()
    app = page.create_app(str(db), "*23", sip_server="10.23.0.2", log=lines.append, clock=clock)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.23.0.50"

    class Site:
        pass

    s = Site()
    s.db, s.lines, s.clock, s.client = db, lines, clock, client
    return s


def csrf(client) -> str:
    html = client.get("/").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def claim(client, **form):
    return client.post("/claim", data={"csrf_token": csrf(client), "kind": "softphone", "in_directory": "no", **form})


def shown(html: str, ident: str) -> str:
    match = re.search(rf'id="{ident}">([^<]+)<', html)
    assert match, f"no {ident} in {html}"
    return match.group(1)


def test_the_form_offers_free_numbers_and_works_without_javascript(site):
    html = site.client.get("/").get_data(as_text=True)
    assert "Numbers 2000 to 2009 can be claimed; 10 are free" in html
    assert "<script" not in html and 'name="viewport"' in html
    assert html.count('name="csrf_token"') == 2  # the claim and the release forms
    assert 'value="no" checked' in html  # in_directory's default from the settings


def test_a_softphone_claim_shows_token_release_secret_and_credentials_once(site):
    r = claim(site.client, number="2003", name="Alice")
    html = r.get_data(as_text=True)
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    token, secret, password = shown(html, "token"), shown(html, "release-secret"), shown(html, "sip-password")
    assert re.fullmatch(r"\d{8}", token) and "dial <strong>" not in html  # a softphone: no temporary number
    assert "this phone registers with the SIP account below instead" in html
    assert shown(html, "sip-server") == "10.23.0.2" and shown(html, "sip-user") == "2003"
    with sqlite3.connect(site.db) as conn:
        row = conn.execute("SELECT display_name, kind, in_directory, sip_password, release_hash FROM claims").fetchone()
        tokens = conn.execute("SELECT token_hash, number, used FROM tokens").fetchall()
    assert row[:3] == ("Alice", "softphone", 0) and row[3] == password
    assert claimsdb.secret_matches(secret, row[4]) and secret not in row[4]
    assert len(tokens) == 1 and tokens[0][1:] == ("2003", None) and claimsdb.secret_matches(token, tokens[0][0])
    again = site.client.get("/").get_data(as_text=True)
    assert "9 are free" in again and secret not in again and password not in again and token not in again
    assert site.lines == ["televoc-page: claimed 2003 (softphone) from 10.23.0.50"]


def test_a_desk_phone_claim_gives_the_token_alone_unless_claiming_by_dialling_is_off(site, monkeypatch):
    html = claim(site.client, number="2002", name="Carol", kind="snom").get_data(as_text=True)
    assert "sip-password" not in html and "dial <strong>*23" in html
    monkeypatch.setattr(page, "CLAIM_BY_DIALLING", False)
    html = claim(site.client, number="2001", name="Bob", kind="snom").get_data(as_text=True)
    assert 'id="token"' in html and 'id="sip-password"' in html and "dial <strong>" not in html
    assert "Claiming by dialling the token is not switched on" in html


def test_an_empty_number_takes_a_free_one_and_a_taken_number_is_refused(site):
    first = claim(site.client, name="A")
    number = re.search(r"<h1>(\d{4}) is yours", first.get_data(as_text=True)).group(1)
    assert "2000" <= number <= "2009"
    r = claim(site.client, number=number, name="B")
    assert r.status_code == 409 and f"{number} is claimed already" in r.get_data(as_text=True)
    r = claim(site.client, number="3000", name="C")
    assert r.status_code == 409 and "not in the claimable range 2000-2009" in r.get_data(as_text=True)
    r = claim(site.client, number="2005", name='<script>"')
    assert r.status_code == 409 and "<script>" not in r.get_data(as_text=True)


def test_release_needs_the_secret_and_a_wrong_one_is_logged_without_it(site):
    html = claim(site.client, number="2004", name="Carol").get_data(as_text=True)
    secret = shown(html, "release-secret")
    wrong = site.client.post(
        "/release", data={"csrf_token": csrf(site.client), "number": "2004", "secret": "guess-123"}
    )
    assert wrong.status_code == 403
    assert "televoc-page: wrong release secret for 2004 from 10.23.0.50" in site.lines
    ok = site.client.post("/release", data={"csrf_token": csrf(site.client), "number": "2004", "secret": secret})
    assert ok.status_code == 200 and "2004 is free again" in ok.get_data(as_text=True)
    with sqlite3.connect(site.db) as conn:
        assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM tokens").fetchone()[0] == 0
    assert not any(secret in line or "guess-123" in line for line in site.lines)


def test_the_fail2ban_line_matches_the_jails_regex(site):
    from roles.selfservice import PAGE_JAIL_REGEX

    site.client.post("/release", data={"csrf_token": csrf(site.client), "number": "2004", "secret": "x"})
    line = site.lines[-1]  # fail2ban matches after the time its datepattern took
    assert re.search(PAGE_JAIL_REGEX.replace("<ADDR>", r"(?P<host>\S+)"), line).group("host") == "10.23.0.50"


def test_a_post_without_its_csrf_token_is_refused(site):
    r = site.client.post("/claim", data={"number": "2002", "name": "Mallory", "kind": "softphone"})
    assert r.status_code == 400 and "The form expired" in r.get_data(as_text=True)
    r = site.client.post("/claim", data={"csrf_token": "forged", "number": "2002", "kind": "softphone"})
    assert r.status_code == 400
    with sqlite3.connect(site.db) as conn:
        assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 0


def test_claims_per_source_are_limited_and_the_limit_passes(site):
    limit = page.LIMITS["claims"][0]
    made = [claim(site.client, name=f"P{i}").status_code for i in range(limit + 1)]
    assert made == [201] * limit + [429]
    other = site.client.post(
        "/claim",
        data={"csrf_token": csrf(site.client), "kind": "snom", "name": "Q"},
        environ_base={"REMOTE_ADDR": "10.23.0.51"},
    )
    assert other.status_code == 201  # another source is not held back
    site.clock.now += page.LIMITS["claims"][1]
    assert claim(site.client, name="later").status_code == 201


def test_a_flood_of_posts_is_answered_429_before_any_check(site):
    limit = page.LIMITS["posts"][0]
    codes = [site.client.post("/release", data={"number": "2000"}).status_code for _ in range(limit + 5)]
    assert codes[:limit] == [400] * limit and set(codes[limit:]) == {429}
    assert "televoc-page: too many requests from 10.23.0.50" in site.lines


def test_ipv6_sources_count_per_64():
    assert page.source_of("2001:db8:1:2:aaaa::1") == page.source_of("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert page.source_of("::ffff:10.23.0.5") == "10.23.0.5"
    assert page.source_of("10.23.0.5") == "10.23.0.5"


def test_the_module_serves_the_page_to_the_phone_network_only(tmp_path):
    from roles.plan import buildup
    from roles.selfservice import PAGE_JAIL_REGEX, TEMPLATES_FILE

    from .test_selfservice_realtime import directory

    plan = buildup(directory(tmp_path))
    text = plan.module.text
    unit = text[text.index("systemd.services.televoc-page = {") :]
    unit = unit[: unit.index("\n  };")]
    assert "${pkgs.python3.withPackages (ps: [ ps.flask ps.flask-wtf ps.waitress ])}/bin/python3 ${./page.py}" in unit
    assert f"--claim-code '*23' --log /var/log/televoc-page/page.log --templates ${{./{TEMPLATES_FILE}}}" in unit
    assert 'User = "asterisk";' in unit
    # its jail's log exists before the page counts as started (fail2ban exits on a missing one)
    assert 'ExecStartPre = "${pkgs.coreutils}/bin/touch /var/log/televoc-page/page.log";' in unit
    assert 'StateDirectory = "televoc-selfservice";\n      StateDirectoryMode = "2770";' in unit
    assert '"-/var/lib/televoc"' in unit and '"-/var/lib/televoc-phones"' in unit  # no crew secrets, no phone files
    assert "users.users.televoc-page" not in text  # the asterisk user's
    page = [o for o in plan.module.openings if o.what == "registration page"]
    assert [(o.protocol, o.ports, o.sources) for o in page] == [("tcp", (8080, 8080), ("10.23.0.0/24",))]
    assert "televoc-page" in plan.module.jails and PAGE_JAIL_REGEX.replace("\\", "") in text.replace("\\", "")
    shipped = {e.name: e.text for e in plan.module.embedded}
    page_templates = {"base.html", "index.html", "claimed.html", "message.html"}
    board_templates = {
        "board.html",
        "board-body.html",
        "board-login.html",
        "board-row.html",
    }  # the crew's board, same application
    assert set(json.loads(shipped[TEMPLATES_FILE])) == page_templates | board_templates
    assert "password" not in text.lower().replace("passwords", "")  # the module is world-readable
    none = buildup(directory(tmp_path / "none", ""))
    assert "televoc-page" not in none.module.text and "page.py" not in {e.name for e in none.module.embedded}


def test_the_pbx_runs_the_page_from_its_one_templates_file(site, tmp_path):
    from roles.selfservice import page_templates

    app = page.create_app(str(site.db), "*23", log=site.lines.append, templates=json.loads(page_templates()))
    html = app.test_client().get("/").get_data(as_text=True)
    assert "Numbers 2000 to 2009 can be claimed" in html
