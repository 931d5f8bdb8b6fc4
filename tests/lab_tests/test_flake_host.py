"""televoc on a PBX configured by a flake (/etc/nixos a git repository with flake.nix and
flake.lock), evaluated by real Nix (the lab's flake mode): the run makes its files visible to
the flake with `git add --intent-to-add` (nothing committed), switches the host's own
configuration, never changes flake.lock, and refuses before any change a flake that does not
import its module or has no flake.lock."""

from __future__ import annotations

import pytest

from lab.deploys import Deployment
from lab.flakehost import make_flake_host
from lab.lab import Lab

PBX = "10.23.0.2"


def event_dir(tmp_path):
    event = tmp_path / "event"
    event.mkdir()
    (event / "event.yml").write_text(f"name: flake\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n")
    (event / "phones.yml").write_text("phones:\n  - {name: hall1, extension: 2001, display_name: Hall One}\n")
    return event


def report(pbx, *args: str):
    return pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0", *args)


def lock_sha(pbx) -> str:
    return pbx.lab.run("sha256sum /etc/nixos/flake.lock").stdout.split()[0]


def generations(pbx) -> str:
    return pbx.lab.run("ls /nix/var/nix/profiles").stdout


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("flake")
    with Lab(tmp_path / "lab") as lab:
        make_flake_host(lab, "pbx")
        yield Deployment.prepare(lab, tmp_path, event_dir(tmp_path))


def test_the_first_deploy_switches_the_flake_and_leaves_only_intent_to_add_entries(pbx):
    lock = lock_sha(pbx)
    run = report(pbx, "-v")
    assert run.returncode == 0, run.output
    assert "The flake sees televoc's files (git add --intent-to-add; nothing is committed)" in run.output
    assert "the flake in /etc/nixos imports ./televoc/asterisk.nix and has its flake.lock" in run.output
    status = pbx.lab.run("git -C /etc/nixos status --short").stdout.splitlines()
    assert sorted(status) == [" A televoc/asterisk.nix", " A televoc/claimsdb.py", " A televoc/provisiond.py"], status
    assert pbx.lab.run("git -C /etc/nixos log --oneline").stdout.count("\n") == 1  # nothing committed
    assert lock_sha(pbx) == lock
    assert "Aor:  hall1 " in pbx.lab.asterisk("pjsip list aors")


def test_a_change_switches_again_and_a_rerun_changes_nothing(pbx):
    before = generations(pbx)
    pbx.edit_phones(lambda phones: phones[0].update(display_name="Hall Eins"))
    run = report(pbx)
    assert run.returncode == 0, run.output
    assert generations(pbx) != before
    assert '"Hall Eins" <2001>' in pbx.lab.run("cat /etc/asterisk/pjsip_endpoints.conf").stdout
    again = report(pbx, "-v")
    assert again.returncode == 0 and "NixOS already serves this Asterisk config" in again.output
    assert "git in /etc/nixos knows televoc's files" in again.output


def test_teardown_on_a_flake_host(pbx):
    run = pbx.run("teardown.py", "--data", "televoc_teardown=stop", "--data", "televoc_reset_by_hand=hall1")
    assert run.returncode == 0, run.output
    assert "enable = false;" in pbx.lab.run("cat /etc/nixos/televoc/asterisk.nix").stdout
    assert report(pbx).returncode == 0  # and buildup again


@pytest.fixture
def fresh(tmp_path):
    with Lab(tmp_path / "lab") as lab:
        yield lab, Deployment.prepare(lab, tmp_path, event_dir(tmp_path))


def test_a_flake_that_does_not_import_the_module_is_told_where_to_add_it(fresh):
    lab, pbx = fresh
    make_flake_host(lab, "pbx", import_module=False)
    before = generations(pbx)
    run = report(pbx)
    assert run.returncode != 0
    assert "the flake in /etc/nixos does not import televoc's module /etc/nixos/televoc/asterisk.nix" in run.output
    assert "modules of nixosConfigurations.pbx in /etc/nixos/flake.nix" in run.output
    assert "modules = [ ./configuration.nix ./televoc/asterisk.nix ];" in run.output
    assert generations(pbx) == before
    assert lab.run("git -C /etc/nixos status --short").stdout == ""  # nothing touched


def test_a_flake_without_flake_lock_is_refused_and_stays_without(fresh):
    lab, pbx = fresh
    make_flake_host(lab, "pbx", lock=False)
    run = report(pbx)
    assert run.returncode != 0
    assert "the flake in /etc/nixos has no flake.lock, and televoc never writes or changes it" in run.output
    assert "run `nix flake lock` in /etc/nixos" in run.output
    assert lab.run("test -e /etc/nixos/flake.lock", check=False).returncode != 0


def test_a_dirty_tree_and_another_configuration_named_by_inventory_data(fresh):
    lab, pbx = fresh
    other = '{ ... }: { imports = [ ./configuration.nix ]; environment.etc."televoc-test".text = "event"; }\n'
    make_flake_host(lab, "pbx", commit=False, configurations={"event": other}, nixpkgs="older")
    lock = lock_sha(pbx)
    run = report(pbx, "--data", "nixos__flake_output=event")
    assert run.returncode == 0, run.output
    assert "Git tree '/etc/nixos' is dirty" in run.output, run.output
    assert lab.run("cat /etc/televoc-test").stdout == "event"  # nixosConfigurations.event was switched
    assert lock_sha(pbx) == lock  # the older nixpkgs stays locked
