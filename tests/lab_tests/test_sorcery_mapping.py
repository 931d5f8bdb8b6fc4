"""PJSIP reads the phones' endpoints, aors and auths from files of their own (sorcery.conf),
and Asterisk applies sorcery.conf only when it starts: an Asterisk that started without
televoc's (a PBX deployed by an earlier televoc, a config written by hand) is restarted, not
reloaded, and then serves the phones; the next run reloads as before. The same when
self-service is turned on at a running PBX: its realtime lines in sorcery.conf take effect
(a claim is an endpoint of Asterisk's at once). The tests run in file order on one lab."""

from __future__ import annotations

import json
import time

import pytest

from lab.deploys import Deployment
from lab.lab import Lab
from roles.shared.names import PJSIP_TYPE_FILES, SELFSERVICE_TOOL

PBX = "10.23.0.2"


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("mapping")
    with Lab(tmp_path / "lab") as lab:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text(f"name: mapping\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n")
        (event / "phones.yml").write_text(
            "phones:\n  - {name: hall1, extension: 2001}\n  - {name: hall2, extension: 2002}\n"
        )
        pbx = Deployment.prepare(lab, tmp_path, event)
        run = report(pbx)
        assert run.returncode == 0, run.output
        yield pbx


def report(pbx, *args: str):
    return pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0", *args)


def booted(lab: Lab) -> str:
    """Asterisk's PID once it has fully booted (bounded: 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "fully booted" in lab.asterisk("core waitfullybooted"):
            return lab.run("cat /run/asterisk/asterisk.pid").stdout.strip()
        time.sleep(0.2)
    raise AssertionError("Asterisk did not boot within 30 s")


def aors(lab: Lab) -> str:
    return lab.asterisk("pjsip show aors")


def test_an_asterisk_started_without_televocs_sorcery_conf_is_restarted_and_serves_the_phones(pbx):
    lab = pbx.lab
    # Asterisk starts with its default mapping (every type from pjsip.conf), as one started
    # before this televoc or with a hand-written config would run
    lab.run("systemctl stop asterisk.service; rm /etc/asterisk/sorcery.conf; systemctl start asterisk.service")
    old = booted(lab)
    assert "pjsip_endpoints.conf" not in lab.asterisk("config list")
    assert "hall1" not in aors(lab)  # what a reload alone would leave: no phone served
    review = pbx.deploy("--dry", yes=False)
    assert review.returncode == 0 and "will restart Asterisk" in review.output, review.output
    assert booted(lab) == old  # a dry run changes nothing
    run = report(pbx)
    assert run.returncode == 0, run.output
    assert "Asterisk was restarted, not reloaded: it did not read pjsip_endpoints.conf" in run.output, run.output
    new = booted(lab)
    assert new != old
    listed = lab.asterisk("config list")
    assert all(f"/etc/asterisk/{name}" in listed for name in PJSIP_TYPE_FILES.values()), listed
    assert "hall1" in aors(lab) and "hall2" in aors(lab)
    again = report(pbx)
    assert again.returncode == 0, again.output
    assert "restarted" not in again.output and booted(lab) == new


def test_self_service_turned_on_at_a_running_pbx_restarts_asterisk_and_claims_are_served(pbx):
    lab = pbx.lab
    old = booted(lab)
    with (pbx.event / "event.yml").open("a") as f:
        f.write("self_service:\n  claimable: {first: 3000, last: 3999}\n  temporary: {first: 9000, last: 9099}\n")
        f.write("  info_desk: hall1\n")
    run = report(pbx)
    assert run.returncode == 0, run.output
    assert "Asterisk was restarted, not reloaded: its sorcery.conf changes in this run" in run.output, run.output
    assert booted(lab) != old
    claim = json.dumps({"number": "3001", "name": "Alice"})
    lab.run(f"echo {claim!r} | {SELFSERVICE_TOOL} claim-many")
    endpoint = lab.asterisk("pjsip show endpoint 3001")
    assert "Endpoint:  3001" in endpoint and "Unable to find" not in endpoint, endpoint  # read from the database
