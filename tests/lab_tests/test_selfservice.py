"""Self-service's database in the lab: a deploy with `self_service:` makes it, Asterisk 22
serves a number claimed in it live (PJSIP realtime through sorcery and res_config_sqlite3,
no reload), a redeploy keeps the claim, a crew number that is a claim is refused naming it,
and a teardown exports the claims and removes the database.

One lab for the module: the `pbx` fixture deploys. The claim of 2345 that the later tests
need is the `alice` fixture: it claims, once for the module and for whichever test asks
first, and times the registration right after the claim; the claim's test asserts on what it
measured. Each test therefore passes alone (`-k`) as in the whole file. File order still
matters for the whole-file run in two places: the first test (no claims yet) comes before
anything that asks for `alice`, and the teardown, which removes the database, comes last.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.deploys import REPO, Deployment, copy_example_event
from lab.lab import Lab
from lab.wait import wait_for
from roles.selfservice import schema
from roles.shared import names

pytestmark = pytest.mark.lab

SELF_SERVICE = """
self_service:
  claimable: {first: 2000, last: 2999}
  temporary: {first: 9000, last: 9099}
  info_desk: infodesk
"""
TOOL = names.SELFSERVICE_TOOL
DB = names.SELFSERVICE_DB


def uptime(lab: Lab) -> tuple[int, int]:
    """(seconds since Asterisk started, seconds since its last reload), parsed from
    `core show uptime seconds`; a line missing fails here, not later."""
    text = lab.asterisk("core show uptime seconds")
    up = re.search(r"^System uptime: (\d+)", text, re.M)
    reload = re.search(r"^Last reload: (\d+)", text, re.M)
    assert up and reload, text
    return int(up[1]), int(reload[1])


def claim(lab: Lab, number: str, name: str) -> dict:
    done = lab.run(f"{TOOL} claim {number} --name {name} --kind softphone", check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    work = tmp_path_factory.mktemp("selfservice")
    event = copy_example_event(work / "event")
    with open(event / "event.yml", "a") as f:
        f.write(SELF_SERVICE)
    with Lab(work / "lab") as lab:
        deployment = Deployment.prepare(lab, work, event)
        first = deployment.deploy("--data", "televoc_verify=report")
        assert first.returncode == 0, first.output
        deployment.first = first  # type: ignore[attr-defined]
        deployment.work = work  # type: ignore[attr-defined]
        yield deployment


def test_the_deploy_makes_the_database_for_asterisk_alone(pbx):
    stat = pbx.lab.run(f"stat -c '%U:%G %a' {DB} $(dirname {DB})").stdout.split("\n")
    assert stat[:2] == ["asterisk:asterisk 660", "asterisk:asterisk 2770"], stat
    read = json.loads(pbx.lab.run(f"{TOOL} read").stdout)
    assert read["revision"] == schema.HEAD and read["claims"] == []
    assert read["settings"]["claimable_first"] == "2000" and read["defaults"]["context"] == names.PHONE_CONTEXT
    assert "claimed numbers (self-service database, not waited for): 0 registered" in pbx.first.output


def test_the_labs_asterisk_loads_the_realtime_modules(pbx):
    for module in ("res_config_sqlite3.so", "res_sorcery_realtime.so"):
        listed = pbx.lab.asterisk(f"module show like {module}")
        assert re.search(rf"^{re.escape(module)}\s.*\bRunning\b", listed, re.M), listed


@pytest.fixture(scope="module")
def alice(pbx) -> dict:
    """Alice claims 2345 for a softphone with the tool, once for the module, and SIPp tries to
    register with the claim's password until it can (at most 2 s): the claim, how long the
    registration took after it (None: not within 2 s), and Asterisk's seconds since its last
    reload before the claim and after the registration, with the seconds in between."""
    lab = pbx.lab
    _, since_reload = uptime(lab)
    started = time.monotonic()
    given = claim(lab, "2345", "Alice")
    registered_after = None
    deadline = started + 2.0
    while time.monotonic() < deadline:  # bounded: 2 s
        if lab.register("2345", given["sip_password"], 5090, timeout=2):
            registered_after = time.monotonic() - started
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    _, after = uptime(lab)
    return {
        "given": given,
        "registered_after": registered_after,
        "since_reload": since_reload,
        "after": after,
        "elapsed": elapsed,
    }


def test_a_claimed_number_registers_within_2_s_and_rings_without_a_reload(pbx, alice):
    lab = pbx.lab
    given, registered_after = alice["given"], alice["registered_after"]
    assert registered_after is not None and registered_after < 2.0, "2345 did not register within 2 s of its claim"
    assert not lab.register("2345", given["sip_password"] + "x", 5091, timeout=2)  # the password is checked
    # Asterisk served it without a reload: the time since its last reload went on counting.
    since_reload, after, elapsed = alice["since_reload"], alice["after"], alice["elapsed"]
    assert after >= since_reload + int(elapsed), (since_reload, after, elapsed)
    endpoint = lab.asterisk("pjsip show endpoint 2345")
    assert '"Alice" <2345>' in endpoint and names.PHONE_CONTEXT in endpoint, endpoint
    # Another phone calls it: the claimed number's phone gets the INVITE and answers.
    phone = lab.start_phone("2345", given["sip_password"], 5092)
    try:
        assert phone.running
        wait_for(lambda: pbx.contacts().get("2345") == "Avail", 15, "baresip registered as 2345, answering qualify")
        saal1 = pbx.passwords()["saal1"]
        result = lab.call("saal1", saal1, "2345", 5093, expect_bye=False)
        assert result.answered, result.output
    finally:
        lab.stop_all_phones()


def test_a_redeploy_keeps_the_claim_and_reports_it_apart(pbx, alice):
    # Alice's claim of 2345, still held; registered now (from Asterisk's registrar)
    assert pbx.lab.register("2345", alice["given"]["sip_password"], 5094, timeout=5)
    run = pbx.deploy("--data", "televoc_verify=report")
    assert run.returncode == 0, run.output
    assert "No crew number takes a participant's claimed number" in run.output
    assert "claimed numbers (self-service database, not waited for): 1 registered: 2345" in run.output, run.output
    read = json.loads(pbx.lab.run(f"{TOOL} read").stdout)
    assert [c[:2] for c in read["claims"]] == [["2345", "Alice"]]
    # the database is current: the step sends nothing (pyinfra's results: hosts, success, error, no change)
    assert re.search(r"The self-service database is in place \(claims kept\)\s+1\s+-\s+-\s+1\s", run.output), run.output


def test_a_crew_phone_taking_a_claimed_number_is_refused_naming_the_claim(pbx, alice):
    # Alice's claim of 2345, still held
    event_yml = pbx.event / "event.yml"
    before_event, before_phones = event_yml.read_text(), (pbx.event / "phones.yml").read_text()
    try:
        # the range moves away from 2345 while it is claimed, and a crew phone takes it
        event_yml.write_text(
            before_event.replace("claimable: {first: 2000, last: 2999}", "claimable: {first: 2000, last: 2299}")
        )
        pbx.edit_phones(lambda phones: phones[2].update(extension=2345))
        run = pbx.deploy("--data", "televoc_verify=report")
        assert run.returncode != 0
        assert "'2345' is claimed by a participant as 'Alice' since" in run.output, run.output
        assert "have the participant release the claim first" in run.output
        read = json.loads(pbx.lab.run(f"{TOOL} read").stdout)
        assert [c[0] for c in read["claims"]] == ["2345"]
    finally:
        event_yml.write_text(before_event)
        (pbx.event / "phones.yml").write_text(before_phones)


def test_claims_py_exports_the_claims_for_the_directory(pbx, alice):
    # Alice's claim of 2345 (not listed: her choice), and Bob's of 2346, listed
    bob = pbx.lab.run(f"{TOOL} claim 2346 --name Bob --kind snom --in-directory", check=False)
    assert bob.returncode == 0, bob.stderr
    try:
        export_dir = Path(pbx.work) / "claims-now"
        run = pbx.run("claims.py", "--data", f"selfservice__export_dir={export_dir}")
        assert run.returncode == 0, run.output
        path = export_dir / "lab-claims.csv"
        rows = list(csv.reader(path.open()))
        assert [r[:4] for r in rows[1:]] == [["2345", "Alice", "0", "softphone"], ["2346", "Bob", "1", "snom"]]
        assert alice["given"]["sip_password"] not in path.read_text()  # no secret leaves the PBX
        assert f"{path}: 2 claims, 1 to be listed in the directory" in run.output, run.output
        out = Path(pbx.work) / "directory-with-claims"
        argv = [sys.executable, "-m", "roles.event", "directory", "--event", str(pbx.event), "--out", str(out)]
        env = dict(os.environ, TELEVOC_SECRET_FILE=str(pbx.secret))
        made = subprocess.run(
            [*argv, "--claims", str(path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
        )
        assert made.returncode == 0, made.stderr
        book = {e["number"]: e for e in json.loads((out / "directory.json").read_text())["entries"]}
        assert book["2346"]["name"] == "Bob" and book["2346"]["type"] == "phone"
        assert "2345" not in book  # Alice chose not to be listed
    finally:
        pbx.lab.run(f"{TOOL} release 2346 --by-crew")


def test_the_teardown_exports_the_claims_and_removes_the_database(pbx, alice):
    # Alice's claim of 2345, still held
    export_dir = Path(pbx.work) / "claims"
    # the example's phones were set up by hand (no MAC): the crew says it reset them
    hand = "televoc_reset_by_hand=saal1,saal2,backoffice"
    run = pbx.run("teardown.py", "--data", f"selfservice__export_dir={export_dir}", "--data", hand)
    assert "The claims are exported for the crew" in run.output, run.output
    rows = list(csv.reader((export_dir / "lab-claims.csv").open()))
    assert rows[0][:4] == ["number", "display_name", "in_directory", "kind"]
    assert rows[1][:4] == ["2345", "Alice", "0", "softphone"]
    assert pbx.lab.run(f"test -e $(dirname {DB})", check=False).returncode == 1
    assert "the self-service database (1 claims, exported)" in run.output
    assert run.returncode == 0, run.output
