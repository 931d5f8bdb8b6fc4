"""The NixOS stand-in against nixpkgs' own modules: what the fidelity audit compared and fixed.

Each test is one claim, from the real behaviour of a nixpkgs module (the module is named in
the test), shown in the lab: asterisk.nix's preStart and static ids (misc/ids.nix),
firewall.nix's backend choice with services.firewalld, the assertions of
firewall-iptables.nix, firewall-nftables.nix and firewalld/settings.nix,
update-users-groups.pl's ids and memberships, setup-etc.pl. lab/README.md ("Fidelity
audit") lists every part compared; the header of lab/standin/nixos-rebuild the deviations.

Tests that need a server on which Asterisk never ran use a lab of their own; the others
share one and write their own /etc/nixos/televoc/asterisk.nix, so each passes alone (-k).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.handwritten import SERVER_PY
from lab.lab import PBX_PHONE_IP, Lab
from lab.wait import wait_for

INSIDE = "10.23.0.21"  # a phone in the phone network
EVAL = (
    "NIX_CONFIG='build-users-group =' nix-instantiate --eval --strict --json --read-write-mode"
    " /usr/local/lib/televoc-lab/eval-config.nix --arg configuration /etc/nixos/configuration.nix"
)


def module(*lines: str) -> str:
    return "\n".join(["{ config, lib, pkgs, ... }:", "{", *(f"  {line}" for line in lines), "}", ""])


WEB = (
    'users.users.web = { isSystemUser = true; group = "web"; description = "lab web"; };',
    "users.groups.web = { };",
    "systemd.services.web = {",
    '  wantedBy = [ "multi-user.target" ];',
    "  serviceConfig = {",
    '    ExecStart = "${pkgs.python3}/bin/python3 ${./server.py} 8088";',
    '    User = "web";',
    "  };",
    "};",
)


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

    def evaluate(self, text: str, attr: str):
        """The stand-in's evaluated configuration (eval-config.nix's result) at `attr`."""
        self.write(text)
        r = self.lab.run(f"{EVAL} -A {shlex.quote(attr)}", check=False, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def generation(self) -> str:
        return self.lab.run("readlink /nix/var/nix/profiles/system; readlink /etc/static", check=False).stdout


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    with Lab(tmp_path_factory.mktemp("fidelity") / "lab") as lab:
        lab.phone_address(INSIDE)
        yield Pbx(lab)


@pytest.fixture
def fresh(tmp_path: Path):
    """A server on which Asterisk has never run (a lab of its own)."""
    with Lab(tmp_path / "lab") as lab:
        yield Pbx(lab)


# --- services/networking/asterisk.nix ------------------------------------------------------
def test_asterisk_first_start_copies_the_package_skeleton_into_var_lib_asterisk(fresh):
    """asterisk.nix's preStart: /var/lib, /var/spool and /var/log/asterisk do not exist on a
    fresh host; the first start copies the package's skeleton (the sounds among it), owned
    by asterisk."""
    assert fresh.lab.run("test -e /var/lib/asterisk", check=False).returncode == 1
    fresh.switch(module("services.asterisk.enable = true;"))
    out = fresh.lab.run(
        "stat -c '%U:%G %a' /var/lib/asterisk /var/lib/asterisk/sounds/en/hello-world.gsm /var/spool/asterisk"
        " /var/log/asterisk"
    ).stdout.split("\n")
    assert out[:4] == [
        "asterisk:asterisk 755",
        "asterisk:asterisk 644",
        "asterisk:asterisk 755",
        "asterisk:asterisk 755",
    ]


def test_var_lib_asterisk_made_before_the_first_start_gets_no_skeleton_and_asterisk_fails(fresh):
    """The field note: anything that creates /var/lib/asterisk before Asterisk's first start
    (a deploy writing static-http/ into it, say) leaves it without sounds: the preStart
    copies the skeleton only into a directory that does not exist. It also leaves it without
    documentation/ (Asterisk's XML docs, astdatadir), without which Asterisk 22 exits at
    start-up ("Stasis initialization failed"), even when the directory is asterisk's (192,
    NixOS's uid; root's: "ASTdb initialization failed"): the switch reports the unit failed."""
    fresh.lab.run("mkdir -p /var/lib/asterisk/static-http/televoc && chown -R 192:192 /var/lib/asterisk")
    r = fresh.switch(module("services.asterisk.enable = true;"), ok=False)
    assert r.returncode == 4 and "the following units failed: asterisk.service" in r.stderr, r.stderr
    assert fresh.lab.run("ls /var/lib/asterisk").stdout.split() == ["astdb.sqlite3", "static-http"]  # its db only
    assert fresh.lab.run("test -d /var/spool/asterisk/voicemail", check=False).returncode == 0  # made there
    daemon = fresh.lab.run(
        "timeout 20 /usr/sbin/asterisk -U asterisk -C /etc/asterisk/asterisk.conf -f 2>&1 | head -n 3", check=False
    ).stdout
    assert "Stasis initialization failed" in daemon, daemon


def test_asterisk_user_and_group_have_nixos_static_ids(fresh):
    """asterisk.nix: uid = ids.uids.asterisk, gid = ids.gids.asterisk (192, misc/ids.nix)."""
    assert fresh.lab.run("getent passwd asterisk", check=False).returncode == 2  # none before
    fresh.switch(module("services.asterisk.enable = true;"))
    assert fresh.lab.run("id -u asterisk; id -g asterisk").stdout.split() == ["192", "192"]


# --- services/networking/firewall.nix: the backend ------------------------------------------
@pytest.mark.parametrize(
    ("options", "backend"),
    [
        ("services.firewalld.enable = true; networking.nftables.enable = true;", "firewalld"),
        ("networking.nftables.enable = true;", "nftables"),
        ("", "iptables"),
    ],
)
def test_firewall_backend_default_follows_firewalld_then_nftables(pbx, options, backend):
    assert pbx.evaluate(module(options), "firewall.backend") == backend


def test_firewalld_backend_takes_the_firewall_ports_into_its_default_zone(pbx):
    """firewall-firewalld.nix: allowed ports become zone nixos-fw-default, the DefaultZone."""
    zones = pbx.evaluate(
        module(
            "services.firewalld.enable = true;",
            "networking.nftables.enable = true;",
            "networking.firewall.allowedUDPPorts = [ 5060 ];",
            "networking.firewall.allowedUDPPortRanges = [ { from = 10000; to = 10099; } ];",
        ),
        "firewalld",
    )
    assert zones["settings"]["DefaultZone"] == "nixos-fw-default"
    assert zones["zones"]["nixos-fw-default"]["ports"] == [
        {"port": 5060, "protocol": "udp"},
        {"port": "10000-10099", "protocol": "udp"},
    ]
    assert zones["zones"]["nixos-fw-default"]["target"] == "DROP"


def test_firewalld_is_evaluated_then_refused_and_changes_nothing(pbx):
    pbx.switch(module(*WEB))
    before = pbx.generation()
    r = pbx.switch(module(*WEB, "services.firewalld.enable = true;", "networking.nftables.enable = true;"), ok=False)
    assert r.returncode == 1, r.stderr
    assert "firewalld is not simulated by the lab" in r.stderr, r.stderr
    assert pbx.generation() == before


def test_firewalld_without_nftables_fails_its_assertion(pbx):
    """firewalld/settings.nix: FirewallBackend "nftables" (the default) needs nftables."""
    r = pbx.switch(module("services.firewalld.enable = true;"), ok=False)
    assert r.returncode == 1, r.stderr
    assert "FirewallD uses nftables as the firewall backend (by default), but nftables support isn't enabled" in (
        r.stderr
    ), r.stderr
    assert "firewalld is not simulated" not in r.stderr


def test_firewalld_options_are_typed(pbx):
    r = pbx.switch(
        module('services.firewalld.zones.phones.target = "REJECT";', "networking.nftables.enable = true;"), ok=False
    )
    assert "A definition for option `services.firewalld.zones.phones.target' is not of type" in r.stderr, r.stderr


# --- firewall-iptables.nix, firewall-nftables.nix, firewall.nix: assertions -----------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            'networking.nftables.enable = true; networking.firewall.extraStopCommands = "true";',
            "- extraStopCommands is incompatible with the nftables based firewall: true",
        ),
        (
            'networking.nftables.enable = true; networking.firewall.pingLimit = "--limit 1/minute";',
            '- nftables syntax like "2/second" should be used in networking.firewall.pingLimit',
        ),
        (
            "networking.nftables.enable = true; networking.nftables.rulesetFile = ./server.py;",
            "- networking.nftables.rulesetFile conflicts with the firewall",
        ),
        ("networking.firewall.filterForward = true;", "- filterForward only works with the nftables based firewall"),
        (
            "networking.firewall.filterOutput.enabled = true;",
            "- filterOutput.enabled only works with the nftables based firewall",
        ),
    ],
)
def test_firewall_module_assertions_fire_as_in_nixpkgs(pbx, options, message):
    before = pbx.generation()
    r = pbx.switch(module(options), ok=False)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert pbx.generation() == before


def test_backend_nftables_without_nftables_enable_leaves_the_server_unfiltered(pbx):
    """No nixpkgs assertion catches it: firewall-nftables.nix only defines a table, which
    nftables.nix never loads, and firewall-iptables.nix is off. A real server is then open
    on every port; so is the lab."""
    pbx.switch(module(*WEB))
    wait_for(lambda: "8088" in pbx.lab.run("ss -Hlnt").stdout, 10, "the web server")
    closed = pbx.lab.run_phone(f"curl -sS -m 3 --interface {INSIDE} http://{PBX_PHONE_IP}:8088/", check=False)
    assert closed.returncode != 0
    pbx.switch(module(*WEB, 'networking.firewall.backend = "nftables";'))
    assert "nixos-fw" not in pbx.lab.run("iptables -S INPUT; nft list tables").stdout  # firewall stopped
    r = pbx.lab.run_phone(f"curl -sS -m 3 --interface {INSIDE} http://{PBX_PHONE_IP}:8088/", check=False)
    assert r.stdout.strip().endswith(INSIDE), r.stderr


def test_nftables_output_chain_logs_refused_packets_as_nixpkgs(pbx):
    """firewall-nftables.nix: with filterOutput, logRefusedPackets adds the outgoing log rules."""
    pbx.write(
        module(
            "networking.nftables.enable = true;",
            "networking.firewall.filterOutput.enabled = true;",
            "networking.firewall.logRefusedPackets = true;",
            "networking.firewall.logRefusedUnicastsOnly = false;",
        )
    )
    r = pbx.lab.run("nixos-rebuild build", check=False, timeout=120)
    assert r.returncode == 0, r.stderr
    rules = pbx.lab.run("cat $(ls -t /nix/store/*-nftables-rules/bin/nftables-rules | head -n 1)").stdout
    output = rules[rules.index("chain output {") : rules.index("chain output-allow {")]
    for prefix in ("refused outgoing broadcast: ", "refused outgoing multicast: ", "refused outgoing packet: "):
        assert f'prefix "{prefix}"' in output, output


# --- config/users-groups.nix, update-users-groups.pl ----------------------------------------
def test_default_groups_have_nixos_static_gids_in_the_configuration(pbx):
    groups = pbx.evaluate(module(), "groups")
    assert {n: groups[n]["gid"] for n in ("wheel", "users", "nogroup", "kvm")} == {
        "wheel": 1,
        "users": 100,
        "nogroup": 65534,
        "kvm": 302,
    }


def test_a_gid_once_used_is_not_given_to_another_group(pbx):
    """allocGid skips the gids of the gid map (groups that existed before)."""
    pbx.switch(module("users.groups.gone1 = { };"))
    gid = pbx.lab.run("getent group gone1 | cut -d: -f3").stdout.strip()
    pbx.switch(module("users.groups.new1 = { };"))
    assert pbx.lab.run("getent group gone1", check=False).returncode == 2
    new = int(pbx.lab.run("getent group new1 | cut -d: -f3").stdout)
    assert new != int(gid) and 400 <= new <= 999


def test_declared_users_extra_groups_are_the_group_members(pbx):
    """update-users-groups.pl: a declared group's members are the declared users naming it."""
    pbx.switch(module(*WEB[:2], 'users.users.web.extraGroups = [ "dialout" ];'))
    assert "web" in pbx.lab.run("getent group dialout").stdout.strip().split(":")[3].split(",")
    pbx.switch(module(*WEB[:2]))
    assert "web" not in pbx.lab.run("getent group dialout").stdout.strip().split(":")[3].split(",")


def test_existing_user_keeps_its_uid_when_the_declared_one_changes(pbx):
    pbx.switch(module(*WEB[:2]))
    uid = pbx.lab.run("id -u web").stdout.strip()
    r = pbx.switch(module(*WEB[:2], "users.users.web.uid = 4242;"))
    assert f"warning: not applying UID change of user ‘web’ ({uid} -> 4242) in /etc/passwd" in r.stderr, r.stderr
    assert pbx.lab.run("id -u web").stdout.strip() == uid


def test_two_users_with_one_uid_fail_the_uniqueness_assertion(pbx):
    r = pbx.switch(
        module(
            'users.users.a = { uid = 4001; isSystemUser = true; group = "a"; }; users.groups.a = { };',
            'users.users.b = { uid = 4001; isSystemUser = true; group = "a"; };',
        ),
        ok=False,
    )
    assert "- UIDs and GIDs must be unique!" in r.stderr, r.stderr


# --- system/etc/etc.nix, setup-etc.pl -------------------------------------------------------
def test_direct_symlink_entry_points_at_the_store_not_at_etc_static(pbx):
    pbx.switch(
        module(
            'environment.etc."lab-direct".source = ./server.py;',
            'environment.etc."lab-direct".mode = "direct-symlink";',
        )
    )
    target = pbx.lab.run("readlink /etc/lab-direct").stdout.strip()
    assert target.startswith("/nix/store/") and target.endswith("-server.py"), target
    assert pbx.lab.run("test -e /etc/NIXOS", check=False).returncode == 0  # setup-etc.pl's tag


def test_copied_etc_file_takes_its_mode_and_named_owner(pbx):
    pbx.switch(
        module(
            *WEB[:2],
            'environment.etc."lab-copied" = { text = "x\\n"; mode = "0640"; user = "web"; group = "web"; };',
        )
    )
    assert pbx.lab.run("stat -c '%a %U %G %h' /etc/lab-copied").stdout.split() == ["640", "web", "web", "1"]
