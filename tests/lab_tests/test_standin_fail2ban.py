"""services.fail2ban in the lab is nixpkgs' module, and its bans act at the network level.

Each test is one claim about the NixOS stand-in (lab/standin/) and passes alone (-k):
it starts from a server without fail2ban (no state, empty logs), switches to a hand-written
configuration and looks from the phone network (10.23.0.0/24, the PBX 10.23.0.2), whose
traffic crosses the PBX's firewall as a phone's would. The firewall backend is NixOS's
(iptables or nftables), and so is the ban action nixpkgs picks for it
(iptables-multiport or nftables-multiport, Debian's action.d files).

What the lab does differently from NixOS (logtarget, the journal, the socket unit) is in
the header of lab/standin/nixos-rebuild.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import pytest

from lab.handwritten import SERVER_PY, pjsip_conf
from lab.lab import PBX_PHONE_IP, Lab
from lab.wait import until, wait_for

BANNED, OTHER = "10.23.0.66", "10.23.0.67"  # the source that fails, a phone beside it
THIRD, FOURTH = "10.23.0.68", "10.23.0.69"
LOG = "/var/log/lab-auth.log"
PROVISIONING_LOG = "/var/log/televoc-provisioning/access.log"
PW = "fail2ban-secret-1"
PJSIP_CONF = pjsip_conf(PW)
# Asterisk's own security log (res_security_log): logger.conf's `security => security`.
LOGGER_CONF = "[general]\n\n[logfiles]\nmessages.log => notice,warning,error\nsecurity => security\n"
# The jail a test log file needs: an inline filter, NixOS's options for the rest.
LAB_JAIL = f"""\
  services.fail2ban = {{
    enable = true;
    maxretry = 3;
    bantime = "5";
    jails.lab = {{
      filter.Definition.failregex = "FAIL from <HOST>";
      settings = {{ backend = "polling"; logpath = "{LOG}"; port = 8088; }};
    }};
  }};"""
# What a jail needs to read televoc-provisioning's log (provisiond.py's lines:
# "2026-11-26T21:00:00Z televoc-provisioning: refused 404 unknown MAC ... from 10.23.0.66").
PROVISIONING_JAIL = f"""\
  services.fail2ban = {{
    enable = true;
    jails.televoc-provisioning = {{
      filter.Definition = {{
        failregex = ''^\\s*televoc-provisioning: refused \\d{{3}} .* from <ADDR>$'';
        datepattern = "^%%Y-%%m-%%dT%%H:%%M:%%S%%z";
      }};
      settings = {{
        backend = "auto";
        logpath = "{PROVISIONING_LOG}";
        port = 8088;
        maxretry = 3;
        bantime = "10m";
      }};
    }};
  }};"""


def nix_string(text: str) -> str:
    return "''\n" + textwrap.indent(text.replace("''", "'''").replace("${", "''${"), "    ") + "  ''"


def module(*, nftables: bool = False, web: bool = False, asterisk: bool = False, extra: str = "") -> str:
    """/etc/nixos/televoc/asterisk.nix: the firewall backend, optionally the lab web server
    on TCP 8088 (opened) and Asterisk (pjsip on UDP 5060, opened, with a security log)."""
    parts = ["{ config, lib, pkgs, ... }:", "{", f"  networking.nftables.enable = {'true' if nftables else 'false'};"]
    if web:
        parts += [
            "  networking.firewall.allowedTCPPorts = [ 8088 ];",
            "  systemd.services.web = {",
            '    wantedBy = [ "multi-user.target" ];',
            '    serviceConfig.ExecStart = "${pkgs.python3}/bin/python3 ${./server.py} 8088 hello";',
            "  };",
        ]
    if asterisk:
        parts += [
            "  services.asterisk.enable = true;",
            "  services.asterisk.useTheseDefaultConfFiles = [ ];",
            f'  services.asterisk.confFiles."pjsip.conf" = {nix_string(PJSIP_CONF)};',
            f'  services.asterisk.confFiles."logger.conf" = {nix_string(LOGGER_CONF)};',
            "  networking.firewall.allowedUDPPorts = [ 5060 ];",
        ]
    parts += [extra, "}", ""]
    return "\n".join(parts)


@dataclass
class Pbx:
    lab: Lab

    def switch(self, text: str, ok: bool = True):
        d = self.lab.root / "etc/nixos/televoc"
        d.mkdir(parents=True, exist_ok=True)
        (d / "server.py").write_text(SERVER_PY)
        (d / "asterisk.nix").write_text(text)
        r = self.lab.run("nixos-rebuild switch", check=False, timeout=120)
        if ok:
            assert r.returncode == 0, r.stderr
        return r

    def fresh(self) -> None:
        """A server without fail2ban: no unit, no bans, no database, empty logs."""
        self.switch(module())
        self.lab.run(
            f"rm -rf /var/lib/fail2ban {LOG} /var/log/televoc-provisioning /var/log/asterisk/security && touch {LOG}"
        )

    def ready(self, jail: str, seconds: float = 20) -> None:
        wait_for(
            lambda: self.lab.run(f"fail2ban-client status {jail}", check=False).returncode == 0,
            seconds,
            f"fail2ban's jail {jail}",
        )

    def banned(self, jail: str) -> list[str]:
        out = self.lab.run(f"fail2ban-client status {jail}", check=False).stdout
        m = re.search(r"Banned IP list:\s*(.*)$", out, re.M)
        return m.group(1).split() if m else []

    def log(self, path: str, lines: list[str]) -> None:
        """Append lines, each after the current UTC time stamp (`{now}` in a line: the same)."""
        now = self.lab.run("date -u +%Y-%m-%dT%H:%M:%SZ").stdout.strip()
        text = "".join(line.format(now=now) + "\n" for line in lines)
        self.lab.run(f"mkdir -p $(dirname {path}) && cat >> {path} <<'EOF'\n{text}EOF")

    def http(self, source: str) -> str:
        r = self.lab.run_phone(
            f"curl -sS --connect-timeout 1 -m 3 --interface {source} http://{PBX_PHONE_IP}:8088/",
            check=False,
            timeout=15,
        )
        return r.stdout.strip()

    def main_pid(self, unit: str) -> int:
        return int(self.lab.run(f"systemctl show -p MainPID {unit}").stdout.strip().split("=")[1])


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    with Lab(tmp_path_factory.mktemp("fail2ban") / "lab") as lab:
        for ip in (BANNED, OTHER, THIRD, FOURTH):
            lab.phone_address(ip)
        yield Pbx(lab)


@pytest.fixture
def fresh(pbx):
    pbx.fresh()
    return pbx


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_three_failures_ban_the_source_at_the_network_level_until_the_bantime_ends(fresh, backend):
    pbx = fresh
    nft = backend == "nftables"
    pbx.switch(module(nftables=nft, web=True, extra=LAB_JAIL))
    pbx.ready("lab")
    wait_for(lambda: pbx.http(OTHER), 10, "the web server")
    # nixpkgs' banaction for the firewall's backend
    jail_local = pbx.lab.run("cat /etc/fail2ban/jail.local").stdout
    assert f"banaction = {backend}-multiport\n" in jail_local, jail_local
    assert f"banaction_allports = {backend}-allports\n" in jail_local, jail_local
    assert pbx.http(BANNED) == f"hello {BANNED}"
    # two failures do not ban (maxretry 3): once THIRD's three are banned, BANNED's two
    # before them have been read
    pbx.log(LOG, [f"{{now}} lab: FAIL from {BANNED}"] * 2 + [f"{{now}} lab: FAIL from {THIRD}"] * 3)
    wait_for(lambda: THIRD in pbx.banned("lab"), 15, f"the ban of {THIRD}")
    assert BANNED not in pbx.banned("lab")
    assert pbx.http(BANNED) == f"hello {BANNED}"
    pbx.log(LOG, [f"{{now}} lab: FAIL from {BANNED}"])
    wait_for(lambda: BANNED in pbx.banned("lab"), 15, f"the ban of {BANNED}")
    # fail2ban's own record of the ban: "<ip> \t<start> + 5 = <end>" (bantime 5 s)
    record = pbx.lab.run("fail2ban-client get lab banip --with-time").stdout
    assert re.search(rf"^{re.escape(BANNED)}\s+\S+ \S+ \+ 5 = ", record, re.M), record
    assert pbx.http(BANNED) == "", "the banned source still reaches the opened port"
    assert pbx.http(OTHER) == f"hello {OTHER}", "a phone beside the banned one is refused"
    # the ban is a rule of the firewall's own backend, in the PBX's namespace
    if nft:
        table = pbx.lab.run("nft list table inet f2b-table").stdout
        assert "tcp dport 8088 ip saddr @addr-set-lab reject" in table, table
        assert BANNED in pbx.lab.run("nft list set inet f2b-table addr-set-lab").stdout
    else:
        rules = pbx.lab.run("iptables -S").stdout
        assert "-A INPUT -p tcp -m multiport --dports 8088 -j f2b-lab" in rules, rules
        assert f"-A f2b-lab -s {BANNED}/32 -j REJECT --reject-with icmp-port-unreachable" in rules
    # bantime 5 s: reachable again
    took = until(lambda: pbx.http(BANNED) == f"hello {BANNED}", 25, step=0.5)
    assert took is not None, "still banned 25 s after a ban of 5 s"
    assert BANNED not in pbx.banned("lab")


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_an_allports_ban_refuses_every_port(fresh, backend):
    """banaction-allports (iptables-allports / nftables-allports): the jail names port
    9999, the ban refuses the web server on 8088 too."""
    pbx = fresh
    nft = backend == "nftables"
    pbx.switch(
        module(
            nftables=nft,
            web=True,
            extra=LAB_JAIL.replace("port = 8088;", 'port = 9999; banaction = "%(banaction_allports)s";'),
        )
    )
    pbx.ready("lab")
    wait_for(lambda: pbx.http(OTHER), 10, "the web server")
    assert f"banaction_allports = {backend}-allports\n" in pbx.lab.run("cat /etc/fail2ban/jail.local").stdout
    pbx.log(LOG, [f"{{now}} lab: FAIL from {BANNED}"] * 3)
    wait_for(lambda: BANNED in pbx.banned("lab"), 15, f"the ban of {BANNED}")
    assert pbx.lab.run("fail2ban-client get lab actions").stdout.strip().endswith(f"{backend}-allports")
    assert pbx.http(BANNED) == "", "an allports ban leaves 8088 open"
    assert pbx.http(OTHER) == f"hello {OTHER}"
    if nft:
        assert "9999" not in pbx.lab.run("nft list table inet f2b-table").stdout
    else:
        assert "-A INPUT -p tcp -j f2b-lab" in pbx.lab.run("iptables -S INPUT").stdout


def test_loopback_and_ignoreip_are_never_banned(fresh):
    pbx = fresh
    pbx.switch(module(web=True, extra=LAB_JAIL + f'\n  services.fail2ban.ignoreIP = [ "{FOURTH}" ];'))
    pbx.ready("lab")
    assert f"ignoreip = 127.0.0.1/8 ::1 {FOURTH}\n" in pbx.lab.run("cat /etc/fail2ban/jail.local").stdout
    pbx.log(
        LOG,
        ["{now} lab: FAIL from 127.0.0.1"] * 4
        + [f"{{now}} lab: FAIL from {FOURTH}"] * 4
        + [f"{{now}} lab: FAIL from {THIRD}"] * 3,
    )
    wait_for(lambda: THIRD in pbx.banned("lab"), 15, f"the ban of {THIRD}")
    assert pbx.banned("lab") == [THIRD]
    ignored = pbx.lab.run("fail2ban-client get lab ignoreip").stdout
    assert all(f"- {net}\n" in ignored for net in ("127.0.0.0/8", "::1", FOURTH)), ignored
    log = pbx.lab.run("journalctl -u fail2ban -n 100000").stdout
    assert "[lab] Ignore 127.0.0.1 by " in log and f"[lab] Ignore {FOURTH} by ip" in log, log
    assert pbx.lab.run("curl -sS -m 3 http://127.0.0.1:8088/").stdout.startswith("hello 127.0.0.1")
    assert pbx.http(FOURTH) == f"hello {FOURTH}"


def test_unknown_mistyped_and_read_only_fail2ban_options_are_refused_as_on_nixos(fresh):
    pbx = fresh
    before = pbx.lab.run("readlink /nix/var/nix/profiles/system").stdout
    for extra, message in (
        ("  services.fail2ban.maxRetry = 3;", "The option `services.fail2ban.maxRetry' does not exist."),
        (
            "  services.fail2ban.jails.lab.setting.port = 80;",
            "The option `services.fail2ban.jails.lab.setting' does not exist.",
        ),
        ("  services.fail2ban.maxretry = -1;", "is not of type `unsigned integer, meaning >=0'"),
        (
            "  services.fail2ban.jails.DEFAULT.enabled = false;",
            "The option `services.fail2ban.jails.DEFAULT.enabled' is read-only",
        ),
        ('  services.fail2ban.daemonConfig = "";', "The option definition `services.fail2ban.daemonConfig' in"),
        (
            "  services.fail2ban = { enable = true; bantime-increment = "
            '{ enable = true; formula = "ban.Time"; multipliers = "1 2"; }; };',
            "Options `services.fail2ban.bantime-increment.formula` and "
            "`services.fail2ban.bantime-increment.multipliers` cannot be both specified.",
        ),
    ):
        r = pbx.switch(module(extra=extra), ok=False)
        assert r.returncode == 1, (extra, r.stderr)
        assert message in r.stderr, (extra, r.stderr)
    assert pbx.lab.run("readlink /nix/var/nix/profiles/system").stdout == before


def test_without_a_firewall_the_switch_warns_as_nixos_does(fresh):
    pbx = fresh
    r = pbx.switch(module(extra=LAB_JAIL + "\n  networking.firewall.enable = false;"))
    assert "evaluation warning: fail2ban can not be used without a firewall" in r.stderr, r.stderr
    r = pbx.switch(module(extra=LAB_JAIL))
    assert "fail2ban can not be used without a firewall" not in r.stderr, r.stderr


def test_default_jail_settings_need_mkforce_as_on_nixos(fresh):
    """The module defines jails.DEFAULT.settings (backend = "systemd", ...) at normal
    priority: a second plain definition conflicts, lib.mkForce replaces it."""
    pbx = fresh
    r = pbx.switch(
        module(extra=LAB_JAIL + '\n  services.fail2ban.jails.DEFAULT.settings.backend = "polling";'), ok=False
    )
    assert (
        "The option `services.fail2ban.jails.DEFAULT.settings.backend' has conflicting definition values" in r.stderr
    ), r.stderr
    pbx.switch(module(extra=LAB_JAIL + '\n  services.fail2ban.jails.DEFAULT.settings.backend = lib.mkForce "polling";'))
    assert "[DEFAULT]\nbackend = polling\n" in pbx.lab.run("cat /etc/fail2ban/jail.local").stdout


def test_generated_files_are_nixpkgs_and_the_unit_is_the_packages_with_nixos_overrides(fresh):
    pbx = fresh
    pbx.switch(
        module(
            extra=LAB_JAIL
            + """
  services.fail2ban.jails.plain = ''
    enabled = false
    filter = sshd
  '';
  services.fail2ban.filters.lab-extra.Definition.failregex = "EXTRA from <HOST>";
  services.fail2ban.actions.lab-action.Definition.actionban = "true";
  services.openssh.enable = true;"""
        )
    )
    pbx.ready("lab")
    run = pbx.lab.run
    assert run("cat /etc/fail2ban/jail.local").stdout == (
        "[DEFAULT]\n"
        "backend = systemd\n"
        "banaction = iptables-multiport\n"
        "banaction_allports = iptables-allports\n"
        "bantime = 5\n"
        "ignoreip = 127.0.0.1/8 ::1 \n"
        "maxretry = 3\n"
        "\n"
        "[INCLUDES]\n"
        "before = paths-nixos.conf\n"
        "\n"
        "[lab]\n"
        "backend = polling\n"
        "enabled = true\n"
        "filter = nixos-lab\n"
        f"logpath = {LOG}\n"
        "port = 8088\n"
        "\n"
        "[sshd]\n"
        "enabled = true\n"
        "port = 22\n"
        "[plain]\n"
        "enabled = false\n"
        "filter = sshd\n"
        "\n"
    )
    assert run("cat /etc/fail2ban/filter.d/nixos-lab.local").stdout == "[Definition]\nfailregex = FAIL from <HOST>\n"
    assert run("cat /etc/fail2ban/filter.d/lab-extra.local").stdout == "[Definition]\nfailregex = EXTRA from <HOST>\n"
    assert run("cat /etc/fail2ban/action.d/lab-action.local").stdout == "[Definition]\nactionban = true\n"
    assert run("cat /etc/fail2ban/paths-nixos.conf").stdout == (
        "# NixOS\n\n[INCLUDES]\n\nbefore = paths-common.conf\n\nafter  = paths-overrides.local\n\n[DEFAULT]\n"
    )
    # lab deviation: SYSLOG is written as STDOUT, said in the file
    assert run("cat /etc/fail2ban/fail2ban.local").stdout == (
        "# televoc lab: logtarget = SYSLOG on NixOS; no syslog daemon here\n"
        "[Definition]\n"
        "dbfile = /var/lib/fail2ban/fail2ban.sqlite3\n"
        "logtarget = STDOUT\n"
        "pidfile = /run/fail2ban/fail2ban.pid\n"
        "socket = /run/fail2ban/fail2ban.sock\n"
    )
    # /etc/fail2ban: links into /etc/static; the package's files, its action.d/filter.d
    # *.conf only; nothing of Debian's own (jail.d, paths-debian.conf)
    assert run("readlink /etc/fail2ban/jail.conf").stdout.strip() == "/etc/static/fail2ban/jail.conf"
    assert (
        run("readlink -f /etc/fail2ban/jail.conf").stdout.strip()
        == "/usr/share/televoc-lab/fail2ban/etc/fail2ban/jail.conf"
    )
    assert re.fullmatch(r"/nix/store/[0-9a-z]{32}-jail\.local\n", run("readlink -f /etc/fail2ban/jail.local").stdout)
    assert sorted(run("ls /etc/fail2ban").stdout.split()) == [
        "action.d",
        "fail2ban.conf",
        "fail2ban.local",
        "filter.d",
        "jail.conf",
        "jail.local",
        "paths-common.conf",
        "paths-nixos.conf",
    ]
    actions = run("ls /etc/fail2ban/action.d").stdout.split()
    assert "iptables-multiport.conf" in actions and "nftables-multiport.conf" in actions
    assert all(a.endswith((".conf", ".local")) for a in actions), actions
    # the unit: the package's (Debian's ExecStart) and NixOS's overrides
    unit = run("cat /etc/static/systemd/system/fail2ban.service").stdout
    assert "ExecStart=/usr/bin/fail2ban-server -xf start" in unit
    assert "PartOf=firewall.service" in unit and "X-Restart-Triggers=" in unit, unit
    assert "ProtectSystem=strict" in unit and "CapabilityBoundingSet=CAP_NET_ADMIN" in unit
    assert (
        "/usr/share/televoc-lab/fail2ban/bin"
        in run(f"tr '\\0' '\\n' < /proc/{pbx.main_pid('fail2ban')}/environ | grep ^PATH=").stdout
    )
    assert run("getent group fail2ban", check=False).returncode == 0
    # the sshd jail (services.openssh.enable) is on NixOS's backend, the journal: the lab
    # has none, so it reads nothing here (see nixos-rebuild's header)
    status = run("fail2ban-client status sshd").stdout
    assert "Journal matches:" in status, status


def test_restarted_when_its_generated_files_change_and_only_then(fresh):
    pbx = fresh
    pbx.switch(module(extra=LAB_JAIL))
    pbx.ready("lab")
    pid = pbx.main_pid("fail2ban")
    r = pbx.switch(module(extra=LAB_JAIL) + "\n")
    assert "fail2ban.service" not in r.stderr, r.stderr
    r = pbx.switch(module(web=True, extra=LAB_JAIL))  # another service changes
    assert "fail2ban.service" not in r.stderr, r.stderr
    assert pbx.main_pid("fail2ban") == pid
    r = pbx.switch(module(web=True, extra=LAB_JAIL.replace("maxretry = 3", "maxretry = 4")))
    assert "stopping the following units: fail2ban.service" in r.stderr, r.stderr
    assert "starting the following units: fail2ban.service" in r.stderr, r.stderr
    pbx.ready("lab")
    assert pbx.main_pid("fail2ban") not in (0, pid)
    assert pbx.lab.run("fail2ban-client get lab maxretry").stdout.strip() == "4"


def test_part_of_the_firewall_service_restarts_with_it(fresh):
    pbx = fresh
    pbx.switch(module(extra=LAB_JAIL))
    pbx.ready("lab")
    pid = pbx.main_pid("fail2ban")
    pbx.lab.run("systemctl restart firewall")
    pbx.ready("lab")
    assert pbx.main_pid("fail2ban") not in (0, pid)


def test_a_jail_whose_log_file_is_missing_keeps_fail2ban_from_starting(fresh):
    """fail2ban-server refuses to start when a jail's logpath matches no file (exit 255,
    RestartPreventExitStatus): the log must exist before fail2ban starts."""
    pbx = fresh
    pbx.lab.run(f"rm -f {LOG}")
    pbx.switch(module(extra=LAB_JAIL))
    wait_for(
        lambda: pbx.lab.run("systemctl is-active fail2ban", check=False).stdout.strip() == "failed",
        15,
        "fail2ban to fail",
    )
    assert "Have not found any log file for 'lab' jail" in pbx.lab.run("journalctl -u fail2ban -n 100000").stdout
    pbx.lab.run(f"touch {LOG} && systemctl restart fail2ban")
    pbx.ready("lab")


def test_a_jail_reads_televoc_provisioning_log_lines(fresh):
    """The settings a jail needs for provisiond.py's log: its UTC time stamp (`Z`, read by
    %z, so the server's time zone does not matter: this one runs in Europe/Berlin), the
    source at the end of the line (a path that names an address cannot frame another),
    `refused` lines only; backend "auto" (pyinotify)."""
    pbx = fresh
    jail = "televoc-provisioning"
    line = "{now} televoc-provisioning: "
    # what fail2ban finds when it starts: it reads the file from its beginning and skips
    # lines older than findtime (10 min), by their time stamps
    old = pbx.lab.run("date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ").stdout.strip()
    pbx.log(
        PROVISIONING_LOG,
        [line + f"refused 404 unknown MAC 000413FFFFFF from {BANNED}"] * 3
        + [f"{old} televoc-provisioning: refused 404 unknown MAC 000413FFFFFE from {FOURTH}"] * 3,
    )
    pbx.switch(
        module(web=True, extra=PROVISIONING_JAIL + '\n  systemd.services.fail2ban.environment.TZ = "Europe/Berlin";')
    )
    pbx.ready(jail)
    wait_for(lambda: BANNED in pbx.banned(jail), 15, f"the ban of {BANNED}")
    assert pbx.banned(jail) == [BANNED], "an hour-old line counted (or the time zone is wrong)"
    assert pbx.http(BANNED) == "" and pbx.http(OTHER) == f"hello {OTHER}"
    # lines that come while it runs: only `refused` ones count, and only their source
    pbx.log(
        PROVISIONING_LOG,
        [line + f"served 000413AABBCC version 0123456789abcdef to {OTHER}"] * 3
        + [line + f"refused 404 path '/televoc/x from {OTHER}' from {THIRD}"] * 2
        + [line + f"refused 403 fetched already by {OTHER}: 000413AABBCC version 0123456789abcdef from {THIRD}"],
    )
    wait_for(lambda: THIRD in pbx.banned(jail), 15, f"the ban of {THIRD}")
    assert sorted(pbx.banned(jail)) == [BANNED, THIRD]
    assert "timezone problem" not in pbx.lab.run("journalctl -u fail2ban -n 100000").stdout


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_debian_asterisk_filter_bans_wrong_sip_passwords_from_asterisk_22_security_log(fresh, backend):
    """jail.conf's [asterisk] jail with Debian's filter.d/asterisk.conf, reading the
    security log of Asterisk 22: three REGISTERs with a wrong password (three
    ChallengeResponseFailed events) ban the source from SIP (UDP 5060); a phone beside it
    still registers."""
    pbx = fresh
    pbx.switch(
        module(
            nftables=backend == "nftables",
            asterisk=True,
            extra="""\
  services.fail2ban = {
    enable = true;
    jails.asterisk.settings = {
      logpath = "/var/log/asterisk/security";
      backend = "polling";
      maxretry = 3;
    };
  };
  # the log must exist when fail2ban starts: Asterisk makes it
  systemd.services.fail2ban.after = [ "asterisk.service" ];""",
        )
    )
    pbx.ready("asterisk")
    assert pbx.lab.register("phone1", PW, 5070, local_ip=OTHER)
    for port in (5071, 5072, 5073):
        assert not pbx.lab.register("phone1", "wrong-password", port, local_ip=BANNED, timeout=3)
    security = pbx.lab.run("cat /var/log/asterisk/security").stdout
    assert re.search(
        r'^\[[^]]+\] SECURITY\[\d+\] res_security_log\.c: SecurityEvent="ChallengeResponseFailed",'
        rf'.*,RemoteAddress="IPV4/UDP/{re.escape(BANNED)}/5071"',
        security,
        re.M,
    ), security
    wait_for(lambda: BANNED in pbx.banned("asterisk"), 15, f"the ban of {BANNED}")
    assert not pbx.lab.register("phone1", PW, 5074, local_ip=BANNED, timeout=3), "the banned source still registers"
    assert pbx.lab.register("phone1", PW, 5075, local_ip=OTHER), "a phone beside it is refused"
