"""Buildup against the lab: the real pyinfra CLI over SSH into a Debian sid chroot running a
real Asterisk 22, with baresip and SIPp as phones.

The tests of this module share one lab and run in file order, like the runs of a buildup day:
first deploy, rerun, a phone missing, a same-length password change, a broken NixOS config.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from lab.deploys import Deployment, copy_example_event
from lab.lab import Lab
from lab.wait import wait_for

PORTS = {"saal1": 5071, "saal2": 5072, "backoffice": 5073}
SECRETS_PATH = "/var/lib/televoc/pjsip-secrets.conf"


@dataclass
class Buildup(Deployment):
    work: Path | None = None
    phones: dict = field(default_factory=dict)
    first: object = None  # the first deploy's Run (the fixture runs it)

    def start_phone(self, name: str, password: str | None = None):
        self.stop_phone(name)
        password = password or self.passwords()[name]
        self.phones[name] = self.lab.start_phone(name, password, PORTS[name])

    def stop_phone(self, name: str):
        phone = self.phones.pop(name, None)
        if phone is not None:
            phone.stop()

    def asterisk_pid(self) -> str:
        return self.lab.run("cat /run/televoc-lab/asterisk.pid").stdout.strip()


def results(run) -> dict[str, tuple[str, str, str]]:
    """pyinfra's results table: operation -> (success, error, no change) for the one host."""
    table = run.output.split("--> Results:")[1].split("--> Disconnecting")[0]
    rows = {}
    for line in table.splitlines()[2:]:
        match = re.match(r"^\s+(.+?)\s+1\s+(\S+)\s+(\S+)\s+(\S+)\s*$", line)
        if match and not match[1].startswith("Grand total"):
            rows[match[1]] = (match[2], match[3], match[4])
    return rows


@pytest.fixture(scope="module")
def buildup(tmp_path_factory):
    work = tmp_path_factory.mktemp("buildup")
    lab = Lab(work / "lab")
    lab.up()
    try:
        b = Buildup.prepare(lab, work, copy_example_event(work / "event"))
        b.work = work

        # The first deploy; the phones are plugged in while it runs, as soon as Asterisk answers.
        def plug_in():
            wait_for(lambda: "Asterisk" in lab.asterisk("core show version"), 120, "Asterisk")
            for name in PORTS:
                b.start_phone(name)

        plugger = threading.Thread(target=plug_in, daemon=True)
        plugger.start()
        b.first = b.deploy("--data", "televoc_register_wait=60")
        plugger.join(timeout=130)
        yield b
    finally:
        lab.down()  # stops the phones too


def test_first_deploy_brings_asterisk_up_and_all_phones_register(buildup):
    run = buildup.first
    assert run.returncode == 0, run.output
    assert "all 3 phones are registered" in run.output
    for name, extension in (("saal1", "1001"), ("saal2", "1002"), ("backoffice", "1600")):
        row = rf"^\s*{name}\s+{extension}\s+sip:{name}\S*@127\.0\.0\.1:{PORTS[name]}\s+Avail\s+[\d.]+ ms\s+baresip"
        assert re.search(row, run.output, re.M), run.output
    assert re.search(r"default_realm\s+: example-event", buildup.lab.asterisk("pjsip show settings"))


def test_second_run_changes_nothing(buildup):
    pid = buildup.asterisk_pid()
    generations = buildup.lab.run("ls /nix/var/nix/profiles").stdout
    module = buildup.lab.run("stat -c %Y /etc/nixos/televoc/asterisk.nix").stdout
    run = buildup.deploy("-v")
    assert run.returncode == 0, run.output
    assert "NixOS already serves this Asterisk config" in run.output
    assert "Asterisk already serves config generation" in run.output
    assert "/etc/nixos/televoc/asterisk.nix is already up to date" in run.output
    assert f"{SECRETS_PATH} is already up to date" in run.output
    assert buildup.asterisk_pid() == pid
    assert buildup.lab.run("ls /nix/var/nix/profiles").stdout == generations
    assert buildup.lab.run("stat -c %Y /etc/nixos/televoc/asterisk.nix").stdout == module
    changed = {op for op, (success, error, unchanged) in results(run).items() if unchanged != "1"}
    assert changed == {
        "Phones | Every phone is registered",
        "Run | The run is marked as changing the PBX",
        "Run | The run finished: its mark is removed",
    }, results(run)  # these two: no command
    assert "did not finish" not in run.output


def test_unregistered_phone_fails_the_run_and_is_named(buildup):
    buildup.stop_phone("backoffice")  # baresip unregisters on SIGINT
    wait_for(lambda: "backoffice" not in buildup.contacts(), 15, "backoffice to unregister")
    run = buildup.deploy("--data", "televoc_register_wait=3")
    assert run.returncode != 0
    assert "2 of 3 phones ready (Avail 2, MISSING 1) after 3 s; not ready:" in run.output, run.output
    assert re.search(r"^\s*not registered \(1\): backoffice$", run.output, re.M), run.output
    assert re.search(r"^\s*backoffice\s+1600\s+-\s+MISSING", run.output, re.M)
    assert "backoffice,1600,,MISSING" in (buildup.event.parent / "reports" / "lab-phones.csv").read_text()

    report = buildup.deploy("--data", "televoc_register_wait=30", "--data", "televoc_verify=report")
    assert report.returncode == 0, report.output
    assert "2 of 3 phones ready (Avail 2, MISSING 1) (televoc_verify=report: not failing)" in report.output
    assert "waiting up to" not in report.output  # a report run does not make the crew wait

    buildup.start_phone("backoffice")
    wait_for(lambda: buildup.contacts().get("backoffice") == "Avail", 30, "backoffice back")


def test_calls_reach_another_phone_and_hello_world_answers(buildup):
    password = buildup.passwords()["saal1"]
    to_saal2 = buildup.lab.call("saal1", password, "1002", local_port=5091, hold_seconds=1)
    assert to_saal2.answered, to_saal2.output
    hello = buildup.lab.call("saal1", password, "100", local_port=5092, expect_bye=True)
    assert hello.answered and hello.remote_bye, hello.output


def test_secrets_stay_out_of_the_store_the_module_and_the_output(buildup):
    assert buildup.lab.run(f"stat -c '%a %U %G' {SECRETS_PATH}").stdout.split() == ["640", "root", "asterisk"]
    run = buildup.deploy("-vv")  # the most talkative output there is short of --debug
    assert run.returncode == 0, run.output
    for password in buildup.passwords().values():
        found = buildup.lab.run(f"grep -rlF -- '{password}' /nix/store /etc/nixos /etc/asterisk/ || true").stdout
        assert found.strip() == "", f"a password is in {found}"
        assert password not in run.output
        assert buildup.lab.run(f"grep -cF -- '{password}' {SECRETS_PATH}").stdout.strip() == "1"


def test_same_length_password_change_is_live(buildup):
    old = buildup.passwords()["saal1"]
    new = secrets.token_hex(len(old))[: len(old)]
    assert len(new) == len(old) and new != old
    assert buildup.contacts().get("saal1") == "Avail"  # registered with the old password
    buildup.edit_phones(lambda phones: phones[0].update(password=new))
    run = buildup.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
    assert run.returncode == 0, run.output
    assert "saal1: password changed: its registration made with the old one is dropped" in run.output
    assert "not registered since its password changed (its old registration was dropped) (1): saal1" in run.output
    assert "saal1" not in buildup.contacts(), "a registration made with the old password still counts"
    assert not buildup.lab.register("saal1", old, 5081), "the old password still works"
    assert buildup.lab.register("saal1", new, 5082), "the new password is refused"
    buildup.start_phone("saal1")
    wait_for(lambda: buildup.contacts().get("saal1") == "Avail", 30, "saal1 with its new password")


def test_nix_evaluation_error_leaves_the_old_config_serving(buildup):
    configuration = buildup.lab.root / "etc/nixos/configuration.nix"
    good = configuration.read_text()
    static = buildup.lab.run("readlink /etc/static").stdout
    pid = buildup.asterisk_pid()
    saal2 = buildup.passwords()["saal2"]
    try:
        configuration.write_text(good.replace("networking.hostName", "networking.hostName = ;\n  x"))
        # a change of the store files (display name) needs a switch; the password rides along
        buildup.edit_phones(
            lambda phones: phones[1].update(password="changed-password-0123456789", display_name="Saal Zwei")
        )
        run = buildup.deploy()
        assert run.returncode != 0
        assert "the previous generation keeps serving" in run.output, run.output
        assert buildup.lab.run("readlink /etc/static").stdout == static
        assert buildup.asterisk_pid() == pid
        assert buildup.contacts() == {"saal1": "Avail", "saal2": "Avail", "backoffice": "Avail"}
        assert buildup.lab.register("saal2", saal2, 5083), "the old password no longer works"
        buildup.start_phone("saal2", password=saal2)  # take the contact back from SIPp
    finally:
        configuration.write_text(good)
    run = buildup.deploy("--data", "televoc_register_wait=0", "--data", "televoc_verify=report")
    assert run.returncode == 0, run.output
    assert buildup.lab.register("saal2", "changed-password-0123456789", 5084)
    buildup.start_phone("saal2")


def test_missing_import_stops_with_the_line_to_add(buildup):
    configuration = buildup.lab.root / "etc/nixos/configuration.nix"
    good = configuration.read_text()
    try:
        configuration.write_text(good.replace("imports = [ ./televoc/asterisk.nix ];", ""))
        run = buildup.deploy()
        assert run.returncode != 0
        assert "imports = [ ./televoc/asterisk.nix ];" in run.output
        assert "does not import televoc's module" in run.output
    finally:
        configuration.write_text(good)


def test_ssh_dropped_during_the_switch_leaves_the_old_config_serving(buildup):
    """The cable to the PBX is pulled while nixos-rebuild runs; a rerun finishes the job."""

    rebuild = buildup.lab.root / "usr/local/sbin/nixos-rebuild"
    real = rebuild.with_name("nixos-rebuild.real")
    rebuild.rename(real)
    rebuild.write_text(
        '#!/bin/sh\ntouch /run/televoc-lab/switch-started\nsleep 30\nexec /usr/local/sbin/nixos-rebuild.real "$@"\n'
    )
    rebuild.chmod(0o755)
    old = buildup.passwords()["backoffice"]
    new = "dropped-cable-password-01"
    started = buildup.lab.root / "run/televoc-lab/switch-started"
    try:
        buildup.edit_phones(lambda phones: phones[2].update(password=new, display_name="Back Office"))
        proc = buildup.start_deploy()
        try:
            wait_for(started.exists, 60, "the switch to start")
            assert buildup.lab.drop_ssh_connections() >= 1
            output, _ = proc.communicate(timeout=60)
        finally:
            proc.kill() if proc.poll() is None else None
        assert proc.returncode != 0
        assert "lost the connection during `nixos-rebuild switch`" in output, output
        assert "keeps serving the previous config" in output
        for pid in buildup.lab.pids_running("nixos-rebuild"):  # the orphaned remote switch
            os.kill(pid, 9)
        assert buildup.contacts() == {"saal1": "Avail", "saal2": "Avail", "backoffice": "Avail"}
        assert buildup.lab.register("backoffice", old, 5085), "the old password stopped working"
    finally:
        real.rename(rebuild)
        started.unlink(missing_ok=True)
    run = buildup.deploy("--data", "televoc_register_wait=0", "--data", "televoc_verify=report")
    assert run.returncode == 0, run.output
    assert buildup.lab.register("backoffice", new, 5086)
    assert not buildup.lab.register("backoffice", old, 5087)
    buildup.start_phone("backoffice")
    wait_for(lambda: len(buildup.contacts()) == 3, 30, "every phone registered again")


def test_a_config_asterisk_rejects_fails_the_run_and_the_old_one_keeps_serving(buildup):
    """Asterisk cannot read the passwords (a secrets path in root's home): its reload prints
    success, but the config is refused; televoc sees it from the generation marker."""
    passwords = buildup.passwords()
    buildup.edit_phones(lambda phones: phones[0].update(display_name="Saal Eins"))
    run = buildup.deploy("--data", "asterisk__secrets_path=/root/televoc/pjsip-secrets.conf")
    assert run.returncode != 0
    assert "Asterisk rejected the new config" in run.output, run.output
    assert "keeps serving what it had (phones stay registered)" in run.output
    assert buildup.contacts() == {"saal1": "Avail", "saal2": "Avail", "backoffice": "Avail"}
    assert buildup.lab.register("saal2", passwords["saal2"], 5088), "the old config stopped serving"
    buildup.start_phone("saal2")
    fixed = buildup.deploy("--data", "televoc_register_wait=30")
    assert fixed.returncode == 0, fixed.output
    assert 'callerid="Saal Eins" <1001>' in buildup.lab.run("cat /etc/asterisk/pjsip_endpoints.conf").stdout


def test_a_new_sip_port_is_live_after_the_run(buildup):
    event_yml = buildup.event / "event.yml"
    original = event_yml.read_text()
    try:
        event_yml.write_text(original.replace("port: 5060", "port: 5070"))
        run = buildup.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        assert "5070" in buildup.lab.asterisk("pjsip show transports")
    finally:
        event_yml.write_text(original)
    run = buildup.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
    assert run.returncode == 0, run.output
    assert "0.0.0.0:5060" in buildup.lab.asterisk("pjsip show transports")
    for name in PORTS:
        buildup.start_phone(name)
    wait_for(lambda: len(buildup.contacts()) == 3, 40, "every phone registered on 5060 again")


def test_dry_diff_reviews_every_change_without_applying_it_and_shows_no_password(buildup):
    old_password = buildup.passwords()["saal2"]
    old_name = yaml.safe_load((buildup.event / "phones.yml").read_text())["phones"][1].get("display_name", "saal2")
    generation = buildup.lab.run("cat /var/lib/televoc/pjsip-secrets.conf | grep '^; generation'").stdout
    new_password = "Tq8-vR2x-Zm7k-Lp4w"
    buildup.edit_phones(lambda phones: phones[1].update(display_name="Saal Zwo", password=new_password))
    try:
        review = buildup.deploy("--dry", "--diff", yes=False)
        assert review.returncode == 0, review.output
        out = review.output
        assert f"will change: ~ saal2 (1002): display_name '{old_name}' -> 'Saal Zwo', password" in out, out
        assert re.search(rf'^\s*-\s*callerid="{old_name}" <1002>$', out, re.M), out  # the module's diff
        assert re.search(r'^\s*\+\s*callerid="Saal Zwo" <1002>$', out, re.M), out
        assert "will switch NixOS" in out and "will reload Asterisk" in out
        for secret in (old_password, new_password):
            assert secret not in out, "a password in the review"
        # nothing was applied
        assert buildup.lab.run("cat /var/lib/televoc/pjsip-secrets.conf | grep '^; generation'").stdout == generation
        assert buildup.lab.register("saal2", old_password, 5089)
        applied = buildup.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert applied.returncode == 0, applied.output
        assert f"~ saal2 (1002): display_name '{old_name}' -> 'Saal Zwo', password" in applied.output
        assert new_password not in applied.output
    finally:
        buildup.edit_phones(lambda phones: phones[1].update(display_name=old_name, password=old_password))
    restored = buildup.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
    assert restored.returncode == 0, restored.output
    buildup.start_phone("saal2")
    wait_for(lambda: buildup.contacts().get("saal2") == "Avail", 30, "saal2 back")
