"""Teardown variants against the lab: factory reset over HTTP, a phone that cannot be reached,
and stopping the PBX instead of removing the accounts."""

from __future__ import annotations

import os
import secrets
import textwrap
from unittest import mock

import pytest

from roles.event import load_directory
from tests.lab.deploys import run_pyinfra, write_inventory
from tests.lab.lab import Lab
from tests.lab.snom import SnomFleet, SnomPhone

URL = "http://127.0.0.1:8088/static/televoc/{mac}.xml"
MACS = {"room1": ("000413B00001", "127.0.0.21", 5071), "room2": ("000413B00002", "127.0.0.22", 5072)}


@pytest.fixture
def event(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.up()
    fleet = SnomFleet(lab, tmp_path / "snom")
    try:
        directory = tmp_path / "event"
        directory.mkdir()
        (directory / "event.yml").write_text("name: variants\nnetwork: 127.0.0.0/8\npbx_address: 127.0.0.1\n")
        (directory / "phones.yml").write_text(textwrap.dedent(f"""\
            phones:
              - {{name: room1, extension: 3001, mac: "{MACS['room1'][0]}", model: snom320}}
              - {{name: room2, extension: 3002, mac: "{MACS['room2'][0]}", model: snom320}}
              - {{name: lobby, extension: 3003}}
            """))
        secret = tmp_path / "event.secret"
        secret.write_text(secrets.token_urlsafe(48))
        inventory = write_inventory(tmp_path / "inventory.py", lab.pyinfra_host_data())

        def run(deploy, *args):
            return run_pyinfra(inventory, deploy, directory, secret, *args)

        assert run("deploy.py", "--data", "televoc_verify=report", "--data", "televoc_register_wait=0").returncode == 0
        fleet.start([SnomPhone(mac, port, 80, URL, ip=ip) for mac, ip, port in MACS.values()])
        for mac, _, _ in MACS.values():
            fleet.wait(mac, lambda s: s["registered"], what="registered")
        with mock.patch.dict(os.environ, {"TELEVOC_SECRET_FILE": str(secret)}):
            passwords = {a.name: a.password for a in load_directory(directory).accounts}
        yield lab, fleet, run, passwords
    finally:
        fleet.stop()
        lab.down()


def test_factory_reset_over_http_leaves_phones_empty(event):
    lab, fleet, run, _ = event
    result = run("teardown.py", "--data", "televoc_factory_reset=true")
    assert result.returncode == 0, result.output
    assert "reset to factory settings: room1, room2" in result.output
    for mac, _, _ in MACS.values():
        state = fleet.wait(mac, lambda s: s["resets"] == 1 and not s["registered"], what="factory reset")
        assert state["settings"] == {}
    assert "No objects found" in lab.asterisk("pjsip show endpoints")
    again = run("teardown.py", "--data", "televoc_factory_reset=true", "-v")
    assert again.returncode == 0, again.output
    assert "no phone to reset to factory settings" in again.output
    assert all(fleet.state(mac)["resets"] == 1 for mac, _, _ in MACS.values())


def test_a_phone_that_keeps_the_credentials_fails_teardown_and_is_named(event):
    lab, fleet, run, passwords = event
    fleet.stop()  # the phones are unplugged: they never see the wipe
    assert lab.register("room1", passwords["room1"], 5091), "room1 could not register"  # a stale contact
    result = run("teardown.py", "--data", "snom__wipe_wait=4")
    assert result.returncode != 0
    assert "still holding the event's credentials: room1" in result.output, result.output
    # the accounts are removed all the same
    assert "No objects found" in lab.asterisk("pjsip show endpoints")
    assert "No objects found" in lab.asterisk("pjsip show contacts"), result.output + lab.asterisk("database show registrar")


def test_teardown_can_stop_the_pbx(event):
    lab, fleet, run, _ = event
    result = run("teardown.py", "--data", "televoc_teardown=stop")
    assert result.returncode == 0, result.output
    assert "Unable to connect" in lab.run("asterisk -C /etc/asterisk/asterisk.conf -rx 'core show version' 2>&1 || true").stdout
    assert lab.run("ls /etc/asterisk/ | wc -l").stdout.strip() == "0"
    assert lab.run("ls -A /var/lib/televoc/").stdout.split() == ["provisioning.manifest"]  # no secrets
    assert lab.run("cat /var/lib/asterisk/static-http/televoc/*.xml | grep -c 'user_pass idx=\"1\" perm=\"R\"></user_pass>'").stdout.strip() == "2"
    for mac, _, _ in MACS.values():
        assert not fleet.state(mac)["registered"]
    again = run("teardown.py", "--data", "televoc_teardown=stop", "-v")
    assert again.returncode == 0, again.output
    for noop in ("provisioning files of 2 phones are already published", "no NOTIFY sent",
                 "NixOS already serves this Asterisk config", "already absent", "already up to date",
                 "Asterisk is not running: no phone can be registered"):
        assert noop in again.output, again.output
