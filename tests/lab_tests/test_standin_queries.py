"""The questions televoc's preflight asks a NixOS host, answered by the lab as NixOS answers them.

The preflight asks over SSH as root, as pyinfra runs every command: `sh -c '...'` in a
non-interactive session (lab.ssh_command is pyinfra's connection). It asks `nixos-version`,
and evaluates the host's configuration: on a channel host with `<nixpkgs/nixos>` (NIX_PATH,
which NixOS gives every session through PAM), on a flake host with `nix eval` of
nixosConfigurations."<name>".config. The answers come from the module system the
nixos-rebuild stand-in acts on (lab/standin/eval-config.nix, called by the stand-in nixpkgs'
nixos/default.nix and lib.nixosSystem), so a query and a switch cannot disagree.

One lab for the queries (each test writes its own /etc/nixos, so each passes alone, -k);
the tests that switch have a lab of their own.
"""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from lab.flakehost import make_flake_host
from lab.lab import CHANNEL_NIX_PATH, CONFIGURATION_NIX, Lab, upstream_version

NIXOS = "/etc/nixos"
FIELDS = (
    "{ v = c.services.asterisk.package.version; fw = c.networking.firewall.enable;"
    " b = c.networking.firewall.backend or null; n = c.networking.nftables.enable;"
    " fd = c.services.firewalld.enable; }"
)
CHANNEL_QUERY = (
    "nix-instantiate --eval --strict --json -E"
    f" {shlex.quote('let c = (import <nixpkgs/nixos> {}).config; in ' + FIELDS)}"
)
FLAKE_QUERY = (
    "nix --extra-experimental-features 'nix-command flakes' eval --json"
    f" '{NIXOS}#nixosConfigurations.\"pbx\".config' --apply {shlex.quote('c: ' + FIELDS)}"
)


def module(*lines: str) -> str:
    return "\n".join(["{ config, lib, pkgs, ... }:", "{", *(f"  {line}" for line in lines), "}", ""])


def session(lab: Lab, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`command` as pyinfra runs it: `sh -c '<command>'` over SSH as root."""
    return subprocess.run(
        lab.ssh_command("sh -c " + shlex.quote(command)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def channel_host(lab: Lab, text: str) -> None:
    """/etc/nixos as a channel host's: configuration.nix importing televoc/asterisk.nix (text)."""
    lab.run(f"rm -rf {NIXOS} && mkdir -p {NIXOS}/televoc")
    (lab.root / "etc/nixos/configuration.nix").write_text(CONFIGURATION_NIX)
    (lab.root / "etc/nixos/televoc/asterisk.nix").write_text(text)


def flake_host(lab: Lab, text: str, nixpkgs: str = "current"):
    """/etc/nixos as a flake host's, the module `text` visible to the flake (git add -N)."""
    host = make_flake_host(lab, nixpkgs=nixpkgs, module=text)
    host.git("add --intent-to-add televoc/asterisk.nix")
    return host


def answer(lab: Lab, query: str) -> dict:
    r = session(lab, query)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def asterisk_version(lab: Lab) -> str:
    """Debian's Asterisk in the lab, as the stand-in's pkgs.asterisk.version gives it."""
    return upstream_version(lab.run("dpkg-query -W -f '${Version}' asterisk").stdout)


def switch(lab: Lab) -> None:
    r = lab.run("nixos-rebuild switch", check=False, timeout=180)
    assert r.returncode == 0, r.stderr


def nixos_version(lab: Lab, *args: str) -> str:
    r = session(lab, " ".join(["nixos-version", *args]))
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with Lab(tmp_path_factory.mktemp("standin-queries") / "lab") as lab:
        yield lab


@pytest.fixture
def fresh(tmp_path):
    """A host on which nothing was switched yet (a lab of its own)."""
    with Lab(tmp_path / "lab") as lab:
        yield lab


def channel(lab: Lab) -> tuple[str, int]:
    """The revision of root's channel (the stand-in's current one) and its revCount."""
    nixpkgs = "/usr/local/lib/televoc-lab/nixpkgs"
    rev = lab.run(f"git -C {nixpkgs} rev-parse main").stdout.strip()
    return rev, int(lab.run(f"git -C {nixpkgs} rev-list --count main").stdout)


# --- nixos-version --------------------------------------------------------------------------
def test_a_fresh_host_s_nixos_version_is_the_release_of_its_installation_channel(fresh):
    """Before any switch the host runs what it was installed with, from root's channel:
    NixOS 25.11, versioned as channels are (<release>.<revCount>.<12 hex>)."""
    rev, count = channel(fresh)
    assert nixos_version(fresh) == f"25.11.{count}.{rev[:12]} (Xantusia)\n"
    assert json.loads(nixos_version(fresh, "--json")) == {
        "nixosVersion": f"25.11.{count}.{rev[:12]}",
        "nixpkgsRevision": rev,
    }


def test_after_a_channel_switch_nixos_version_is_the_channel_s_nixpkgs(fresh):
    rev, count = channel(fresh)
    channel_host(fresh, module("services.asterisk.enable = true;"))
    switch(fresh)
    assert nixos_version(fresh) == f"25.11.{count}.{rev[:12]} (Xantusia)\n"
    assert nixos_version(fresh, "--revision") == f"{rev}\n"
    assert fresh.run("cat /nix/var/nix/profiles/system/nixos-version").stdout == f"25.11.{count}.{rev[:12]}"


def test_after_a_flake_switch_nixos_version_is_the_locked_nixpkgs(fresh):
    host = flake_host(fresh, module("services.asterisk.enable = true;"))
    rev = host.nixpkgs_revs["current"]
    switch(fresh)
    assert nixos_version(fresh) == f"25.11.20251130.{rev[:7]} (Xantusia)\n"
    assert json.loads(nixos_version(fresh, "--json")) == {
        "nixosVersion": f"25.11.20251130.{rev[:7]}",
        "nixpkgsRevision": rev,
    }


def test_a_flake_host_locked_to_the_older_nixpkgs_runs_25_05_after_its_switch(fresh):
    host = flake_host(fresh, module("services.asterisk.enable = true;"), nixpkgs="older")
    rev = host.nixpkgs_revs["older"]
    assert nixos_version(fresh).startswith("25.11.")  # not switched yet: the installation's
    switch(fresh)
    assert nixos_version(fresh) == f"25.05.20250523.{rev[:7]} (Warbler)\n"


# --- NIX_PATH ------------------------------------------------------------------------------
def test_a_session_has_the_channel_nix_path_of_a_nixos_host(lab):
    r = session(lab, 'printf %s "$NIX_PATH"')
    assert r.stdout == CHANNEL_NIX_PATH
    assert CHANNEL_NIX_PATH == (
        "nixpkgs=/nix/var/nix/profiles/per-user/root/channels/nixos"
        ":nixos-config=/etc/nixos/configuration.nix:/nix/var/nix/profiles/per-user/root/channels"
    )


def test_after_a_flake_switch_sessions_have_no_nixos_config_and_the_channel_query_fails(fresh):
    """NixOS's NIX_PATH for a system from lib.nixosSystem: "nixpkgs=flake:nixpkgs" and the
    channels, no nixos-config; without flakes enabled in nix.conf `<nixpkgs>` fails."""
    flake_host(fresh, module("services.asterisk.enable = true;"))
    switch(fresh)
    nix_path = session(fresh, 'printf %s "$NIX_PATH"').stdout
    assert nix_path == "nixpkgs=flake:nixpkgs:/nix/var/nix/profiles/per-user/root/channels"
    r = session(fresh, CHANNEL_QUERY)
    assert r.returncode == 1
    assert "experimental Nix feature 'flakes' is disabled" in r.stderr


# --- a channel host ---------------------------------------------------------------------------
def test_channel_query_gives_the_default_firewall_and_asterisk_s_version(lab):
    channel_host(lab, module("services.asterisk.enable = true;"))
    version = asterisk_version(lab)
    assert version.startswith("22.")
    assert answer(lab, CHANNEL_QUERY) == {"v": version, "fw": True, "b": "iptables", "n": False, "fd": False}


def firewall(answer: dict) -> tuple:
    return answer["fw"], answer["b"], answer["n"], answer["fd"]


def test_channel_query_with_nftables_enabled_gives_the_nftables_backend(lab):
    channel_host(lab, module("networking.nftables.enable = true;"))
    assert firewall(answer(lab, CHANNEL_QUERY)) == (True, "nftables", True, False)


def test_channel_query_with_firewalld_enabled_gives_the_firewalld_backend(lab):
    channel_host(lab, module("services.firewalld.enable = true;"))
    assert firewall(answer(lab, CHANNEL_QUERY)) == (True, "firewalld", False, True)


def test_channel_query_with_the_firewall_disabled_says_so(lab):
    channel_host(lab, module("networking.firewall.enable = false;"))
    assert firewall(answer(lab, CHANNEL_QUERY)) == (False, "iptables", False, False)


def test_an_evaluation_error_comes_back_as_nix_s_error_with_status_1(lab):
    channel_host(lab, "{ config, ... }:\n{\n  services.asterisk.enable = true\n}\n")
    r = session(lab, CHANNEL_QUERY)
    assert (r.returncode, r.stdout) == (1, "")
    assert "error: syntax error, unexpected '}', expecting ';'" in r.stderr
    assert "/etc/nixos/televoc/asterisk.nix:4:1" in r.stderr


def test_nixos_rebuild_takes_the_configuration_the_query_reads_from_nix_path(fresh):
    """One module system: with nixos-config pointing elsewhere, the query and the switch
    both read that file (a switch from such a session applies what the query said)."""
    channel_host(fresh, module("services.asterisk.enable = true;"))
    fresh.run(f"cp {NIXOS}/configuration.nix /root/other.nix")
    (fresh.root / "root/televoc").mkdir()
    (fresh.root / "root/televoc/asterisk.nix").write_text(module("networking.nftables.enable = true;"))
    other = f"NIX_PATH={shlex.quote(CHANNEL_NIX_PATH.replace(f'{NIXOS}/configuration.nix', '/root/other.nix'))}"
    assert answer(fresh, f"{other} {CHANNEL_QUERY}")["b"] == "nftables"
    r = session(fresh, f"{other} nixos-rebuild switch", timeout=180)
    assert r.returncode == 0, r.stderr
    assert fresh.run("nft list table inet nixos-fw", check=False).returncode == 0


# --- a flake host -----------------------------------------------------------------------------
def test_flake_query_gives_the_flake_s_configuration(lab):
    flake_host(lab, module("services.asterisk.enable = true;", "networking.nftables.enable = true;"))
    assert answer(lab, FLAKE_QUERY) == {"v": asterisk_version(lab), "fw": True, "b": "nftables", "n": True, "fd": False}


def test_flake_query_with_the_firewall_disabled_says_so(lab):
    flake_host(lab, module("networking.firewall.enable = false;"))
    assert firewall(answer(lab, FLAKE_QUERY)) == (False, "iptables", False, False)


def test_flake_query_on_a_host_locked_to_the_older_nixpkgs_evaluates_that_revision(lab):
    flake_host(lab, module("services.asterisk.enable = true;"), nixpkgs="older")
    release = FLAKE_QUERY.replace(shlex.quote("c: " + FIELDS), shlex.quote("c: c.system.nixos.release"))
    assert answer(lab, release) == "25.05"


def test_flake_query_sees_only_what_git_tracks(lab):
    """An untracked module is invisible to the flake, as to nixos-rebuild: Nix's error."""
    make_flake_host(lab, module=module("services.asterisk.enable = true;"))
    r = session(lab, FLAKE_QUERY)
    assert (r.returncode, r.stdout) == (1, "")
    assert "Path 'televoc/asterisk.nix' in the repository \"/etc/nixos\" is not tracked by Git." in r.stderr


def test_a_flake_evaluation_error_comes_back_as_nix_s_error_with_status_1(lab):
    flake_host(lab, module('networking.firewall.enable = "no";'))
    r = session(lab, FLAKE_QUERY)
    assert (r.returncode, r.stdout) == (1, "")
    assert "A definition for option `networking.firewall.enable' is not of type `boolean'" in r.stderr
