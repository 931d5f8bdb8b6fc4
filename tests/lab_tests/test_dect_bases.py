"""A running DECT base in the lab (lab/snombase.py --serve, from the phone network, through
the PBX's firewall): it fetches its settings, registers every handset account from its one
address, answers qualify and check-sync (issue #23).

    dect-hall   0004136A0011  snomM700 at 10.23.0.41: crew-01 .. crew-32 (slots 1 to 32)
    dect-attic  0004136A0012  snomM300: attic-1 .. attic-3; never plugged in

The verification groups handsets by base: a base none of whose handsets is ready is one
line, with the address it last fetched its settings from. With fail2ban stricter than the default (3 failures in 60 s ban), 32 handsets register from
one address and stay registered: nothing counts a base's registrations against it. A handset
added later reaches the base without a visit: the deploy tells the base (check-sync through
one of its registered handsets), the base reboots and fetches its new settings, and the
deploy proves the fetch from the provisioning server's state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.bench.runs import counted_pyinfra
from lab.deploys import Deployment, Run
from lab.lab import Lab
from lab.snombase import Running
from lab.wait import wait_for
from roles import asterisk

PBX = "10.23.0.2"
HALL_IP = "10.23.0.41"
STRANGER_IP = "10.23.0.69"  # guesses a handset's password: banned
HALL = "0004136A0011"
SERVER = f"http://{PBX}:8088/televoc/"
HANDSETS = 32
SIP_JAIL = "televoc-sip"
DECT = """\
bases:
  - {name: dect-hall, model: snomM700, mac: "00:04:13:6a:00:11", location: Hall A}
  - {name: dect-attic, model: snomM300, mac: "00:04:13:6a:00:12", location: Attic}
"""
REPORT = ("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")


def phones() -> str:
    lines = ["phones:"]
    lines += [f"  - {{name: crew-{n:02d}, extension: {2100 + n}, base: dect-hall, slot: {n}}}" for n in range(1, 33)]
    lines += [f"  - {{name: attic-{n}, extension: {2200 + n}, base: dect-attic, slot: {n}}}" for n in range(1, 4)]
    return "\n".join(lines) + "\n"


@dataclass
class Bases:
    pbx: Deployment
    base: Running
    registered: dict  # the base's state once its 32 accounts were registered
    quiet: Run  # a deploy with nothing changed, the base up (remote commands counted)
    quiet_counts: dict  # what it sent over SSH (lab/bench/pyinfra_counted.py)
    added: Run  # a deploy after crew-33 was added on dect-hall (remote commands counted)
    added_counts: dict
    after: dict  # the base's state once it registered crew-33
    jails: str  # fail2ban's view of every jail after all that
    offline: Run  # a deploy after the base was unplugged
    contacts: str  # pjsip show contacts once the 32 were registered
    rang: dict  # the base's state once a call to 2117 (crew-17) reached it
    stale: list  # REGISTERs with a wrong password for crew-05 from the base's address: accepted?
    guessed: list  # the same from another address
    after_stale: str  # the SIP jail's status once the guesser was banned
    teardown: Run  # teardown.py with the base plugged in again; dect-attic reset by hand
    wiped: dict  # the base's state after the teardown


def counted(pbx: Deployment, work: Path, *args: str) -> tuple[Run, dict]:
    """deploy.py through the bench's counting pyinfra: the run and its remote commands, uploads."""
    argv = [str(pbx.inventory), "deploy.py", "-y", "--data", f"televoc_report_dir={work / 'reports'}", *args]
    rc, counts, _, output = counted_pyinfra(argv, pbx.event, pbx.secret, work / "counts.json", work / "counted.log")
    return Run(rc, output, ""), counts


@pytest.fixture(scope="module")
def dect(tmp_path_factory):
    tmp_path: Path = tmp_path_factory.mktemp("dectbases")
    with Lab(tmp_path / "lab") as lab:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text(
            f"name: dectbases\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n"
            "security: {ban_after: 3, find_seconds: 60, ban_seconds: 600}\n"
        )
        (event / "phones.yml").write_text(phones())
        (event / "dect.yml").write_text(DECT)
        pbx = Deployment.prepare(lab, tmp_path, event)
        first = pbx.deploy(*REPORT)
        assert first.returncode == 0, first.output
        lab.phone_address(HALL_IP)
        wait_for(lambda: lab.http_status_phone(HALL_IP, f"{SERVER}snomM700.htm") == "200", 30, "the server")
        base = Running.start(lab, tmp_path / "base", SERVER, "snomM700", HALL, HALL_IP)
        try:
            registered = base.wait(lambda s: len(s["registered"]) == HANDSETS, 60, f"{HANDSETS} registered")
            contacts = lab.asterisk("pjsip show contacts")
            lab.asterisk("channel originate Local/2117@from-internal application Wait 1")  # a call to crew-17
            rang = base.wait(lambda s: s["invites"] >= 1, 20, "rung")
            wait_for(
                lambda: "Currently banned" in lab.run(f"fail2ban-client status {SIP_JAIL}", check=False).stdout,
                30,
                "fail2ban",
            )
            # a stale password from the base's address (another port: the base holds 5060), then a guesser's
            stale = [lab.register("crew-05", "stale-password", 5131 + i, local_ip=HALL_IP) for i in range(4)]
            lab.phone_address(STRANGER_IP)
            guessed = [lab.register("crew-05", "guessed-password", 5141 + i, local_ip=STRANGER_IP) for i in range(4)]
            wait_for(
                lambda: STRANGER_IP in lab.run(f"fail2ban-client status {SIP_JAIL}", check=False).stdout,
                30,
                "the SIP jail to ban the guesser",
            )
            # fail2ban judges its log in order: the base's failures came before the guesser's ban
            after_stale = lab.run(f"fail2ban-client status {SIP_JAIL}", check=False).stdout
            quiet, quiet_counts = counted(pbx, tmp_path, *REPORT)
            pbx.edit_phones(lambda p: p.append({"name": "crew-33", "extension": 2133, "base": "dect-hall", "slot": 33}))
            added, added_counts = counted(pbx, tmp_path, *REPORT)
            after = base.wait(lambda s: "crew-33" in s["registered"] and len(s["registered"]) == 33, 60, "33 up")
            jails = lab.run(f"fail2ban-client status {SIP_JAIL}; fail2ban-client banned", check=False).stdout
            base.stop()  # unplugged: it unregisters its accounts
            offline = pbx.deploy(*REPORT)
            base = Running.start(lab, tmp_path / "base", SERVER, "snomM700", HALL, HALL_IP)  # plugged in again
            base.wait(lambda s: len(s["registered"]) == 33, 60, "33 registered again")
            teardown = pbx.run("teardown.py", "--data", "televoc_reset_by_hand=dect-attic")
            wiped = base.wait(lambda s: s["boots"] == 2 and not s["registered"], 30, "wiped")
            yield Bases(
                pbx,
                base,
                registered,
                quiet,
                quiet_counts,
                added,
                added_counts,
                after,
                jails,
                offline,
                contacts,
                rang,
                stale,
                guessed,
                after_stale,
                teardown,
                wiped,
            )
        finally:
            base.stop()


def test_the_base_fetches_its_files_and_registers_every_handset_from_its_one_address(dect):
    assert [status for _, status in dect.registered["fetched"]] == [200, 200, 200]
    passwords = dect.pbx.passwords()
    assert dect.registered["settings"]["user_pass.32"] == passwords["crew-32"]
    assert dect.registered["registered"] == [f"crew-{n:02d}" for n in range(1, 33)]
    for n in (1, 17, 32):
        assert re.search(rf"crew-{n:02d}/sip:crew-{n:02d}@{re.escape(HALL_IP)}:5060 .*Avail", dect.contacts), (
            dect.contacts
        )
    assert dect.registered["register_failures"] == 0


def test_a_call_to_a_handsets_number_reaches_the_base_on_that_handsets_account(dect):
    assert dect.rang["last_invite"] == f"INVITE sip:crew-17@{HALL_IP}:5060 SIP/2.0", dect.rang["last_invite"]


def test_thirty_handsets_on_one_address_trip_no_limit(dect):
    """ban_after 3: a limit that counted registrations, challenges or qualifies per source
    would have banned the base long ago."""
    assert "Currently banned:\t1" in dect.jails and STRANGER_IP in dect.jails, dect.jails  # the guesser only
    assert HALL_IP not in dect.jails
    assert dect.after["register_failures"] == 0
    assert dect.after["options"] > 0  # Asterisk qualifies every account at the base's one address


def test_a_deploy_with_nothing_changed_tells_no_base_and_sends_one_remote_command(dect):
    output = dect.quiet.output
    assert dect.quiet.returncode == 0, output
    assert (dect.quiet_counts["remote_commands"], dect.quiet_counts["uploads"]) == (1, 0), dect.quiet_counts
    assert "told to fetch its settings" not in output
    assert "DECT base dect-hall has not fetched" not in output
    assert "DECT base dect-attic (snomM300) has not fetched its current settings and cannot be told" in output


def test_a_handset_added_reaches_the_base_by_check_sync_and_registers(dect):
    output = dect.added.output
    assert dect.added.returncode == 0, output
    assert "DECT base dect-hall: told to fetch its settings (televoc-check-sync-reboot to crew-01)" in output
    assert re.search(
        rf"DECT base dect-hall fetched its settings \(version [0-9a-f]{{16}}\) from {re.escape(HALL_IP)} within",
        output,
    ), output
    assert dect.after["notifies"] == 1 and dect.after["last_notify_event"] == "check-sync;reboot=true"
    assert dect.after["boots"] == 2
    assert [status for _, status in dect.after["fetched"]] == [200, 200, 200]
    assert dect.after["settings"]["user_pass.33"] == dect.pbx.passwords()["crew-33"]
    assert not any(p in output for p in dect.pbx.passwords().values())


def test_a_base_never_seen_reads_as_one_line(dect):
    output = dect.quiet.output
    assert "base dect-attic (address unknown, snomM300) offline: 3 handsets" in output
    assert not re.search(r"not registered \(\d+\): .*attic-1", output), output


def test_an_unplugged_base_reads_as_one_line_not_thirty_three(dect):
    output = dect.offline.output
    assert dect.offline.returncode == 0, output
    assert "0 of 36 phones ready (MISSING 36)" in output
    assert f"base dect-hall ({HALL_IP}, snomM700) offline: 33 handsets" in output
    assert "base dect-attic (address unknown, snomM300) offline: 3 handsets" in output
    assert "crew-01" not in output.split("0 of 36 phones ready")[1]  # no handset named one by one


def test_teardown_wipes_the_base_and_proves_it_in_the_phones_report(dect):
    output = dect.teardown.output
    assert dect.teardown.returncode == 0, output
    assert re.search(rf"dect-hall: clean since \S+: fetched the wiped profile from {re.escape(HALL_IP)}", output), (
        output
    )
    assert "dect-attic: clean since" in output and "reset by hand, as the crew stated" in output
    assert "crew-01:" not in output  # a handset holds no credentials: its base is in the report
    assert dect.wiped["last_notify_event"] == "check-sync;reboot=true"
    assert [status for _, status in dect.wiped["fetched"]] == [200, 200, 200]
    held = dect.wiped["settings"]
    assert not any(key.startswith("user_active.") and value == "on" for key, value in held.items())
    assert "http_pass" not in held and "setting_server" not in held  # an empty value clears a setting
    secrets = set(dect.pbx.passwords().values())
    assert not secrets & set(held.values())  # no handset password left on the base
    assert "No objects found" in dect.pbx.lab.asterisk("pjsip show contacts")


def test_a_stale_handset_password_from_the_base_bans_nobody_and_a_guesser_is_banned(dect):
    """ban_after 3: four wrong passwords for crew-05 from the base's address ban nothing (the
    address a declared base fetched its settings from: the SIP jail's ignorecommand); the
    same four from another address ban it."""
    assert dect.stale == [False] * 4 and dect.guessed == [False] * 4
    assert STRANGER_IP in dect.after_stale and HALL_IP not in dect.after_stale, dect.after_stale
    assert HALL_IP not in dect.jails  # nor later: the base then reboots by check-sync and registers 33 (above)


# --- a base with one handset: spared for the address it fetched its settings from ----------

DESK_IP = "10.23.0.42"
DESK = "0004136A0013"
DESK_DECT = 'bases:\n  - {name: dect-desk, model: snomM300, mac: "00:04:13:6a:00:13", location: Info desk}\n'
SECURITY_LOG = asterisk.SECURITY_LOG
FAIL2BAN_LOG = "/var/log/televoc-lab/fail2ban.service.log"


@dataclass
class Lone:
    contacts: str  # pjsip show contacts once its one handset was registered
    stale: list  # REGISTERs with a wrong password for desk-1 from the base's address: accepted?
    guessed: list  # the same from another address
    jail: str  # the SIP jail's status once the guesser was banned
    failures: str  # the security log's failures from the base's address
    fail2ban: str  # fail2ban's log


@pytest.fixture(scope="module")
def lone(tmp_path_factory):
    tmp_path: Path = tmp_path_factory.mktemp("dectlone")
    with Lab(tmp_path / "lab") as lab:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text(
            f"name: dectlone\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n"
            "security: {ban_after: 3, find_seconds: 60, ban_seconds: 600}\n"
        )
        (event / "phones.yml").write_text("phones:\n  - {name: desk-1, extension: 2301, base: dect-desk, slot: 1}\n")
        (event / "dect.yml").write_text(DESK_DECT)
        pbx = Deployment.prepare(lab, tmp_path, event)
        first = pbx.deploy(*REPORT)
        assert first.returncode == 0, first.output
        lab.phone_address(DESK_IP)
        wait_for(lambda: lab.http_status_phone(DESK_IP, f"{SERVER}snomM300.htm") == "200", 30, "the server")
        base = Running.start(lab, tmp_path / "base", SERVER, "snomM300", DESK, DESK_IP)
        try:
            base.wait(lambda s: s["registered"] == ["desk-1"], 60, "its one handset registered")
            contacts = lab.asterisk("pjsip show contacts")
            wait_for(
                lambda: "Currently banned" in lab.run(f"fail2ban-client status {SIP_JAIL}", check=False).stdout,
                30,
                "fail2ban",
            )
            stale = [lab.register("desk-1", "stale-password", 5131 + i, local_ip=DESK_IP) for i in range(4)]
            lab.phone_address(STRANGER_IP)
            guessed = [lab.register("desk-1", "guessed-password", 5141 + i, local_ip=STRANGER_IP) for i in range(4)]
            wait_for(
                lambda: STRANGER_IP in lab.run(f"fail2ban-client status {SIP_JAIL}", check=False).stdout,
                30,
                "the SIP jail to ban the guesser",
            )
            # fail2ban judges its log in order: the base's failures came before the guesser's ban
            jail = lab.run(f"fail2ban-client status {SIP_JAIL}", check=False).stdout
            failures = lab.run(f"grep -F 'IPV4/UDP/{DESK_IP}/' {SECURITY_LOG}", check=False).stdout
            yield Lone(contacts, stale, guessed, jail, failures, lab.run(f"cat {FAIL2BAN_LOG}", check=False).stdout)
        finally:
            base.stop()


def test_a_base_with_one_handset_is_not_banned_for_its_wrong_passwords_a_guesser_is(lone):
    """ban_after 3: four wrong passwords for desk-1 from the address its base fetched its
    settings from (the one account registered there) ban nothing; the same from another
    address ban it. Spared by the jail's ignorecommand, not unseen: the failures are in
    Asterisk's security log and fail2ban says why it let the base be."""
    assert len(re.findall(r"^\s+Contact:\s+desk-1/", lone.contacts, re.M)) == 1, lone.contacts
    assert f"desk-1@{DESK_IP}:5060" in lone.contacts, lone.contacts
    assert lone.stale == [False] * 4 and lone.guessed == [False] * 4
    assert lone.failures.count("ChallengeResponseFailed") >= 4, lone.failures
    assert "Currently banned:\t1" in lone.jail and STRANGER_IP in lone.jail, lone.jail
    assert DESK_IP not in lone.jail, lone.jail
    assert f"[{SIP_JAIL}] Ignore {DESK_IP} by command" in lone.fail2ban, lone.fail2ban[-3000:]
    assert f"[{SIP_JAIL}] Ignore {STRANGER_IP}" not in lone.fail2ban
