"""A flake host: nixos-rebuild evaluates /etc/nixos/flake.nix with the real Nix, as on NixOS.

Most NixOS servers are configured by a flake in a git repository: `nixos-rebuild switch` then
evaluates nixosConfigurations."<host name>" of /etc/nixos, and Nix sees only the files git
tracks and writes or keeps flake.lock by its own rules. The lab's stand-in hands that to the
real Nix (`nix eval` of the flake, lab/standin/nixos-rebuild), so each claim below is Nix's
own behaviour. Hosts are made by make_flake_host (lab/flakehost.py); the flake's nixpkgs
input is the lab's stand-in nixpkgs flake (lab/standin/nixpkgs/flake.nix).

One lab for the module; every test makes its own /etc/nixos, so each passes alone too (-k).
"""

from __future__ import annotations

import pytest

from lab.flakehost import NIX, configuration_nix, make_flake_host
from lab.lab import CONFIGURATION_NIX, Lab

NIXOS = "/etc/nixos"
MODULE = """\
{ config, lib, pkgs, ... }:
{
  services.asterisk.enable = true;
  services.asterisk.confFiles."televoc-flake.conf" = "; from the flake host\\n";
}
"""
# The configuration `nixosConfigurations.other` of a flake, told apart by an /etc file.
OTHER = """\
{ config, lib, pkgs, ... }:
{
  imports = [ ./configuration.nix ];
  environment.etc."televoc-lab-which".text = "other";
}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with Lab(tmp_path_factory.mktemp("standin-flake") / "lab") as lab:
        yield lab


def switch(lab: Lab, flags: str = ""):
    return lab.run(f"nixos-rebuild switch {flags}", check=False, timeout=120)


def state(lab: Lab) -> dict[str, str]:
    """What a switch changes: the generations, /etc/static, /etc/asterisk, /etc/nixos's git status."""
    return {
        "generations": lab.run("ls /nix/var/nix/profiles").stdout,
        "static": lab.run("readlink /etc/static || true").stdout,
        "asterisk": lab.run("ls -l /etc/asterisk").stdout,
        "git": lab.run(f"git -C {NIXOS} status --short --untracked-files=all").stdout,
        "files": lab.run(f"ls -A {NIXOS}").stdout,
    }


def exists(lab: Lab, path: str) -> bool:
    return lab.run(f"test -e {path}", check=False).returncode == 0


def test_an_untracked_imported_module_fails_with_nix_s_message_and_changes_nothing(lab):
    make_flake_host(lab, module=MODULE)  # televoc/asterisk.nix written, not tracked
    assert lab.run(f"git -C {NIXOS} status --short").stdout == "?? televoc/\n"
    before = state(lab)
    r = switch(lab)
    assert r.returncode == 1, r.stderr
    assert """error: Path 'televoc/asterisk.nix' in the repository "/etc/nixos" is not tracked by Git.""" in r.stderr
    assert 'git -C "/etc/nixos" add "televoc/asterisk.nix"' in r.stderr
    assert state(lab) == before


def test_a_module_the_flake_imports_and_that_is_missing_is_nix_s_other_message(lab):
    make_flake_host(lab)  # configuration.nix imports ./televoc/asterisk.nix; there is none
    before = state(lab)
    r = switch(lab)
    assert r.returncode == 1, r.stderr
    assert """error: Path 'televoc/asterisk.nix' does not exist in Git repository "/etc/nixos".""" in r.stderr
    assert state(lab) == before


def test_after_git_add_intent_to_add_the_module_switches_and_its_config_lands_in_etc(lab):
    make_flake_host(lab, module=MODULE)
    lab.run(f"git -C {NIXOS} add --intent-to-add televoc/asterisk.nix")
    # intent-to-add: an empty entry in the index, shown as a new file not staged for commit
    assert lab.run(f"git -C {NIXOS} status --short").stdout == " A televoc/asterisk.nix\n"
    r = switch(lab)
    assert r.returncode == 0, r.stderr
    assert "warning: Git tree '/etc/nixos' is dirty" in r.stderr
    assert lab.run("cat /etc/asterisk/televoc-flake.conf").stdout == "; from the flake host\n"
    assert lab.run("readlink /etc/asterisk/televoc-flake.conf").stdout == "/etc/static/asterisk/televoc-flake.conf\n"
    assert lab.run("systemctl is-active asterisk", check=False).stdout.strip() == "active"


def test_without_flake_lock_a_plain_switch_writes_one(lab):
    host = make_flake_host(lab, import_module=False, lock=False)
    r = switch(lab)
    assert r.returncode == 0, r.stderr
    assert 'warning: creating lock file "/etc/nixos/flake.lock"' in r.stderr
    assert host.locked_nixpkgs_rev() == host.nixpkgs_revs["current"]
    # Nix adds the lock file it wrote with intent-to-add
    assert " A flake.lock\n" in lab.run(f"git -C {NIXOS} status --short").stdout


def test_no_write_lock_file_switches_without_writing_flake_lock(lab):
    make_flake_host(lab, import_module=False, lock=False)
    r = switch(lab, "--no-write-lock-file")
    assert r.returncode == 0, r.stderr
    assert "warning: not writing modified lock file of flake 'git+file:///etc/nixos'" in r.stderr
    assert not exists(lab, f"{NIXOS}/flake.lock")


def test_no_update_lock_file_refuses_a_flake_without_lock_and_changes_nothing(lab):
    make_flake_host(lab, import_module=False, lock=False)
    before = state(lab)
    r = switch(lab, "--no-update-lock-file")
    assert r.returncode == 1, r.stderr
    assert (
        "error: flake 'git+file:///etc/nixos' requires lock file changes but they're not allowed"
        " due to '--no-update-lock-file'" in r.stderr
    )
    assert state(lab) == before
    assert not exists(lab, f"{NIXOS}/flake.lock")


def test_flake_picks_another_configuration_of_the_flake(lab):
    make_flake_host(lab, import_module=False, configurations={"other": OTHER})
    r = switch(lab)
    assert r.returncode == 0, r.stderr
    assert not exists(lab, "/etc/televoc-lab-which")  # nixosConfigurations."pbx"
    r = switch(lab, f"--flake {NIXOS}#other")
    assert r.returncode == 0, r.stderr
    assert lab.run("cat /etc/televoc-lab-which").stdout == "other"


def test_the_configuration_is_the_one_named_after_the_host(lab):
    assert lab.run("hostname").stdout == "pbx\n"
    make_flake_host(lab, "elsewhere", import_module=False)  # only nixosConfigurations."elsewhere"
    before = state(lab)
    r = switch(lab)
    assert r.returncode == 1, r.stderr
    assert """'nixosConfigurations."pbx".config.system.build.toplevel'""" in r.stderr
    assert "does not provide attribute" in r.stderr
    assert state(lab) == before


def test_the_switch_sets_the_host_name_and_the_next_switch_follows_it(lab):
    renamed = configuration_nix("pbx2", import_module=False).replace(
        "networking.hostName", 'environment.etc."televoc-lab-which".text = "pbx2";\n  networking.hostName'
    )
    make_flake_host(lab, import_module=False, configurations={"pbx2": renamed})
    try:
        r = switch(lab, f"--flake {NIXOS}#pbx2")  # networking.hostName = "pbx2"
        assert r.returncode == 0, r.stderr
        assert lab.run("hostname").stdout == "pbx2\n"
        r = switch(lab)  # nixosConfigurations."pbx2" now; "pbx" would remove the file
        assert r.returncode == 0, r.stderr
        assert lab.run("cat /etc/televoc-lab-which").stdout == "pbx2"
    finally:
        switch(lab, f"--flake {NIXOS}#pbx")
    assert lab.run("hostname").stdout == "pbx\n"


def test_a_flake_nix_link_makes_the_directory_of_its_target_the_flake(lab):
    make_flake_host(lab, import_module=False, lock=False)
    lab.run(f"rm -rf /srv/pbx && mv {NIXOS} /srv/pbx && mkdir {NIXOS} && ln -s /srv/pbx/flake.nix {NIXOS}/flake.nix")
    try:
        r = switch(lab)
        assert r.returncode == 0, r.stderr
        assert 'warning: creating lock file "/srv/pbx/flake.lock"' in r.stderr
        assert exists(lab, "/srv/pbx/flake.lock")
    finally:
        lab.run("rm -rf /srv/pbx")


def test_a_locked_older_nixpkgs_stays_until_the_input_is_updated(lab):
    host = make_flake_host(lab, import_module=False, nixpkgs="older")
    release = f"{NIX} eval --raw '{NIXOS}#nixosConfigurations.pbx.config.system.nixos.release'"
    assert host.locked_nixpkgs_rev() == host.nixpkgs_revs["older"]
    r = switch(lab)
    assert r.returncode == 0, r.stderr
    assert host.locked_nixpkgs_rev() == host.nixpkgs_revs["older"]  # a switch updates no input
    assert lab.run(release, timeout=60).stdout == "25.05"
    r = switch(lab, "--update-input nixpkgs")
    assert r.returncode == 0, r.stderr
    assert "Updated input 'nixpkgs'" in r.stderr
    assert host.locked_nixpkgs_rev() == host.nixpkgs_revs["current"]
    assert lab.run(release, timeout=60).stdout == "25.11"


def test_a_host_without_flake_nix_switches_configuration_nix_as_before(lab):
    # /etc/nixos a git repository with nothing tracked: without flake.nix git plays no part
    lab.run(f"rm -rf {NIXOS} && mkdir -p {NIXOS}/televoc && git -C {NIXOS} init -q")
    (lab.root / "etc/nixos/configuration.nix").write_text(CONFIGURATION_NIX)
    (lab.root / "etc/nixos/televoc/asterisk.nix").write_text(MODULE.replace("from the flake host", "channel"))
    r = switch(lab)
    assert r.returncode == 0, r.stderr
    assert "Git tree" not in r.stderr and "lock file" not in r.stderr
    assert lab.run("cat /etc/asterisk/televoc-flake.conf").stdout == "; channel\n"
    assert not exists(lab, f"{NIXOS}/flake.lock")
