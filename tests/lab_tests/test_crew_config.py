"""televoc on a PBX whose crew changes its configuration.nix.

The firewall: the deploy reads the live ruleset after every switch (and from its one read on
every run) and fails naming a missing rule or a port open to everyone; a firewall that is off
or firewalld is refused by televoc's module before NixOS changes anything. What NixOS refuses
(an error, a conflict with televoc's module) ends the run with NixOS's message, the lines of
televoc's module it points at, and the old generation serving."""

from __future__ import annotations

import re

import pytest

from lab.deploys import Deployment
from lab.lab import Lab

PBX, PHONE = "10.23.0.2", "10.23.0.31"


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("firewall")
    with Lab(tmp_path / "lab") as lab:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text(f"name: firewall\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n")
        (event / "phones.yml").write_text("phones:\n  - {name: hall1, extension: 2001}\n")
        pbx = Deployment.prepare(lab, tmp_path, event)
        run = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        assert "the firewall opens UDP 5060 (SIP) to 10.23.0.0/24; UDP 10000-20000 (RTP) to 10.23.0.0/24 only" in (
            run.output
        )
        yield pbx


def configure(pbx, line: str) -> None:
    """configuration.nix gets `line` (or loses every line added so far, for "")."""
    path = pbx.lab.root / "etc/nixos/configuration.nix"
    text = path.read_text().split("  # test:\n")[0].rstrip("}\n") + "\n"
    path.write_text(text + (f"  # test:\n  {line}\n" if line else "") + "}\n")


def generations(pbx) -> str:
    return pbx.lab.run("ls /nix/var/nix/profiles").stdout


def report(pbx, *args: str):
    return pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0", *args)


def test_a_rule_removed_by_hand_fails_the_next_run_naming_it(pbx):
    pbx.lab.run("iptables -D nixos-fw -p udp -s 10.23.0.0/24 --dport 5060 -j nixos-fw-accept")
    run = report(pbx)
    assert run.returncode != 0
    assert "UDP 5060 (SIP) is not open to 10.23.0.0/24: the iptables firewall has no rule for it" in run.output
    pbx.lab.run("systemctl reload firewall")  # NixOS's firewall-reload puts every rule back
    assert report(pbx).returncode == 0


def test_a_port_the_crew_opens_to_everyone_fails_the_run_naming_the_rule(pbx):
    configure(pbx, "networking.firewall.allowedUDPPorts = [ 5060 ];")
    pbx.lab.run("nixos-rebuild switch", timeout=120)
    run = report(pbx)
    assert run.returncode != 0
    assert (
        "UDP 5060 (SIP) is open to every source: the firewall has `-A nixos-fw -p udp -m udp --dport 5060 "
        "-j nixos-fw-accept`" in run.output
    )
    configure(pbx, "")
    pbx.lab.run("nixos-rebuild switch", timeout=120)
    assert report(pbx).returncode == 0


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("networking.firewall.enable = false;", "televoc: networking.firewall.enable is false, so every port"),
        ('networking.firewall.backend = "firewalld";', 'televoc: networking.firewall.backend is "firewalld"'),
    ],
)
def test_a_setup_without_televocs_rules_is_refused_before_anything_changes(pbx, line, said):
    configure(pbx, line)
    before, module = generations(pbx), pbx.lab.run("cat /etc/asterisk/pjsip_endpoints.conf").stdout
    pbx.edit_phones(lambda phones: phones.append({"name": "hall2", "extension": "2002"}))  # a change to switch
    try:
        run = report(pbx)
        assert run.returncode != 0
        assert said in run.output and "Failed assertions" in run.output, run.output
        assert "the system was not switched, the previous generation keeps serving" in run.output
        assert generations(pbx) == before
        assert pbx.lab.run("cat /etc/asterisk/pjsip_endpoints.conf").stdout == module
        pbx.lab.phone_address(PHONE)
        assert pbx.lab.register("hall1", pbx.passwords()["hall1"], 5092, local_ip=PHONE)  # still served
    finally:
        configure(pbx, "")
        pbx.edit_phones(lambda phones: phones.pop())
    assert report(pbx).returncode == 0


def test_a_conflict_with_televocs_module_shows_nixos_message_and_the_module_line(pbx):
    configure(pbx, "services.asterisk.enable = false;")
    before = generations(pbx)
    pbx.edit_phones(lambda phones: phones.append({"name": "hall2", "extension": "2002"}))  # a change to switch
    try:
        run = report(pbx)
        assert run.returncode != 0
        assert "The option `services.asterisk.enable' has conflicting definition values" in run.output, run.output
        assert "NixOS's message points at televoc's module (/etc/nixos/televoc/asterisk.nix):" in run.output
        assert re.search(r"^\s+\d+  enable = true;$", run.output, re.M), run.output
        assert "the system was not switched, the previous generation keeps serving" in run.output
        assert generations(pbx) == before
    finally:
        configure(pbx, "")
        pbx.edit_phones(lambda phones: phones.pop())
    assert report(pbx).returncode == 0


def test_an_error_in_the_crews_own_file_is_nixos_message_alone(pbx):
    configure(pbx, "services.asterisk.enable = ;")  # a syntax error
    pbx.edit_phones(lambda phones: phones.append({"name": "hall2", "extension": "2002"}))
    try:
        run = report(pbx)
        assert run.returncode != 0
        assert "syntax error" in run.output and "/etc/nixos/configuration.nix" in run.output, run.output
        assert "points at televoc's module" not in run.output
        assert "the system was not switched, the previous generation keeps serving" in run.output
    finally:
        configure(pbx, "")
        pbx.edit_phones(lambda phones: phones.pop())
    assert report(pbx).returncode == 0
