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
