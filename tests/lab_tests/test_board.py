"""The crew's board in the lab, in headless Chromium (lab/browser.py): a deploy of the
example event with `board:` (and no self-service) serves it alone; without the crew login
the board redirects to the login; a wrong crew password is refused and logged for fail2ban
(without the password); the board's counts and rows match what Asterisk reports for the
three phones set up by hand (baresip, registered and answering qualify) and one televoc
provisions (a simulated snom 320: the board shows when it fetched its settings); one phone's SIP client stopped by
its PID turns "gone" on the open page, by the page's own reload, within the time the page
promises. The screenshot of that board (in the module's work directory, printed) is what
docs/images/board.png shows.

One lab for the module: `pbx` deploys and starts the phones; `crew` is a browser logged in
once (its test checks the refusal first); the test that stops a phone comes after the one
that compares the rows.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import time

import pytest

from lab.browser import Browser, BrowserError
from lab.callee import Dial
from lab.deploys import Deployment, copy_example_event
from lab.lab import Lab
from lab.machine import IP
from lab.snom import SnomFleet, SnomPhone
from lab.wait import wait_for
from roles.selfservice import BOARD_HASH, BOARD_SEEN
from roles.selfservice.files import board
from roles.selfservice.render import BOARD_CACHE_SECONDS, BOARD_REFRESH_SECONDS
from roles.shared.names import CALL_LOG_DB, CALL_LOG_TABLE
from roles.shared.pbxcli import parse_contacts

pytestmark = pytest.mark.lab

URL = "http://127.0.0.1:8080"  # the example event in the lab with pbx_address 127.0.0.1; board.port's default
LOG = "/var/log/televoc-page/page.log"
PASSWORD = "lab-crew-walks-the-halls"
PORTS = {"saal1": 5071, "saal2": 5072, "backoffice": 5073}
# One phone televoc provisions: a simulated snom 320 that fetches its settings by MAC from the
# provisioning server and registers with them, on its own loopback address.
DESK = ("infodesk1", "000413A00B01", "127.0.0.14", 5064)
DESK_ENTRY = """  - {name: infodesk1, extension: 1101, display_name: Info Desk 1, mac: "000413A00B01", model: snom320,
     location: Foyer}
"""
PROVISIONING_URL = "http://127.0.0.1:8088/televoc/{mac}.xml"
ECHO = "101"  # the example event's echo test number
ROWS = (
    "JSON.stringify([...document.querySelectorAll('#locations li.row')].map(e => [e.dataset.phone, e.dataset.state]))"
)


def status(lab: Lab, url: str) -> str:
    cmd = "curl -s -o /dev/null --max-time 5 -w '%{http_code}' " + shlex.quote(url)
    return lab.run(cmd, check=False).stdout


def live_contacts(lab: Lab) -> dict[str, str]:
    return {c.aor: c.status for c in parse_contacts(lab.asterisk("pjsip show contacts").splitlines())}


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    work = tmp_path_factory.mktemp("board")
    event = copy_example_event(work / "event")
    crew = work / "crew.secret"
    crew.write_text(PASSWORD + "\n")
    crew.chmod(0o600)
    with open(event / "event.yml", "a") as f:
        f.write(f"pbx_address: 127.0.0.1  # provisioned phones need it\nboard:\n  password_file: {crew}\n")
        f.write("call_log: {enabled: true}  # the board's statistics\n")
    with open(event / "phones.yml", "a") as f:
        f.write(DESK_ENTRY)
    with Lab(work / "lab") as lab, SnomFleet(lab, work / "snom") as fleet:
        deployment = Deployment.prepare(lab, work, event)
        first = deployment.deploy("--data", "televoc_verify=report")
        assert first.returncode == 0, first.output
        assert PASSWORD not in first.output
        try:
            wait_for(lambda: status(lab, URL + "/board") == "302", 20, "the board answers")
        except AssertionError:  # what the unit said (the lab's log of it)
            print(lab.run("tail -n 30 /var/log/televoc-lab/televoc-page.service.log", check=False).stdout)
            raise
        passwords = deployment.passwords()
        phones = {name: lab.start_phone(name, passwords[name], port) for name, port in PORTS.items()}
        name, mac, ip, port = DESK
        fleet.start([SnomPhone(mac, port, 80, PROVISIONING_URL, ip=ip)])
        fleet.wait(mac, lambda s: s["registered"], what=f"{name} registered")
        wait_for(lambda: set(live_contacts(lab).values()) == {"Avail"} and len(live_contacts(lab)) == 4, 20, "4 phones")
        # one call for the call log, before the board first reads it: saal1 calls the echo test number
        dial = Dial.start(lab, "saal1", passwords["saal1"], ECHO, 5091, hold=1)
        assert dial.wait(30) == 0, dial.messages()
        lab.asterisk("channel request hangup all")
        deployment.work = work  # type: ignore[attr-defined]
        deployment.phones = phones  # type: ignore[attr-defined]
        yield deployment
        lab.stop_all_phones()


def browser(pbx) -> Browser:
    return Browser(prefix=[IP, "netns", "exec", pbx.lab.netns])


@pytest.fixture(scope="module")
def crew(pbx):
    """A browser the crew logged in with, for the module."""
    with browser(pbx) as b:
        b.open(URL + "/board/login")
        b.fill({"#password": PASSWORD})
        b.click("form[action='/board/login'] button")
        assert b.evaluate("location.pathname") == "/board", b.text()
        yield b


def test_without_the_crew_login_the_board_redirects_and_a_wrong_password_is_refused_and_logged(pbx):
    lab = pbx.lab
    assert lab.run(f"stat -c '%a %U %G' {BOARD_HASH}").stdout.split() == ["640", "root", "asterisk"]
    assert PASSWORD not in lab.run(f"cat {BOARD_HASH}").stdout
    assert lab.run(f"grep -rl {shlex.quote(PASSWORD)} /nix/store /etc/nixos {LOG}", check=False).stdout == ""
    jail = lab.run("fail2ban-client status televoc-page", check=False)
    assert jail.returncode == 0 and LOG in jail.stdout, jail.stdout + jail.stderr
    with browser(pbx) as b:
        b.open(URL + "/board")
        assert b.evaluate("location.pathname") == "/board/login"
        b.fill({"#password": "not-the-crew-password"})
        b.click("form[action='/board/login'] button")
        assert b.text("#error") == "Wrong password."
        b.open(URL + "/board")
        assert b.evaluate("location.pathname") == "/board/login"
    log = lab.run(f"cat {LOG}").stdout
    assert re.search(r"^\S+Z televoc-page: crew login failed from 127\.0\.0\.1$", log, re.M), log
    assert "not-the-crew-password" not in log and PASSWORD not in log


def test_the_boards_counts_and_rows_match_the_lab(pbx, crew):
    contacts = live_contacts(pbx.lab)
    rows = dict(json.loads(crew.evaluate(ROWS)))
    assert rows == {name: board.READY if contacts.get(name) == "Avail" else "?" for name in [*PORTS, DESK[0]]}
    assert crew.text("#summary") == "4 of 4 phones ready"
    # the provisioned phone: when it fetched its settings, from the provisioning server's state
    fetched = json.loads(pbx.lab.run("cat /var/lib/televoc-provisioning/state.json").stdout)["fetches"][DESK[1]]
    desk = crew.text(f"#locations li[data-phone='{DESK[0]}']")
    shown = time.strftime("%H:%M:%S", time.localtime(fetched["last"]))
    assert f"provisioned by televoc, fetched its settings {shown}" in desk and "Foyer" in desk, desk
    assert f"{DESK[2]}:{DESK[3]}" in desk
    # each location of the example event, one phone each, and the phone's contact and user agent
    for name, location in (("saal1", "Hall A, lectern"), ("saal2", "Hall B, lectern"), ("backoffice", "Backoffice")):
        row = crew.text(f"#locations li[data-phone='{name}']")
        assert location in row and "baresip" in row and f":{PORTS[name]}" in row and " ms" in row, row
        assert "set up by hand" in row
    assert f"{location}: 1 of 1 ready" in crew.text("#locations")
    assert "Every phone is registered and answers." in crew.text("#attention")


def test_the_board_shows_the_call_logs_statistics_as_asterisk_wrote_them(pbx, crew):
    # what Asterisk wrote into its call log (read in the lab, apart from the board)
    query = f"SELECT src, dst, disposition FROM {CALL_LOG_TABLE}"
    read = (
        "python3 -c 'import json, sqlite3; "
        f'db = sqlite3.connect("file:{CALL_LOG_DB}?mode=ro", uri=True); '
        f'print(json.dumps(db.execute("{query}").fetchall()))\''
    )
    written = json.loads(pbx.lab.run(read).stdout)
    assert [tuple(r) for r in written] == [("1001", ECHO, "ANSWERED")], written
    assert crew.text("#calls-total").startswith("1 call, 1 answered")
    per_location = crew.text("#calls-per-location")
    assert re.search(r"Hall A, lectern\s+1\s+0\s+0", per_location), per_location  # saal1 placed it
    assert re.search(r"\(not a phone\)\s+0\s+1\s+1", per_location), per_location  # the echo answered
    assert "Every number called was answered at least once." in crew.text("#calls")


def test_a_stopped_sip_client_turns_gone_within_the_promised_time(pbx, crew):
    promised = board.gone_within({"refresh_seconds": BOARD_REFRESH_SECONDS, "cache_seconds": BOARD_CACHE_SECONDS})
    assert f"shows gone within {promised} s" in crew.text("#promise")
    phone = pbx.phones.pop("saal2")
    phone.stop()  # SIGINT to its PID: baresip unregisters and quits
    stopped = time.monotonic()
    assert "saal2" not in live_contacts(pbx.lab)

    def gone() -> bool:
        try:  # the page reloads itself meanwhile: between two documents there is no row
            return dict(json.loads(crew.evaluate(ROWS))).get("saal2") == board.GONE
        except (BrowserError, TypeError, ValueError):
            return False

    took = wait_for(gone, promised + 5, "saal2 shown gone", step=0.2)
    took = time.monotonic() - stopped
    assert took <= promised, f"gone after {took:.1f} s, promised {promised} s"
    assert crew.text("#summary") == "3 of 4 phones ready"
    # the page keeps when it last saw each phone, for a restart (its state directory, its own)
    assert "saal2" in json.loads(pbx.lab.run(f"cat {BOARD_SEEN}").stdout)
    assert re.fullmatch(r"gone since \d\d:\d\d:\d\d", crew.text("#attention li[data-phone='saal2'] .state"))
    crew.screenshot(pbx.work / "board.png")  # docs/images/board.png is one of these
    print(f"screenshot: {pbx.work / 'board.png'} (gone after {took:.1f} s)")


def test_the_board_prints(pbx, crew):
    pdf = pbx.work / "board.pdf"
    pdf.write_bytes(
        base64.b64decode(crew.call("Page.printToPDF", session=True, paperWidth=8.27, paperHeight=11.7)["data"])
    )
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Log out" not in text  # the print CSS hides the form
    for number, name in (("1001", "Saal 1"), ("1101", "Info Desk 1"), ("1600", "Backoffice")):
        assert re.search(rf"{number}\s+{name}", text), text
    print(f"printed: {pdf}")


def test_the_teardown_ends_the_board_and_removes_the_crews_hash(pbx, crew):
    # after the others (it ends the page): `crew` is asked for so that it runs last in the file
    hand = "televoc_reset_by_hand=saal1,saal2,backoffice"  # the baresip phones were set up by hand
    run = pbx.run("teardown.py", "--data", f"selfservice__export_dir={pbx.work / 'claims'}", "--data", hand)
    assert run.returncode == 0, run.output
    assert "files: /var/lib/televoc-board" in run.output
    assert pbx.lab.run(f"test -e /var/lib/televoc-board || test -e {BOARD_SEEN}", check=False).returncode == 1
    assert status(pbx.lab, URL + "/board") == "000"
