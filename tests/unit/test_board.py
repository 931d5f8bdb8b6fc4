"""The crew's board (roles/selfservice/files/board.py): each phone's state from what the
verification reads, grouped by location with counts, the most urgent first, "gone since"
remembered between reads, one read of Asterisk for any number of browsers (cached), the
crew's login (a wrong password refused, logged for fail2ban and limited; the cookie HttpOnly
and SameSite), through Flask's test client; what the deploy ships (the phones' JSON without
a secret, the hash, the unit allowed Asterisk's control socket) and what the model refuses.
No host."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

import pytest

from roles import pbx
from roles.event import EventError, load_directory
from roles.plan import buildup
from roles.selfservice import BOARD_HASH, board_crew
from roles.selfservice.files import board, page
from roles.shared import names, pbxcli
from roles.shared.pbxcli import Contact, PbxState, Registration

from .test_pbx_read import SETTINGS

CAPTURES = Path(__file__).parent / "captures"
PASSWORD = "crew-walks-the-halls-42"
CONFIG = {
    "event": "test-event",
    "phones": [
        {"name": "saal1", "number": "1001", "display": "Saal 1", "location": "Hall A", "provisioned": False},
        {"name": "saal2", "number": "1002", "display": "Saal 2", "location": "Hall B", "provisioned": False},
        {
            "name": "desk",
            "number": "1101",
            "display": "Info desk",
            "location": "Hall A",
            "provisioned": True,
            "mac": "000413A1B2C3",
        },
        {"name": "back", "number": "1600", "display": "Backoffice", "location": "", "provisioned": False},
    ],
    "trunk": [names.TRUNK, "6000 at 10.77.0.2"],
    "peers": [[names.VENUE_PREFIX + "north", "north"]],
    "claimable": ["2000", "2999"],
    "hash": "",
    "refresh_seconds": 5,
    "cache_seconds": 3,
    "qualify_seconds": 33,
}


def contact(aor: str, status: str, rtt: float | None = 0.4, ua: str | None = "baresip") -> Contact:
    return Contact(aor, f"sip:{aor}@10.23.0.9:5060", status, rtt, "abc", ua)


def state(*contacts: Contact, aors=("saal1", "saal2", "desk", "back"), outbound=None) -> PbxState:
    every = {*aors, *(c.aor for c in contacts)}
    return PbxState(running=True, version="22.1", aors=frozenset(every), contacts=contacts, outbound=outbound or {})


def test_a_phones_state_follows_the_verifications_rule():
    assert board.classify(True, ["Unavail", "Avail"], None) == board.READY
    assert board.classify(True, ["Unavail"], 1.0) == board.SILENT
    assert board.classify(True, ["Unknown"], None) == board.WAITING
    assert board.classify(True, ["NonQual"], None) == board.WAITING
    assert board.classify(True, [], None) == board.NEVER
    assert board.classify(True, [], 100.0) == board.GONE
    assert board.classify(False, [], None) == board.NO_ACCOUNT


def test_phones_are_grouped_by_location_counted_and_the_urgent_come_first():
    phones = board.phones_of(CONFIG)
    memory = board.Memory()
    fetches = {"000413A1B2C3": {"last": 950.0}}
    first = state(contact("saal1", "Avail"), contact("saal2", "Avail"), contact("desk", "Unavail"))
    view = board.build_view(CONFIG, phones, first, memory, fetches, 1000.0)
    assert view.total == 4 and view.ready == 2
    assert view.counts == {board.SILENT: 1, board.NEVER: 1, board.READY: 2}
    assert [(loc.name, len(loc.rows), loc.ready) for loc in view.locations] == [
        ("(no location)", 1, 0),
        ("Hall A", 2, 1),
        ("Hall B", 1, 1),
    ]
    hall_a = view.locations[1]
    assert [r.phone.name for r in hall_a.rows] == ["desk", "saal1"]  # not answering before ready
    assert hall_a.counts == {board.SILENT: 1, board.READY: 1}
    assert [(r.phone.name, r.state) for r in view.attention] == [("desk", board.SILENT), ("back", board.NEVER)]
    desk = view.attention[0]
    assert desk.fetched == 950.0 and desk.contact == "sip:desk@10.23.0.9:5060" and desk.rtt_ms == 0.4
    assert desk.since is None  # the board did not see it enter that state
    # saal2's SIP client stops at 1010: gone since it was last seen (1000), first in the list
    second = state(contact("saal1", "Avail"), contact("desk", "Unavail"))
    view = board.build_view(CONFIG, phones, second, memory, fetches, 1010.0)
    assert [(r.phone.name, r.state, r.since) for r in view.attention] == [
        ("saal2", board.GONE, 1000.0),
        ("desk", board.SILENT, None),
        ("back", board.NEVER, None),
    ]
    assert view.locations[2].counts == {board.GONE: 1}
    # backoffice registers: it is waiting for qualify since this read
    third = state(contact("saal1", "Avail"), contact("desk", "Unavail"), contact("back", "Unknown"))
    view = board.build_view(CONFIG, phones, third, memory, fetches, 1020.0)
    back = next(r for r in view.attention if r.phone.name == "back")
    assert (back.state, back.since) == (board.WAITING, 1020.0)


def test_the_trunk_the_venues_and_claimed_numbers_are_shown_apart():
    phones = board.phones_of(CONFIG)
    live = state(
        contact("saal1", "Avail"),
        contact("2001", "Avail"),
        contact(names.TRUNK, "Avail"),
        contact(names.VENUE_PREFIX + "north", "Unavail"),
        aors=("saal1", "saal2", "desk", "back", "2001", "2002", names.TRUNK, names.VENUE_PREFIX + "north"),
        outbound={names.TRUNK: "Registered"},
    )
    registrar = (Registration("2001", "ab12", "sip:2001@10.23.0.9:5060", "ua"),)
    live = dataclasses.replace(live, registrations=registrar)
    view = board.build_view(CONFIG, phones, live, board.Memory(), {}, 1000.0)
    assert view.total == 4  # neither the claimed numbers nor the trunk count as phones
    assert view.claimed == 1  # 2001 registered (from Asterisk's registrar: the listing has no claims)
    assert [(o.name, o.ok) for o in view.others] == [("trunk 6000 at 10.77.0.2", True), ("venue north", False)]
    assert "does not answer (Unavail)" in view.others[1].text


def test_asterisk_down_shows_every_phone_unknown_and_says_why():
    view = board.build_view(CONFIG, board.phones_of(CONFIG), PbxState(running=False), board.Memory(), {}, 5.0)
    assert view.counts == {board.UNKNOWN: 4} and view.error == "Asterisk is not running" and not view.running


def captured_answer(argv: list[str]) -> str:
    """What Asterisk 22 printed for each command of the read (real captures, 3 registered)."""
    command = argv[-1]
    if command in pbxcli.AOR_LISTINGS:  # with self-service the aors are listed in slices: all in one
        command = pbxcli.AOR_LISTING if command == pbxcli.AOR_LISTINGS[0] else "none"
        if command == "none":
            return "No objects found.\n"
    files = {
        "core show version": "core-show-version.txt",
        "pjsip show aors": "pjsip-show-aors.3-registered-marker.txt",
        "database show registrar/contact": "database-show-registrar-contact.3-registered.txt",
        "dialplan show globals": "dialplan-show-globals.txt",
        "pjsip show transports": "pjsip-show-transports.txt",
        "pjsip show registrations": "pjsip-show-registrations.none.txt",
        "config list": "config-list.split.txt",
    }
    return (CAPTURES / files[command]).read_text()


def test_many_browsers_cost_one_read_of_asterisk_parsed_by_the_verifications_parser():
    calls: list[list[str]] = []
    now = [1000.0]

    def run(argv):
        calls.append(argv)
        return captured_answer(argv)

    live = board.Live(CONFIG, "/nix/store/x-asterisk/bin/asterisk", clock=lambda: now[0], run=run)
    first = live.current()
    assert {tuple(c[:4]) for c in calls} == {
        ("/nix/store/x-asterisk/bin/asterisk", "-C", "/etc/asterisk/asterisk.conf", "-rx")
    }
    # the verification's read: with self-service here (CONFIG's claimable), the aors in slices
    read = pbxcli.state_commands(pbxcli.listed_aors(4, realtime=True))
    assert sorted(c[-1] for c in calls) == sorted(read) and pbxcli.AOR_LISTING not in read
    parsed = pbxcli.parse_state(
        line for c in read for line in [pbxcli.SECTION_MARK + c, *captured_answer([c]).splitlines()]
    )
    assert first.running and first.ready == sum(1 for p in ("saal1", "saal2", "desk", "back") if parsed.contacts_of(p))
    for _ in range(20):  # twenty browsers within the cache's seconds
        now[0] += 0.1
        assert live.current() is first
    assert live.reads == 1
    now[0] += 3
    assert live.current() is not first and live.reads == 2


def test_the_crew_password_is_checked_against_its_scrypt_hash(tmp_path, monkeypatch):
    crew = board_crew(board_directory(tmp_path, monkeypatch))
    assert crew is not None and crew.path == BOARD_HASH
    assert crew.hashed.startswith("scrypt:16384:8:1:") and PASSWORD not in crew.hashed
    assert PASSWORD not in repr(crew)
    assert board.check_password(crew.hashed, PASSWORD)
    assert not board.check_password(crew.hashed, PASSWORD + "x")
    assert not board.check_password("not a hash", PASSWORD)


# --- the web part ---------------------------------------------------------------------------


def board_site(path: Path, monkeypatch, **more) -> tuple:
    """A test client of the board alone (the crew's password hashed under `path`, CONFIG and
    `more`, Asterisk's captured answers), from 10.23.0.50, and the lines it logged."""
    crew = board_crew(board_directory(path / "event", monkeypatch))
    assert crew is not None
    (path / "crew.scrypt").write_text(crew.hashed)
    config = {**CONFIG, "hash": str(path / "crew.scrypt"), **more}
    (path / "board.json").write_text(json.dumps(config))
    lines: list[str] = []
    board.load_modules([])  # in the repository: the parsers are already there
    app = page.board_app()
    live = board.Live(config, clock=lambda: 1000.0, run=captured_answer)
    limiter = page.Limiter({"crew_logins": board.LOGIN_LIMIT})
    app.register_blueprint(board.blueprint(config, "asterisk", lines.append, limiter, page.source_of, live))
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.23.0.50"
    return client, lines


@pytest.fixture
def site(tmp_path, monkeypatch):
    return board_site(tmp_path, monkeypatch)


def csrf(client) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/board/login").get_data(as_text=True))
    assert found
    return found[1]


def test_the_board_needs_the_crew_login_and_a_wrong_password_is_logged_not_shown(site):
    client, lines = site
    got = client.get("/board")
    assert got.status_code == 302 and got.headers["Location"].endswith("/board/login")
    token = csrf(client)
    wrong = client.post("/board/login", data={"csrf_token": token, "password": "guess-guess-guess"})
    assert wrong.status_code == 403 and "Wrong password" in wrong.get_data(as_text=True)
    assert lines == [board.WRONG_PASSWORD_LOG.format(source="10.23.0.50")]
    assert re.fullmatch(
        r"televoc-page: (?:wrong release secret for \S+|crew login failed) from 10\.23\.0\.50", lines[0]
    )
    assert client.get("/board").status_code == 302  # still not in
    # without the form's CSRF token: refused before the password is looked at
    assert client.post("/board/login", data={"password": PASSWORD}).status_code == 400
    right = client.post("/board/login", data={"csrf_token": token, "password": PASSWORD})
    assert right.status_code == 302 and right.headers["Location"].endswith("/board")
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    shown = client.get("/board")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert '<meta http-equiv="refresh" content="5">' in html
    assert 'id="summary"><b>' in html and "of 4 phones ready" in html
    assert all(PASSWORD not in line for line in lines) and "crew logged in from 10.23.0.50" in lines[-1]
    # the login began a new session: the board's own form carries its token
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert fresh and client.post("/board/logout", data={"csrf_token": fresh[1]}).status_code == 302
    assert client.get("/board").status_code == 302


def test_login_attempts_are_limited_per_source(site):
    client, lines = site
    token = csrf(client)
    codes = [
        client.post("/board/login", data={"csrf_token": token, "password": "nope-nope-nope"}).status_code
        for _ in range(board.LOGIN_LIMIT[0] + 2)
    ]
    assert codes == [403] * board.LOGIN_LIMIT[0] + [429, 429]
    # even the right password waits now
    assert client.post("/board/login", data={"csrf_token": token, "password": PASSWORD}).status_code == 429
    assert lines.count(board.WRONG_PASSWORD_LOG.format(source="10.23.0.50")) == board.LOGIN_LIMIT[0]


# --- what the deploy ships ------------------------------------------------------------------


def board_directory(path: Path, monkeypatch, extra: str = "board: {}\n", password: str | None = PASSWORD):
    path.mkdir(parents=True, exist_ok=True)
    secret = path / "s"
    secret.write_text("k" * 40)
    secret.chmod(0o600)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(secret))
    crew = path / "crew"
    if password is not None:
        crew.write_text(password + "\n")
        crew.chmod(0o600)
    monkeypatch.setenv("TELEVOC_BOARD_SECRET_FILE", str(crew))
    (path / "event.yml").write_text("name: test-event\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\n" + extra)
    (path / "phones.yml").write_text(
        "phones:\n  - {name: saal1, extension: 1001, location: Hall A}\n"
        "  - {name: desk, extension: 1101, mac: '000413A1B2C3', model: snom320, location: Foyer}\n"
    )
    return load_directory(path)


def test_the_module_runs_the_board_alone_with_its_files_and_no_secret(tmp_path, monkeypatch):
    directory = board_directory(tmp_path, monkeypatch)
    plan = buildup(directory)
    text = plan.module.text
    unit = text[text.index("systemd.services.televoc-page = {") :]
    unit = unit[: unit.index("\n  };")]
    assert "--bind 10.23.0.2 --port 8080" in unit and "--claim-code" not in unit  # no self-service
    assert "--board ${./board.py} --board-config ${./board.json}" in unit
    assert "--board-module roles.shared.pbxcli=${./board-pbxcli.py}" in unit
    assert "--asterisk ${config.services.asterisk.package}/bin/asterisk" in unit
    assert 'RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" ];' in unit  # Asterisk's control socket
    assert 'User = "asterisk";' in unit and '"-/var/lib/televoc"' in unit
    shipped = {e.name: e.text for e in plan.module.embedded}
    assert shipped["board-pbxcli.py"] == Path(pbxcli.__file__).read_text()
    config = json.loads(shipped["board.json"])
    assert [(p["number"], p["location"], p["provisioned"], p["mac"]) for p in config["phones"]] == [
        ("1001", "Hall A", False, None),
        ("1101", "Foyer", True, "000413A1B2C3"),
    ]
    assert config["provisioning_state"] == "/var/lib/televoc-provisioning/state.json"
    passwords = [a.password for a in directory.accounts] + [PASSWORD]
    assert not any(p in shipped["board.json"] or p in text for p in passwords)
    assert [(o.what, o.sources) for o in plan.module.openings if o.what == "crew's board"] == [
        ("crew's board", ("10.23.0.0/24",))
    ]
    assert plan.board is not None and plan.board.path == BOARD_HASH
    # the run's one read covers the hash, and is the same read before and after rendering
    known = pbx.known_arguments(SETTINGS, directory)
    assert BOARD_HASH in known["digests"] and pbx.same_read(pbx.arguments_of(SETTINGS, plan), known)


def test_without_a_board_nothing_of_it_is_shipped_or_read(tmp_path, monkeypatch):
    directory = board_directory(tmp_path, monkeypatch, extra="board: {enabled: false}\n", password=None)
    plan = buildup(directory)
    assert plan.board is None and "televoc-page" not in plan.module.text
    assert BOARD_HASH not in pbx.known_arguments(SETTINGS, directory)["digests"]


def test_the_model_refuses_a_board_without_a_usable_password_or_on_another_port(tmp_path, monkeypatch):
    with pytest.raises(EventError) as e:
        board_directory(tmp_path / "none", monkeypatch, password=None)
    assert "the crew's board password file is missing" in str(e.value)
    assert "python -m roles.event board-password" in str(e.value)
    with pytest.raises(EventError) as e:
        board_directory(tmp_path / "short", monkeypatch, password="short")
    assert "fewer than 12 characters" in str(e.value)
    self_service = (
        "self_service:\n  claimable: {first: 2000, last: 2999}\n  temporary: {first: 9000, last: 9099}\n"
        "  info_desk: saal1\nboard:\n  port: 8081\n"
    )
    with pytest.raises(EventError) as e:
        board_directory(tmp_path / "port", monkeypatch, extra=self_service)
    assert re.search(r"event\.yml:\d+: board: port: 8081 is not self_service\.page_port \(8080\)", str(e.value)), str(
        e.value
    )


def test_a_large_event_lists_one_location_at_a_time_rendered_once_per_read(site, monkeypatch):
    client, _ = site
    monkeypatch.setattr(board, "ALL_ROWS_UP_TO", 2)  # the four phones count as many
    with client.session_transaction() as session:
        session["crew"] = time.time()

    def rows(url: str) -> list[str]:
        html = client.get(url).get_data(as_text=True)
        locations = html[html.index('<section id="locations">') :]
        return re.findall(r'<li class="row [^"]*" data-phone="([^"]+)"', locations)

    assert rows("/board") == []  # the table of locations, each a link
    assert 'href="/board?location=Hall%20A"' in client.get("/board").get_data(as_text=True)
    assert sorted(rows("/board?location=Hall%20A")) == ["desk", "saal1"]
    assert sorted(rows("/board?all=1")) == ["back", "desk", "saal1", "saal2"]
    assert rows("/board?location=nowhere") == []
    # the lists of one read are rendered once per location shown, whatever the browsers
    from flask import template_rendered

    rendered: list[str] = []

    def record(sender, template, context, **extra):
        rendered.append(template.name)

    with template_rendered.connected_to(record):
        for _ in range(5):
            rows("/board?location=Hall%20B")
    assert rendered.count("board-body.html") == 1 and rendered.count("board.html") == 5


def test_with_self_service_the_board_is_a_part_of_the_registration_pages_application(tmp_path, monkeypatch):
    self_service = (
        "self_service:\n  claimable: {first: 2000, last: 2999}\n  temporary: {first: 9000, last: 9099}\n"
        "  info_desk: saal1\n  page_port: 8090\nboard: {}\n"
    )
    plan = buildup(board_directory(tmp_path, monkeypatch, extra=self_service))
    text = plan.module.text
    assert text.count("systemd.services.televoc-page = {") == 1
    unit = text[text.index("systemd.services.televoc-page = {") :]
    unit = unit[: unit.index("\n  };")]
    assert "--port 8090 --claim-code '*23'" in unit and "--board ${./board.py}" in unit
    assert [(o.what, o.ports) for o in plan.module.openings if o.what == "registration page"] == [
        ("registration page", (8090, 8090))
    ]


def test_the_boards_promise_uses_the_qualify_asterisk_is_given():
    from roles.asterisk.render import AOR_OPTIONS
    from roles.selfservice import render

    options = dict(AOR_OPTIONS)
    assert int(options["qualify_frequency"]) == render.QUALIFY_SECONDS
    assert float(options["qualify_timeout"]) == render.QUALIFY_TIMEOUT


def test_a_restarted_page_still_knows_who_is_gone_since_when(tmp_path):
    config = {**CONFIG, "seen_file": str(tmp_path / "board-seen.json"), "cache_seconds": 3}
    now = [1000.0]
    answers = {"registered": True}

    def read(live):
        contacts = (contact("saal1", "Avail"),) if answers["registered"] else ()
        return state(*contacts), None

    class Fake(board.Live):
        def read_state(self):
            return read(self)

    first = Fake(config, clock=lambda: now[0])
    assert "saal1" not in {r.phone.name for r in first.current().attention}  # ready
    assert json.loads((tmp_path / "board-seen.json").read_text()) == {"saal1": 1000.0}
    # the page restarts (a deploy changed it) while saal1's SIP client is stopped
    answers["registered"] = False
    now[0] = 1100.0
    again = Fake(config, clock=lambda: now[0]).current()
    saal1 = next(r for r in again.attention if r.phone.name == "saal1")
    assert (saal1.state, saal1.since) == (board.GONE, 1000.0)
    # an unreadable record is no record: the board works from memory
    (tmp_path / "board-seen.json").write_text("not json")
    assert board.load_seen(str(tmp_path / "board-seen.json")) == {}
    board.save_seen(str(tmp_path / "nowhere" / "board-seen.json"), {"x": 1.0})  # cannot write: no error


def test_the_board_and_the_registration_page_are_one_application(tmp_path, monkeypatch):
    """What page.py's main() does with --claim-code and --board: the page's application, the
    board registered in it; both answer, and the page's own limits still count every post."""
    from roles.selfservice import schema
    from roles.selfservice.files import claimsdb

    from .test_selfservice_page import SETTINGS as PAGE_SETTINGS

    db = tmp_path / "selfservice" / "claims.sqlite3"
    (tmp_path / "m.sql").write_text(schema.upgrade_sql(None))
    (tmp_path / "w.json").write_text(json.dumps({"settings": PAGE_SETTINGS, "endpoint_defaults": {"context": "x"}}))
    migrate = ["--db", str(db), "--owner", "root", "migrate", str(tmp_path / "m.sql"), str(tmp_path / "w.json")]
    assert claimsdb.main(migrate) == 0
    crew = board_crew(board_directory(tmp_path / "event", monkeypatch))
    assert crew is not None
    (tmp_path / "crew.scrypt").write_text(crew.hashed)
    (tmp_path / "board.json").write_text(json.dumps({**CONFIG, "hash": str(tmp_path / "crew.scrypt")}))
    lines: list[str] = []
    app = page.create_app(str(db), "*23", log=lines.append)
    board.register(app, str(tmp_path / "board.json"), "asterisk", lines.append, page.Limiter, page.source_of)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.23.0.51"
    assert "Get your own number" in client.get("/").get_data(as_text=True)
    assert client.get("/board").headers["Location"].endswith("/board/login")
    token = csrf(client)
    assert client.post("/board/login", data={"csrf_token": token, "password": "wrong-wrong-wrong"}).status_code == 403
    right = client.post("/board/login", data={"csrf_token": token, "password": PASSWORD})
    assert right.status_code == 302 and "HttpOnly" in right.headers["Set-Cookie"]
    assert lines == [
        board.WRONG_PASSWORD_LOG.format(source="10.23.0.51"),
        "televoc-page: crew logged in from 10.23.0.51",
    ]


def call_log_db(path: Path, rows: list[tuple]) -> Path:
    """A call log as Asterisk's cdr_sqlite3_custom writes it (the columns the statistics read)."""
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE calls (start, src, dst, disposition, duration, billsec, cause, linkedid)")
    db.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return path


CALLS = [
    ("2026-12-27 09:05:00", "1001", "1002", "ANSWERED", 30, 25, "16", "a"),
    ("2026-12-27 09:10:00", "1002", "1101", "NO ANSWER", 20, 0, "19", "b"),
    ("2026-12-27 10:01:00", "1600", "1101", "BUSY", 3, 0, "17", "c"),
    ("2026-12-27 10:02:00", "1600", "1001", "ANSWERED", 60, 55, "16", "d"),
]


def test_the_call_logs_statistics_are_read_once_per_half_minute(tmp_path):
    path = call_log_db(tmp_path / "master.db", CALLS)
    now = [1000.0]
    log = board.CallLog({**CONFIG, "call_log": {"db": str(path), "table": "calls"}}, clock=lambda: now[0])
    calls = log.current()
    assert calls is not None and calls.error is None
    assert (calls.total, calls.answered) == (4, 2)
    assert calls.per_hour == (("2026-12-27 09", 2), ("2026-12-27 10", 2))
    # Hall A (saal1, desk) placed 1 call, received 3 (1101 twice, 1001 once), answered 1
    assert ("Hall A", 1, 3, 1) in calls.per_location
    assert calls.never == (("1101", 2, "Hall A"),)  # the info desk: two calls, none answered
    call_log_db(tmp_path / "other.db", [])
    path.unlink()  # within the half minute: the read is not made again
    now[0] += board.CALLS_CACHE - 1
    assert log.current() is calls
    now[0] += 1
    gone = log.current()
    assert gone is not None and gone.error == "the call log could not be read: OperationalError"


def test_the_call_log_off_shows_no_calls_and_an_empty_one_shows_none_yet(tmp_path):
    assert board.CallLog(CONFIG).current() is None  # call_log off: no section
    import sqlite3

    sqlite3.connect(tmp_path / "empty.db").close()  # Asterisk makes the table at its first call
    calls = board.CallLog({**CONFIG, "call_log": {"db": str(tmp_path / "empty.db")}}).current()
    assert calls is not None and (calls.total, calls.never, calls.error) == (0, (), None)


def test_never_reached_shows_the_most_called_first_and_counts_the_rest():
    rows = [
        {"start": "2026-12-27 09:00:00", "src": "1001", "dst": str(2000 + i), "disposition": "NO ANSWER"}
        for i in range(board.NEVER_SHOWN + 5)
    ]
    rows += [{"start": "2026-12-27 09:01:00", "src": "1001", "dst": "2024", "disposition": "BUSY"}] * 3
    calls = board.calls_view(rows, {}, 0.0)
    assert calls.never[0] == ("2024", 4, "(not a phone)")
    assert len(calls.never) == board.NEVER_SHOWN and calls.never_more == 5


def test_the_board_shows_the_calls_section_only_with_the_call_log(site, tmp_path, monkeypatch):
    client, _ = site
    token = csrf(client)
    assert client.post("/board/login", data={"csrf_token": token, "password": PASSWORD}).status_code == 302
    assert 'id="calls"' not in client.get("/board").get_data(as_text=True)  # the site's config: no call log
    log = {"db": str(call_log_db(tmp_path / "master.db", CALLS)), "table": "calls"}
    (tmp_path / "with-log").mkdir()
    with_log, _ = board_site(tmp_path / "with-log", monkeypatch, call_log=log)
    token = csrf(with_log)
    assert with_log.post("/board/login", data={"csrf_token": token, "password": PASSWORD}).status_code == 302
    html = with_log.get("/board").get_data(as_text=True)
    assert '<p id="calls-total"><b>4 calls, 2 answered</b>' in html
    assert '<li data-number="1101"><b>1101</b> Hall A: 2 calls, none answered</li>' in html
    assert '<tr><td>2026-12-27 10:00</td><td class="n">2</td></tr>' in html


def test_the_call_log_is_in_the_boards_config_and_its_statistics_shipped_only_when_on(tmp_path, monkeypatch):
    on = buildup(board_directory(tmp_path / "on", monkeypatch, extra="board: {}\ncall_log: {enabled: true}\n"))
    shipped = {e.name: e.text for e in on.module.embedded}
    assert json.loads(shipped["board.json"])["call_log"] == {"db": names.CALL_LOG_DB, "table": names.CALL_LOG_TABLE}
    assert "--board-module roles.calllog.stats=${./board-callstats.py}" in on.module.text
    from roles import calllog

    assert shipped["board-callstats.py"] == calllog.STATS_FILE.read_text()
    assert shipped["board-callrows.py"] == calllog.EXPORT_FILE.read_text()
    assert "--board-module roles.calllog.export=${./board-callrows.py}" in on.module.text
    assert "import roles" not in shipped["board-callstats.py"].split("if TYPE_CHECKING:")[0]
    off = buildup(board_directory(tmp_path / "off", monkeypatch))
    assert json.loads({e.name: e.text for e in off.module.embedded}["board.json"])["call_log"] is None
