"""The NixOS stand-in does what a real NixOS server would do, where televoc depends on it.

The rule: a lab deviation may never hide a behaviour or an exposure that a real NixOS
server would have. Each test is one claim about the stand-in (lab/standin/) against
the lab's phone network: a second network namespace joined to the PBX's `eth0` (10.23.0.2
in the phone network 10.23.0.0/24, 10.24.0.2 outside it), so traffic from a "phone" goes
through the PBX's firewall as it would on the server. 127.0.0.x inside the PBX's namespace
is loopback, which a NixOS firewall always accepts: the tests below use the phone network.

One lab for the module; every test writes its own /etc/nixos/televoc/asterisk.nix and
switches, so each passes alone too (-k).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import pytest

from lab.handwritten import SERVER_PY, pjsip_conf
from lab.lab import PBX_OUTSIDE_IP, PBX_PHONE_IP, Lab
from lab.wait import wait_for

INSIDE, OUTSIDE = "10.23.0.21", "10.24.0.21"  # a phone in the phone network, one outside it
PW = "standin-secret-1"
PJSIP_CONF = pjsip_conf(PW)


def nix_string(text: str) -> str:
    return "''\n" + textwrap.indent(text.replace("''", "'''").replace("${", "''${"), "    ") + "  ''"


def module(
    *,
    asterisk: bool = False,
    nftables: bool = False,
    service: str | None = None,
    extra: str = "",
    asterisk_extra: str = "",
) -> str:
    """/etc/nixos/televoc/asterisk.nix: optionally Asterisk (pjsip on UDP 5060, opened),
    the firewall backend, `service` (a systemd.services.web body), and `extra` lines."""
    parts = ["{ config, lib, pkgs, ... }:", "{"]
    parts.append(f"  networking.nftables.enable = {'true' if nftables else 'false'};")
    if asterisk:
        parts += [
            "  services.asterisk.enable = true;",
            f'  services.asterisk.confFiles."pjsip.conf" = {nix_string(PJSIP_CONF)};',
            "  networking.firewall.allowedUDPPorts = [ 5060 ];",
            asterisk_extra,
        ]
    if service is not None:
        parts += [
            '  users.users.web = { isSystemUser = true; group = "web"; description = "lab web"; };',
            "  users.groups.web = { };",
            f"  systemd.services.web = {{\n{service}\n  }};",
        ]
    parts += [extra, "}", ""]
    return "\n".join(parts)


def web_service(port: int = 8088, arg: str = "") -> str:
    return f"""\
    description = "lab web server";
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" ];
    serviceConfig = {{
      ExecStart = "${{pkgs.python3}}/bin/python3 ${{./server.py}} {port}{arg}";
      User = "web";
      Group = "web";
      StateDirectory = "web";
      LogsDirectory = "web";
      RuntimeDirectory = "web";
      Restart = "always";
      NoNewPrivileges = true;
      ProtectSystem = "strict";
    }};"""


# The port opened for the phone network only, with the rule each backend takes.
OPEN_8088_IPTABLES = """\
  networking.firewall.extraCommands = ''
    iptables -A nixos-fw -p tcp -s 10.23.0.0/24 --dport 8088 -j nixos-fw-accept
  '';
  networking.firewall.extraStopCommands = ''
    iptables -D nixos-fw -p tcp -s 10.23.0.0/24 --dport 8088 -j nixos-fw-accept || true
  '';"""
OPEN_8088_NFTABLES = """\
  networking.firewall.extraInputRules = ''
    ip saddr 10.23.0.0/24 tcp dport 8088 accept
  '';"""


@dataclass
class Pbx:
    lab: Lab

    def write(self, text: str) -> None:
        d = self.lab.root / "etc/nixos/televoc"
        d.mkdir(parents=True, exist_ok=True)
        (d / "server.py").write_text(SERVER_PY)
        (d / "asterisk.nix").write_text(text)

    def switch(self, text: str, ok: bool = True):
        self.write(text)
        r = self.lab.run("nixos-rebuild switch", check=False, timeout=120)
        if ok:
            assert r.returncode == 0, r.stderr
        return r

    def http(self, source: str, port: int = 8088, dest: str = PBX_PHONE_IP) -> str:
        """The answer of the lab web server to a phone at `source`, or "" (no connection)."""
        r = self.lab.run_phone(
            f"curl -sS --connect-timeout 1 -m 3 --interface {source} http://{dest}:{port}/", check=False, timeout=15
        )
        return r.stdout.strip()

    def main_pid(self, unit: str) -> int:
        out = self.lab.run(f"systemctl show -p MainPID {unit}").stdout
        return int(out.strip().split("=")[1])

    def listening(self, port: int) -> bool:
        return f":{port} " in self.lab.run(f"ss -Hlnt sport = :{port}").stdout


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    with Lab(tmp_path_factory.mktemp("standin") / "lab") as lab:
        lab.phone_address(INSIDE)
        lab.phone_address(OUTSIDE)
        yield Pbx(lab)


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_port_opened_for_the_phone_network_only_is_closed_to_everyone_else(pbx, backend):
    rule = OPEN_8088_NFTABLES if backend == "nftables" else OPEN_8088_IPTABLES
    pbx.switch(module(nftables=backend == "nftables", service=web_service(), extra=rule))
    wait_for(lambda: pbx.listening(8088), 10, "the web server")
    assert pbx.http(INSIDE).endswith(INSIDE), "refused from the phone network"
    assert pbx.http(OUTSIDE) == "", "reachable from outside the phone network"
    assert pbx.http(OUTSIDE, dest=PBX_OUTSIDE_IP) == "", "reachable on the outside address"
    # loopback is trusted by NixOS's firewall (why the phone network exists)
    assert pbx.lab.run("curl -sS -m 3 http://127.0.0.1:8088/").stdout.strip().endswith("127.0.0.1")
    if backend == "nftables":
        ruleset = pbx.lab.run("nft list table inet nixos-fw").stdout
        assert "ip saddr 10.23.0.0/24 tcp dport 8088 accept" in ruleset, ruleset
        assert "policy drop" in ruleset, ruleset
        assert "-j nixos-fw" not in pbx.lab.run("iptables -S INPUT").stdout
    else:
        rules = pbx.lab.run("iptables -S").stdout
        assert "-A INPUT -j nixos-fw" in rules, rules
        assert "-A nixos-fw -s 10.23.0.0/24 -p tcp -m tcp --dport 8088 -j nixos-fw-accept" in rules
        assert "-A nixos-fw-refuse -j DROP" in rules


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_port_not_opened_is_refused_from_the_phone_network_while_sip_is_reachable(pbx, backend):
    pbx.switch(module(asterisk=True, nftables=backend == "nftables", service=web_service()))
    wait_for(lambda: pbx.listening(8088), 10, "the web server")
    assert pbx.http(INSIDE) == "", "a port nobody opened answers the phone network"
    assert pbx.lab.register("phone1", PW, 5070, local_ip=INSIDE), "SIP (allowedUDPPorts) refused"
    assert pbx.lab.unregister("phone1", PW, 5070, local_ip=INSIDE)
    contact = pbx.lab.asterisk("pjsip show aors")
    assert "phone1" in contact, contact


def test_rejectpackets_answers_a_closed_port_instead_of_dropping(pbx):
    pbx.switch(module(service=web_service(), extra="  networking.firewall.rejectPackets = true;"))
    wait_for(lambda: pbx.listening(8088), 10, "the web server")
    r = pbx.lab.run_phone(
        f"curl -sS --connect-timeout 3 --interface {INSIDE} http://{PBX_PHONE_IP}:8088/", check=False, timeout=15
    )
    assert r.returncode == 7 and "timed out" not in r.stderr, r.stderr  # refused at once
    assert "-A nixos-fw-refuse -j REJECT" in pbx.lab.run("iptables -S nixos-fw-refuse").stdout


def test_extracommands_with_nftables_fails_the_switch_with_nixos_assertion_and_changes_nothing(pbx):
    pbx.switch(module(service=web_service(), extra=OPEN_8088_IPTABLES))
    before = pbx.lab.run("readlink /etc/static /nix/var/nix/profiles/system; iptables -S; nft list tables").stdout
    pid = pbx.main_pid("web")
    r = pbx.switch(module(nftables=True, service=web_service(port=8089), extra=OPEN_8088_IPTABLES), ok=False)
    assert r.returncode == 1, r.stderr
    assert "Failed assertions:" in r.stderr, r.stderr
    assert "- extraCommands is incompatible with the nftables based firewall: iptables -A nixos-fw" in r.stderr, (
        r.stderr
    )
    assert (
        pbx.lab.run("readlink /etc/static /nix/var/nix/profiles/system; iptables -S; nft list tables").stdout == before
    )
    assert pbx.main_pid("web") == pid
    assert pbx.http(INSIDE).endswith(INSIDE)


def test_failing_extracommands_on_reload_leaves_the_firewall_stopped_as_on_nixos(pbx):
    """NixOS's firewall-reload runs firewall-stop when the new rules fail: the server is
    then open on every port until the next good switch. The lab shows it."""
    pbx.switch(module(service=web_service()))
    wait_for(lambda: pbx.listening(8088), 10, "the web server")
    assert pbx.http(INSIDE) == ""
    r = pbx.switch(
        module(
            service=web_service(), extra='  networking.firewall.extraCommands = "iptables -A no-such-chain -j ACCEPT";'
        ),
        ok=False,
    )
    assert r.returncode == 4, r.stderr
    assert "reloading the following units: firewall.service" in r.stderr, r.stderr
    assert "warning: the following units failed: firewall.service" in r.stderr, r.stderr
    assert "-j nixos-fw" not in pbx.lab.run("iptables -S INPUT").stdout
    assert pbx.http(INSIDE).endswith(INSIDE), "the stopped firewall should let everything in"
    pbx.switch(module(service=web_service()))
    assert pbx.http(INSIDE) == ""


def test_declared_service_runs_as_its_system_user_with_its_directories(pbx):
    pbx.switch(module(service=web_service()))
    wait_for(lambda: pbx.listening(8088), 10, "the web server")
    pw = pbx.lab.run("getent passwd web").stdout.strip().split(":")
    assert int(pw[2]) < 1000 and pw[4] == "lab web" and pw[5] == "/var/empty", pw
    assert pw[6].endswith("nologin"), pw
    assert pbx.lab.run("getent group web").stdout.startswith("web:")
    uid = int(pw[2])
    assert pbx.lab.run("curl -sS -m 3 http://127.0.0.1:8088/").stdout.startswith(f"uid={uid} ")
    status = pbx.lab.run("stat -c '%U:%G %a' /var/lib/web /var/log/web /run/web").stdout.split("\n")
    assert status[:3] == ["web:web 755"] * 3, status
    assert pbx.lab.run(f"ps -o user= -p {pbx.main_pid('web')}").stdout.strip() == "web"
    unit = pbx.lab.run(
        "cat /etc/systemd/system/web.service 2>/dev/null || cat /etc/static/systemd/system/web.service"
    ).stdout
    # sandboxing keys are written into the unit (not enforced by the lab)
    assert "ProtectSystem=strict" in unit and "NoNewPrivileges=true" in unit, unit
    assert (
        pbx.lab.run("readlink /etc/static/systemd/system/multi-user.target.wants/web.service").stdout.strip()
        == "../web.service"
    )


def test_service_restarted_when_its_exec_start_changes_and_not_when_unchanged(pbx):
    pbx.switch(module(service=web_service()))
    wait_for(lambda: pbx.listening(8088), 10, "the web server")
    pid = pbx.main_pid("web")
    r = pbx.switch(module(service=web_service()) + "\n")  # same options, other text
    assert "web.service" not in r.stderr, r.stderr
    assert pbx.main_pid("web") == pid
    r = pbx.switch(module(service=web_service(arg=" --changed")))
    assert "stopping the following units: web.service" in r.stderr, r.stderr
    assert "starting the following units: web.service" in r.stderr, r.stderr
    new = pbx.main_pid("web")
    assert new != pid and pbx.lab.run(f"cat /proc/{new}/cmdline | tr '\\0' ' '").stdout.endswith("--changed ")


def test_service_with_restart_always_comes_back_after_a_crash(pbx):
    pbx.switch(module(service=web_service()))
    pid = pbx.main_pid("web")
    pbx.lab.run(f"kill -9 {pid}")
    wait_for(lambda: pbx.main_pid("web") not in (0, pid), 10, "the restarted web server")
    assert pbx.lab.run("systemctl is-active web").stdout.strip() == "active"


def test_removed_service_is_stopped_and_its_user_removed(pbx):
    pbx.switch(module(service=web_service()))
    wait_for(lambda: pbx.listening(8088), 10, "the web server")
    pid = pbx.main_pid("web")
    r = pbx.switch(module())
    assert "stopping the following units: web.service" in r.stderr, r.stderr
    assert not pbx.lab.run(f"test -d /proc/{pid}", check=False).returncode == 0
    assert pbx.lab.run("systemctl is-active web", check=False).stdout.strip() == "inactive"
    assert pbx.lab.run("getent passwd web", check=False).returncode == 2  # declared before, gone
    assert not pbx.listening(8088)


def test_path_in_module_lands_in_the_store_read_only_and_the_service_runs_it(pbx):
    pbx.switch(module(service=web_service()))
    unit = pbx.lab.run("cat /etc/static/systemd/system/web.service").stdout
    m = re.search(r"^ExecStart=/usr/bin/python3 (/nix/store/[0-9a-z]{32}-server\.py) 8088$", unit, re.M)
    assert m, unit
    path = m.group(1)
    assert pbx.lab.run(f"stat -c '%a %Y %U' {path}").stdout.strip() == "444 1 root"
    assert pbx.lab.run(f"cat {path}").stdout == SERVER_PY
    assert pbx.lab.run(f"nix-store -q --hash {path}", check=False).returncode == 0  # registered
    assert path in pbx.lab.run(f"cat /proc/{pbx.main_pid('web')}/cmdline | tr '\\0' ' '").stdout


def test_unknown_option_under_networking_firewall_is_refused(pbx):
    before = pbx.lab.run("readlink /nix/var/nix/profiles/system", check=False).stdout
    r = pbx.switch(module(extra="  networking.firewall.allowedTcpPorts = [ 80 ];"), ok=False)
    assert r.returncode == 1
    assert "The option `networking.firewall.allowedTcpPorts' does not exist." in r.stderr, r.stderr
    r = pbx.switch(module(extra='  systemd.services.x.serviceConfig.Type = "daemon";'), ok=False)
    assert "A definition for option `systemd.services.x.serviceConfig' is not of type" in r.stderr
    r = pbx.switch(module(extra="  networking.firewall.allowedUDPPorts = [ 70000 ];"), ok=False)
    assert "16 bit unsigned integer" in r.stderr, r.stderr
    assert pbx.lab.run("readlink /nix/var/nix/profiles/system", check=False).stdout == before


def test_switch_never_restarts_asterisk_and_starts_or_stops_it_with_enable(pbx):
    r = pbx.switch(module(asterisk=True))
    pid = pbx.main_pid("asterisk")
    assert pid and pbx.lab.run("cat /run/televoc-lab/asterisk.pid").stdout.strip() == str(pid)
    # a changed unit (extraArguments) and changed files: restartIfChanged = false
    r = pbx.switch(
        module(asterisk=True, service=web_service(), asterisk_extra='  services.asterisk.extraArguments = [ "-v" ];')
    )
    # switch-to-configuration names it, and leaves it running
    assert "NOT restarting the following changed units: asterisk.service" in r.stderr, r.stderr
    assert "stopping the following units: asterisk.service" not in r.stderr, r.stderr
    assert pbx.main_pid("asterisk") == pid
    assert " -v -F" in pbx.lab.run("cat /etc/static/systemd/system/asterisk.service").stdout
    r = pbx.switch(module(service=web_service()))
    assert "stopping the following units: asterisk.service" in r.stderr, r.stderr
    assert pbx.lab.run("systemctl is-active asterisk", check=False).stdout.strip() == "inactive"
    r = pbx.switch(module(asterisk=True))
    assert "starting the following units: asterisk.service" in r.stderr, r.stderr
    assert pbx.main_pid("asterisk") not in (0, pid)


def test_asterisk_loads_every_module_as_on_nixos_so_iax2_listens_behind_the_firewall(pbx):
    pbx.switch(module(asterisk=True))
    assert pbx.lab.run("cat /etc/asterisk/modules.conf").stdout == "[modules]\nautoload=yes\n"
    assert "chan_iax2.so" in pbx.lab.asterisk("module show like chan_iax2")
    # IAX2 (iax.conf, one of nixpkgs' default samples) listens on every address, as on the
    # server: only the firewall keeps the phone network from it.
    assert "0.0.0.0:4569" in pbx.lab.run("ss -Hlnu sport = :4569").stdout
    assert "--dport 4569" not in pbx.lab.run("iptables -S nixos-fw").stdout


def test_modules_conf_in_conffiles_replaces_nixos_default(pbx):
    own = "[modules]\nautoload=yes\nnoload => chan_iax2.so\n"
    pbx.switch(
        module(asterisk=True, asterisk_extra=f'  services.asterisk.confFiles."modules.conf" = {nix_string(own)};')
    )
    assert pbx.lab.run("cat /etc/asterisk/modules.conf").stdout == own
    pbx.lab.run("systemctl restart asterisk")  # modules.conf is read at start-up
    assert "0.0.0.0:4569" not in pbx.lab.run("ss -Hlnu sport = :4569").stdout


def test_disabling_asterisk_removes_its_user_and_group_and_enabling_revives_the_same_ids(pbx):
    """update-users-groups.pl: a user or group that the last generation declared and this
    one does not is removed, so `root:asterisk` files lose their group name while
    services.asterisk.enable is false; the uid/gid maps give the same ids back."""
    pbx.switch(module(asterisk=True))
    ids = pbx.lab.run("id -u asterisk; getent group asterisk | cut -d: -f3").stdout
    r = pbx.switch(module())
    assert "removing user ‘asterisk’" in r.stderr and "removing group ‘asterisk’" in r.stderr, r.stderr
    assert pbx.lab.run("getent group asterisk", check=False).returncode == 2
    assert pbx.lab.run("install -g asterisk /dev/null /tmp/x", check=False).returncode != 0
    r = pbx.switch(module(asterisk=True))
    assert pbx.lab.run("id -u asterisk; getent group asterisk | cut -d: -f3").stdout == ids
    assert pbx.main_pid("asterisk")
