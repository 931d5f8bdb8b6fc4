"""The preflight against lab hosts made to have each finding: it reads (one remote command,
the host's own Nix evaluating a copy of its configuration), reports each finding with its
fix, exits 0 only when a deploy can succeed, and changes nothing on the host."""

from __future__ import annotations

import re
import subprocess

import pytest

from lab.deploys import Deployment, write_inventory
from lab.flakehost import make_flake_host
from lab.lab import Lab
from lab.wait import wait_for

PBX = "10.23.0.2"


@pytest.fixture
def box(tmp_path):
    """A lab host as NixOS installs it, with the example's configuration.nix importing
    televoc's module, and an event for it; never deployed."""
    with Lab(tmp_path / "lab") as lab:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text(f"name: preflight\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n")
        (event / "phones.yml").write_text(
            "phones:\n  - {name: hall1, extension: 2001, mac: '000413A00001', model: snom320}\n"
        )
        yield Deployment.prepare(lab, tmp_path, event)


def preflight(box, *args: str):
    return box.run("preflight.py", *args)


def configure(box, line: str) -> None:
    path = box.lab.root / "etc/nixos/configuration.nix"
    path.write_text(path.read_text().rstrip().rstrip("}") + f"  {line}\n}}\n")


def state(box) -> str:
    """Everything the preflight must leave as it was: /etc/nixos, generations, /etc/asterisk."""
    return box.lab.run(
        "find /etc/nixos /nix/var/nix/profiles /etc/asterisk -xdev 2>/dev/null | sort | xargs -r sha256sum 2>/dev/null"
        " ; ls -la /nix/var/nix/profiles 2>/dev/null; git -C /etc/nixos status --short 2>/dev/null; true"
    ).stdout


def test_a_fit_box_passes_and_says_what_it_checked_changing_nothing(box):
    before = state(box)
    run = preflight(box)
    assert run.returncode == 0, run.output
    for said in (r"ok +NixOS \d+\.\d+", r"ok +configured by /etc/nixos/configuration.nix \(no flake\)",
                 r"ok +/etc/nixos/configuration.nix imports televoc's module", r"ok +Asterisk \d+",
                 r"ok +the firewall is NixOS's, backend iptables", r"ok +UDP 5060 \(SIP\) is free",
                 r"ok +TCP 8088 \(provisioning\) is free", r"ok +\d+ MB free in /nix/store",
                 r"ok +the SSH host key is pinned", "this box is fit for the event: a deploy can succeed"):  # fmt: skip
        assert re.search(said, run.output), (said, run.output)
    assert state(box) == before


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("networking.firewall.enable = false;", "the firewall is off (networking.firewall.enable = false)"),
        ("services.firewalld.enable = true;", "the firewall is firewalld (services.firewalld.enable)"),
        ("services.asterisk.enable = true;", "the configuration enables Asterisk by itself (configuration.nix:"),
    ],
)
def test_a_configuration_televoc_cannot_serve_is_a_finding_with_its_fix(box, line, said):
    configure(box, line)
    before = state(box)
    run = preflight(box)
    assert run.returncode != 0
    assert said in run.output and "fix:" in run.output, run.output
    assert "1 finding would make a deploy fail" in run.output
    assert state(box) == before


def test_a_flake_without_import_or_lock_is_named_and_its_lock_stays_absent(box):
    make_flake_host(box.lab, "pbx", import_module=False, lock=False)
    before = state(box)
    run = preflight(box)
    assert run.returncode != 0
    assert "configured by the flake in /etc/nixos (git), nixosConfigurations.pbx" in run.output, run.output
    assert "the flake in /etc/nixos has no flake.lock (televoc never writes it)" in run.output
    assert "the flake in /etc/nixos does not import televoc's module" in run.output
    assert box.lab.run("test -e /etc/nixos/flake.lock", check=False).returncode != 0
    assert state(box) == before


def test_a_fit_flake_host_evaluates_with_its_own_locked_nixpkgs(box):
    make_flake_host(box.lab, "pbx", nixpkgs="older")
    run = preflight(box)
    assert run.returncode == 0, run.output
    assert "the flake imports televoc's module (configuration.nix)" in run.output
    assert re.search(r"ok +NixOS \d+\.\d+", run.output)


def test_a_port_held_by_another_program_is_named_with_its_pid(box):
    code = "import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5060)); time.sleep(120)"
    holder = subprocess.Popen(
        box.lab._inside(["python3", "-c", code]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: ":5060 " in box.lab.run("ss -H -lnup").stdout, 10, "the other program to hold UDP 5060")
        run = preflight(box)
        assert run.returncode != 0
        assert re.search(r"UDP 5060 \(SIP\) is held by python3 \(pid \d+\)", run.output), run.output
    finally:
        holder.terminate()
        holder.wait(timeout=10)


def test_too_little_free_space_and_an_unpinned_key_are_findings(box, tmp_path):
    run = preflight(box, "--data", "televoc_preflight_store_mb=999999999")
    assert run.returncode != 0 and "fewer than the 999999999 MB a switch" in run.output, run.output
    data = {**box.lab.pyinfra_host_data(), "ssh_strict_host_key_checking": "accept-new"}
    box.inventory = write_inventory(tmp_path / "loose.py", data)
    run = preflight(box)
    assert run.returncode != 0 and "the PBX's SSH host key is not pinned" in run.output, run.output
