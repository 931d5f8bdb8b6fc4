"""The call log in the lab. Off by default: a deploy of the example event writes no call
record anywhere. Turned on (`call_log: {enabled: true}`) in a redeploy, Asterisk 22 (already
running) loads cdr_sqlite3_custom and writes every call into a SQLite database on the PBX,
the asterisk user's and not world-readable; an answered and an unanswered call are there with
who called whom, how long and how it ended; calls.py exports them and prints the statistics;
a teardown exports the log to the crew's machine and leaves no call log file on the PBX.

One lab for the module. The state a test needs is a module-scoped fixture, set up once by
whichever test asks first, so each test passes alone (`-k NAME`) and in the whole file:
`pbx` deploys the example event (call log off); `logging_on` turns the call log on in a
redeploy; `two_calls` places the answered and the unanswered call and returns the call
log's rows. The off-by-default test asks for `pbx` alone and is first in the file, so it
sees the PBX before `logging_on` ran; the teardown test is last, as it removes the log.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from lab.callee import Callee, Dial
from lab.deploys import Deployment, copy_example_event
from lab.lab import Lab
from lab.wait import wait_for
from roles.calllog.stats import merged, statistics
from roles.shared.names import CALL_LOG_DB, CALL_LOG_TABLE

pytestmark = pytest.mark.lab

READ = f"""python3 -c '
import json, sqlite3
db = sqlite3.connect("file:{CALL_LOG_DB}?mode=ro", uri=True)
db.row_factory = sqlite3.Row
print(json.dumps([dict(r) for r in db.execute("SELECT * FROM {CALL_LOG_TABLE} ORDER BY start")]))
'"""
LOG_DIR = str(Path(CALL_LOG_DB).parent)


def rows(lab: Lab) -> list[dict]:
    done = lab.run(READ, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def answered_call(pbx: Deployment, caller: str, callee: str, number: str, port: int) -> None:
    """`caller` calls `number`, `callee` answers after half a second; they talk two seconds."""
    passwords = pbx.passwords()
    phone = Callee.started(pbx.lab, callee, passwords[callee], port, "answer:0.5")
    try:
        wait_for(lambda: pbx.contacts().get(callee) == "Avail", 20, f"{callee} registered and Avail")
        dial = Dial.start(pbx.lab, caller, passwords[caller], number, port + 2, hold=2)
        assert dial.wait(30) == 0, dial.messages()
    finally:
        phone.stop()
        pbx.lab.asterisk("channel request hangup all")


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    work = tmp_path_factory.mktemp("calllog")
    event = copy_example_event(work / "event")
    yml = event / "event.yml"
    yml.write_text(re.sub(r"^ring_timeout: .*$", "ring_timeout: 5", yml.read_text(), flags=re.M))
    with Lab(work / "lab") as lab:
        deployment = Deployment.prepare(lab, work, event)
        run = deployment.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        deployment.work = work  # type: ignore[attr-defined]
        yield deployment


@pytest.fixture(scope="module")
def logging_on(pbx):
    """The call log turned on in a redeploy; the redeploy's run. Asterisk has run since the
    first deploy, when no config named the module."""
    with open(pbx.event / "event.yml", "a") as f:
        f.write("call_log:\n  enabled: true\n")
    return pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")


@pytest.fixture(scope="module")
def two_calls(pbx, logging_on) -> list[dict]:
    """An answered call (saal1 to saal2) and an unanswered one (saal2 to the backoffice,
    which rings for ring_timeout): the call log's rows once both are written."""
    assert logging_on.returncode == 0, logging_on.output
    answered_call(pbx, "saal1", "saal2", "1002", 5210)
    lab, passwords = pbx.lab, pbx.passwords()
    ringing = Callee.started(lab, "backoffice", passwords["backoffice"], 5216, "ring")
    try:
        wait_for(lambda: pbx.contacts().get("backoffice") == "Avail", 20, "backoffice registered and Avail")
        unanswered = Dial.start(lab, "saal2", passwords["saal2"], "1600", 5218, timeout=30)
        unanswered.wait(30)
        final = unanswered.final()
        assert final is not None and final.status is not None and final.status >= 400, unanswered.messages()
    finally:
        ringing.stop()
        lab.asterisk("channel request hangup all")
    wait_for(lambda: len(merged(rows(lab))) >= 2, 10, "two calls in the call log")
    return rows(lab)


def test_off_by_default_no_call_is_recorded_anywhere(pbx):
    answered_call(pbx, "saal1", "saal2", "1002", 5202)
    status = pbx.lab.asterisk("cdr show status")
    assert re.search(r"Logging:\s+Disabled", status), status
    # the files in Asterisk's log directory: its security log and queue_log, no record of a call
    # (Debian's package makes the empty directories cdr-csv and cdr-custom)
    files = pbx.lab.run(f"find {LOG_DIR} -type f").stdout.split()
    assert sorted(files) == [f"{LOG_DIR}/queue_log", f"{LOG_DIR}/security"], files


def test_turned_on_in_a_redeploy_asterisk_writes_the_call_log(pbx, logging_on):
    run = logging_on
    assert run.returncode == 0, run.output
    assert "The call log is written by Asterisk, readable by it alone" in run.output
    listed = pbx.lab.asterisk("module show like cdr_sqlite3_custom.so")
    assert re.search(r"^cdr_sqlite3_custom\.so\s.*\bRunning\b", listed, re.M), listed
    status = pbx.lab.asterisk("cdr show status")
    assert re.search(r"Logging:\s+Enabled", status), status
    backends = status.split("Registered Backends", 1)[1].split("\n")[2:]
    assert [b.strip() for b in backends if b.strip()] == ["CDR sqlite3 custom"], status  # the only one


def test_calls_are_written_with_who_when_how_long_how_it_ended(two_calls):
    calls = two_calls
    # Asterisk writes a row per Dial() and one for the dialplan after a failed Dial(): the
    # unanswered call is two rows with the caller's linkedid; merged, they are one call.
    answered = [c for c in calls if c["disposition"] == "ANSWERED"]
    assert [(c["src"], c["dst"]) for c in answered] == [("1001", "1002")], calls
    assert 1 <= int(answered[0]["billsec"]) <= 4 and answered[0]["dstchannel"].startswith("PJSIP/saal2-"), calls
    merged_calls = merged(calls)
    assert [(c.src, c.dst, c.disposition) for c in merged_calls] == [
        ("1001", "1002", "ANSWERED"),
        ("1002", "1600", "NO ANSWER"),
    ], calls
    # it rang the backoffice for ring_timeout (5 s); nobody answered
    assert merged_calls[1].billsec == 0 and 4 <= merged_calls[1].duration <= 8, calls
    # how each ended (the caller's hangup handler): normal clearing; no answer
    assert [c.cause for c in merged_calls] == ["16", "19"], calls


def test_the_database_is_the_asterisk_users_and_not_world_readable(pbx, two_calls):
    stat = pbx.lab.run(f"stat -c '%U:%G %a' {CALL_LOG_DB}").stdout.strip()
    assert stat == "asterisk:asterisk 640", stat


def test_calls_py_exports_the_log_and_prints_the_statistics(pbx, two_calls):
    export_dir = Path(pbx.work) / "calls"
    run = pbx.run("calls.py", "--data", f"calllog__export_dir={export_dir}")
    assert run.returncode == 0, run.output
    assert "2 calls, 1 answered" in run.output, run.output
    assert re.search(r"Hall A, lectern\s+1\s+0\s+0", run.output), run.output
    assert re.search(r"Backoffice\s+0\s+1\s+0", run.output), run.output
    assert re.search(r"numbers never reached \(1\)\n\s+1600\s+1 calls\s+Backoffice", run.output), run.output
    exported = list(csv.DictReader((export_dir / "lab-calls.csv").open()))
    assert exported == [{k: str(v) for k, v in r.items()} for r in two_calls]
    assert oct((export_dir / "lab-calls.csv").stat().st_mode & 0o777) == "0o600"
    stats = statistics(merged(exported), {"1001": "Hall A, lectern", "1002": "Hall B, lectern", "1600": "Backoffice"})
    assert stats.total == 2 and stats.never_reached == ("1600",)


def test_the_teardown_exports_the_log_and_leaves_no_call_log_on_the_pbx(pbx, two_calls):
    export_dir = Path(pbx.work) / "teardown"
    hand = "televoc_reset_by_hand=saal1,saal2,backoffice"  # the example's phones have no MAC
    run = pbx.run("teardown.py", "--data", f"calllog__export_dir={export_dir}", "--data", hand)
    assert "The call log is exported for the crew" in run.output, run.output
    assert len(list(csv.DictReader((export_dir / "lab-calls.csv").open()))) == len(two_calls)
    found = pbx.lab.run(f"ls -A {LOG_DIR}").stdout.split()
    assert not [name for name in found if name.startswith("master.db")], found
    assert f"the call log ({CALL_LOG_DB}, exported)" in run.output, run.output
    assert run.returncode == 0, run.output
