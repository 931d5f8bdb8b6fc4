"""The lab keeps its promises (this was the lab's selftest.py).

A hand-written services.asterisk config is deployed the way a user would (ssh + nixos-rebuild
switch); the tests check the NixOS-like store and links, SIP registration and calls, a baresip
phone, failed evaluations changing nothing, no restart on an unchanged switch, the
same-length-password reload bug, stopping and starting by `enable`, a clean down() and the
command line.

The tests of the first part share one lab and run in file order; each one brings the lab into
the state it needs when it is not there yet (see SelfTestLab), so any of them also runs alone.
down() and the command line each get a lab of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.lab import IP, Lab, _mounts_under, _proc_alive
from lab.sip import Phone
from lab.wait import until, wait_for

REPO = Path(__file__).resolve().parents[2]
CONFIG = """\
{ config, lib, pkgs, ... }:
{
  services.asterisk = {
    enable = @ENABLE@;
    confFiles = {
      "pjsip.conf" = ''
        [transport-udp]
        type=transport
        protocol=udp
        bind=127.0.0.1:5060
        [saal1]
        type=endpoint
        context=from-internal
        disallow=all
        allow=gsm,ulaw,alaw
        auth=saal1
        aors=saal1
        [saal1]
        type=auth
        auth_type=userpass
        username=saal1
        password=@PASSWORD@
        [saal1]
        type=aor
        max_contacts=1
        remove_existing=yes
        qualify_frequency=30
      '';
      "extensions.conf" = ''
        [from-internal]
        exten => 100,1,Answer()
         same => n,Wait(1)
         same => n,Playback(hello-world)
         same => n,Hangup()
        exten => 200,1,Dial(PJSIP/saal1,10)
         same => n,Hangup()
      '';
    };
  };
}
"""
PW1, PW2, PW3 = "averylongpassword1", "averylongpassword2", "averylongpassword-3"  # PW2: PW1's length
PHONE_PORT = 5090  # the baresip phone's SIP port


def config(password: str = PW1, enable: bool = True) -> str:
    return CONFIG.replace("@PASSWORD@", password).replace("@ENABLE@", "true" if enable else "false")


def netns_names() -> set[str]:
    out = subprocess.run([IP, "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def namespaces_of(lab_or_state) -> set[str]:
    """The lab's network namespaces: its own and, where the lab has one, the phone network's."""
    get = lab_or_state.get if isinstance(lab_or_state, dict) else lambda k: getattr(lab_or_state, k, None)
    return {name for name in (get("netns"), get("phones_netns")) if name}


@dataclass
class SelfTestLab:
    """A lab, deployed to over ssh, and what was deployed to it."""

    lab: Lab
    password: str | None = None  # of the last successful switch (None: no switch yet)
    enabled: bool = False
    phone: Phone | None = None  # baresip as saal1, started before the first switch
    pids: dict[str, int] = field(default_factory=dict)

    def ssh(self, command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.lab.ssh_command(command), input=stdin, capture_output=True, text=True, timeout=60, check=False
        )

    def deploy(self, text: str) -> subprocess.CompletedProcess:
        """Upload televoc/asterisk.nix and switch, over ssh, as the deploy will."""
        self.ssh("mkdir -p /etc/nixos/televoc && cat > /etc/nixos/televoc/asterisk.nix", stdin=text)
        return self.ssh("nixos-rebuild switch")

    def switch(self, password: str = PW1, enable: bool = True) -> subprocess.CompletedProcess:
        r = self.deploy(config(password, enable))
        if r.returncode == 0:
            self.password, self.enabled = password, enable
        return r

    def active(self) -> subprocess.CompletedProcess:
        return self.lab.run("systemctl is-active asterisk", check=False)

    def asterisk_pid(self) -> str:
        return self.lab.run("cat /run/televoc-lab/asterisk.pid", check=False).stdout.strip()

    def static(self) -> str:
        return self.lab.run("readlink /etc/static").stdout.strip()

    def contacts(self) -> str:
        return self.lab.asterisk("pjsip show contacts")

    # --- the states the tests start from ------------------------------------------------
    def first_switch(self) -> subprocess.CompletedProcess:
        """Start the phone while there is no PBX yet, then deploy config(PW1)."""
        assert self.password is None, "the first switch was done already"
        self.phone = self.lab.start_phone("saal1", PW1, PHONE_PORT)
        self.pids["phone"] = self.phone.pid
        r = self.switch(PW1)
        if r.returncode == 0:
            self.pids["asterisk"] = int(self.asterisk_pid())
        return r

    def running(self) -> None:
        """Asterisk is running some config (after the first switch unless there was one)."""
        if self.password is None:
            r = self.first_switch()
        elif not self.enabled:
            r = self.switch(self.password)
        else:
            return
        assert r.returncode == 0 and self.active().returncode == 0, r.stderr

    def serving(self, password: str) -> None:
        """config(password) is deployed and Asterisk has read it."""
        self.running()
        if self.password != password:
            r = self.switch(password)
            assert r.returncode == 0, r.stderr
            self.lab.run("systemctl restart asterisk")  # a same-length password needs it

    def phone_avail(self) -> bool:
        """baresip's contact (user saal1-...; SIPp's is saal1) is there and answers qualify."""
        return any("saal1-" in line and "Avail" in line for line in self.contacts().splitlines())

    def phone_available(self) -> Phone:
        """The baresip phone is registered and answers qualify."""
        self.running()
        if self.phone is None or not self.phone.running():
            self.phone = self.lab.start_phone("saal1", self.password, PHONE_PORT)
        elif not self.phone_avail():
            # Another REGISTER of saal1 took its contact (max_contacts=1, remove_existing), or
            # it waits to retry (started before the PBX): baresip registers at once when
            # started again.
            self.phone.restart()
        wait_for(self.phone_avail, 40, "the phone to be Avail")
        return self.phone


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("lab") / "lab")
    lab.up()
    try:
        yield SelfTestLab(lab)
    finally:
        lab.down()  # stops the phone too


# --- before the first deploy -------------------------------------------------------------


def test_ssh_as_root_reaches_the_lab_on_its_loopback_port(pbx):
    r = pbx.ssh("true")
    assert r.returncode == 0, r.stderr


def test_pyinfra_host_data_names_the_ssh_port_key_and_known_hosts(pbx):
    data = pbx.lab.pyinfra_host_data()
    assert set(data) == {
        "ssh_hostname",
        "ssh_port",
        "ssh_user",
        "ssh_key",
        "ssh_known_hosts_file",
        "ssh_strict_host_key_checking",
    }
    assert isinstance(data["ssh_port"], int)


def test_asterisk_is_not_running_after_up(pbx):
    assert pbx.active().returncode == 3


def test_switch_before_the_deploy_fails_on_the_missing_import_and_creates_no_etc_static(pbx):
    r = pbx.ssh("nixos-rebuild switch")
    assert r.returncode != 0, r.stderr
    assert pbx.lab.run("test -e /etc/static", check=False).returncode != 0


# --- the first deploy ----------------------------------------------------------------------


def test_first_switch_starts_asterisk_service(pbx):
    r = pbx.first_switch()
    assert r.returncode == 0, r.stderr
    assert "starting the following units: asterisk.service" in r.stderr, r.stderr
    assert pbx.active().stdout.strip() == "active"


def test_config_files_link_through_etc_static_into_the_store_read_only_with_mtime_1(pbx):
    pbx.running()
    chain = pbx.lab.run(
        "readlink /etc/asterisk/pjsip.conf; readlink -f /etc/asterisk/pjsip.conf;"
        " stat -c '%a %Y' \"$(readlink -f /etc/asterisk/pjsip.conf)\";"
        " stat -c '%a %Y' \"$(readlink -f /etc/static)\""
    ).stdout.split("\n")
    assert chain[0] == "/etc/static/asterisk/pjsip.conf", chain
    assert chain[1].startswith("/nix/store/"), chain
    assert chain[2] == "444 1", chain  # the file
    assert chain[3] == "555 1", chain  # the store path of the generation's etc


def test_phone_started_before_the_pbx_registers_and_qualifies_avail(pbx):
    pbx.running()  # starts the phone before the first switch unless that was done
    avail = until(pbx.phone_avail, 40)
    assert avail is not None, pbx.contacts() + (pbx.phone.output()[-1500:] if pbx.phone else "(no phone)")


def test_register_succeeds_with_the_right_password_only_and_unregisters(pbx):
    pbx.serving(PW1)
    assert pbx.lab.register("saal1", PW1, 5070), "the right password is refused"
    assert not pbx.lab.register("saal1", PW1[:-1] + "x", 5071), "a wrong password is accepted"
    assert pbx.lab.unregister("saal1", PW1, 5070), "unregister failed"


# --- calls ---------------------------------------------------------------------------------


def test_call_to_100_is_answered_with_rtp_and_the_pbx_hangs_up(pbx):
    pbx.serving(PW1)
    c = pbx.lab.call("saal1", PW1, "100", 5072, expect_bye=True)
    assert c.answered and c.remote_bye and c.rtp_packets_received > 20, (
        f"answered {c.answered} remote BYE {c.remote_bye} RTP {c.rtp_packets_received}\n{c.output[-1500:]}"
    )


def test_call_to_200_rings_the_phone_which_answers_until_we_hang_up(pbx):
    pbx.serving(PW1)
    pbx.phone_available()
    c = pbx.lab.call("saal1", PW1, "200", 5073, hold_seconds=2)
    assert c.answered and not c.remote_bye and c.returncode == 0 and c.rtp_packets_received > 0, (
        f"answered {c.answered} remote BYE {c.remote_bye} rc {c.returncode} RTP {c.rtp_packets_received}"
        f"\n{c.output[-1500:]}"
    )


def test_asterisk_cli_output_has_no_eid_warning(pbx):
    pbx.running()
    out = pbx.lab.asterisk("core show version")
    assert out.startswith("Asterisk 22"), out


# --- switches that change nothing ----------------------------------------------------------


def test_switch_with_nix_syntax_error_changes_nothing(pbx):
    pbx.running()
    store = pbx.static()
    r = pbx.deploy(config(pbx.password).replace("enable = true;", "enable = true"))
    assert r.returncode != 0 and "syntax error" in r.stderr, r.stderr
    assert pbx.static() == store


def test_switch_with_unknown_option_changes_nothing(pbx):
    pbx.running()
    store = pbx.static()
    r = pbx.deploy(config(pbx.password).replace("enable = true;", "enable = true; foo = 1;"))
    assert r.returncode != 0, r.stderr
    assert "The option `services.asterisk.foo' does not exist" in r.stderr, r.stderr
    assert pbx.static() == store


def test_same_config_again_keeps_store_path_generation_and_asterisk_pid(pbx):
    pbx.serving(PW1)
    store, pid = pbx.static(), pbx.asterisk_pid()
    generations = pbx.lab.run("ls /nix/var/nix/profiles").stdout
    r = pbx.switch(PW1)
    assert r.returncode == 0, r.stderr
    assert pbx.static() == store
    assert pbx.lab.run("ls /nix/var/nix/profiles").stdout == generations
    assert pbx.asterisk_pid() == pid


# --- the reload bug televoc works around ---------------------------------------------------


def test_same_length_password_is_ignored_by_core_reload(pbx):
    """A same-size pjsip.conf is not re-read by `core reload` (mtime 1 in the store)."""
    pbx.serving(PW1)
    pid = pbx.asterisk_pid()
    r = pbx.switch(PW2)
    assert r.returncode == 0, r.stderr
    pbx.lab.asterisk("core reload")
    assert until(lambda: pbx.lab.register("saal1", PW2, 5075), 1, step=0.25) is None, "the new password works"
    assert pbx.lab.register("saal1", PW1, 5074), "the old password stopped working"
    assert pbx.asterisk_pid() == pid, "Asterisk was restarted"


def test_password_of_another_length_is_applied_by_core_reload(pbx):
    pbx.running()
    assert len(PW3) != len(pbx.password)
    r = pbx.switch(PW3)
    assert r.returncode == 0, r.stderr
    pbx.lab.asterisk("core reload")
    assert until(lambda: pbx.lab.register("saal1", PW3, 5076), 5, step=0.5) is not None, "the new password is refused"
    assert not pbx.lab.register("saal1", PW1, 5077), "the old password still works"


# --- phones, enable ------------------------------------------------------------------------


def test_stop_all_phones_ends_the_baresip_process(pbx):
    phone = pbx.phone if pbx.phone is not None and pbx.phone.running() else pbx.phone_available()
    pbx.lab.stop_all_phones()  # SIGINT: baresip unregisters and quits
    assert not _proc_alive(phone.pid)


def test_enable_false_stops_asterisk_and_removes_the_etc_asterisk_links(pbx):
    pbx.running()
    r = pbx.switch(pbx.password, enable=False)
    assert r.returncode == 0, r.stderr
    assert "stopping the following units: asterisk.service" in r.stderr, r.stderr
    assert pbx.active().returncode == 3
    assert pbx.lab.run("ls /etc/asterisk").stdout.strip() == ""


def test_enable_true_again_starts_asterisk(pbx):
    if pbx.password is None or pbx.enabled:  # not disabled yet: deploy, then disable
        pbx.running()
        r = pbx.switch(pbx.password, enable=False)
        assert r.returncode == 0 and pbx.active().returncode == 3, r.stderr
    r = pbx.switch(pbx.password)
    assert r.returncode == 0, r.stderr
    assert pbx.active().returncode == 0


# --- down() --------------------------------------------------------------------------------


@dataclass
class Downed:
    workdir: Path
    namespaces: set[str]
    namespaces_while_up: set[str]
    pids: dict[str, int]
    mounts_while_up: list[str]


@pytest.fixture(scope="module")
def downed(tmp_path_factory):
    """A lab with Asterisk and a phone running, and then down()."""
    parent = tmp_path_factory.mktemp("down")
    lab = Lab(parent / "lab")
    lab.up()
    try:
        used = SelfTestLab(lab)
        used.running()
        pids = {"sshd": lab._sshd_pid, "socat": lab._socat_pid, **used.pids}
        mounts = _mounts_under(lab.workdir)
        namespaces_while_up = namespaces_of(lab) & netns_names()
    finally:
        lab.down()
    return Downed(lab.workdir, namespaces_of(lab), namespaces_while_up, pids, mounts)


def test_down_leaves_no_mount_under_the_workdir(downed):
    assert downed.mounts_while_up, "the lab had no mounts while it was up"
    assert not _mounts_under(downed.workdir)


def test_down_deletes_the_network_namespaces(downed):
    assert downed.namespaces_while_up and downed.namespaces_while_up == downed.namespaces
    assert not downed.namespaces & netns_names()


def test_down_ends_every_process_of_the_lab(downed):
    assert set(downed.pids) == {"sshd", "socat", "phone", "asterisk"}, downed.pids
    assert not [name for name, pid in downed.pids.items() if _proc_alive(pid)], downed.pids


def test_down_removes_the_workdir(downed):
    assert not downed.workdir.exists()


# --- the command line ------------------------------------------------------------------------


def lab_cli(command: str, workdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lab", command, "--workdir", str(workdir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def cli_up(tmp_path_factory):
    """`python -m lab up`: (workdir, its result, lab.json); down at the end in any case."""
    workdir = tmp_path_factory.mktemp("cli") / "lab"
    r = lab_cli("up", workdir)
    try:
        state = json.loads((workdir / "lab.json").read_text()) if r.returncode == 0 else {}
        yield workdir, r, state
    finally:
        if (workdir / "lab.json").exists():
            Lab.attach(workdir).down()


def test_cli_up_leaves_a_lab_that_ssh_reaches_after_the_cli_exited(cli_up):
    workdir, r, state = cli_up
    assert r.returncode == 0, r.stderr
    ssh = subprocess.run(
        [
            "ssh",
            "-i",
            state["ssh_key"],
            "-p",
            str(state["ssh_port"]),
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={state['known_hosts']}",
            "root@127.0.0.1",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert ssh.returncode == 0, ssh.stderr


def test_cli_down_removes_the_workdir_and_the_namespaces(cli_up):
    workdir, up, state = cli_up
    assert up.returncode == 0 and state.get("netns"), up.stderr
    assert namespaces_of(state) <= netns_names()
    r = lab_cli("down", workdir)
    assert r.returncode == 0, r.stderr
    assert not workdir.exists()
    assert not namespaces_of(state) & netns_names()
