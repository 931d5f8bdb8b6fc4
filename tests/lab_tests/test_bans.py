"""A source that keeps failing is banned at the network level (fail2ban on the PBX's firewall,
as televoc's module sets it up), phones that authenticate keep working, and the ban lifts after
`security.ban_seconds`. Measured from the lab's phone network, on both firewall backends."""

from __future__ import annotations

import secrets

import pytest

from lab.deploys import Deployment, use_nftables
from lab.lab import Lab
from lab.wait import until, wait_for

PBX = "10.23.0.2"
PHONE, GUESSER, SWEEPER = "10.23.0.67", "10.23.0.66", "10.23.0.68"
BAN_SECONDS = 10


class Pbx(Deployment):
    def http(self, source: str, path: str) -> str:
        return self.lab.http_status_phone(source, f"http://{PBX}:8088{path}")

    def banned(self, jail: str) -> str:
        return self.lab.run(f"fail2ban-client status {jail}", check=False).stdout


@pytest.fixture(scope="module", params=["iptables", "nftables"])
def pbx(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(request.param)
    with Lab(tmp_path / "lab") as lab:
        if request.param == "nftables":
            use_nftables(lab)
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text(
            f"name: bans\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n"
            f"security: {{ban_after: 3, find_seconds: 60, ban_seconds: {BAN_SECONDS}}}\n"
        )
        (event / "phones.yml").write_text(
            "phones:\n  - {name: hall1, extension: 2001, mac: '000413A00001', model: snom320}\n"
            "  - {name: hall2, extension: 2002}\n"
        )
        pbx = Pbx.prepare(lab, tmp_path, event)
        run = pbx.deploy("--data", "televoc_verify=report")
        assert run.returncode == 0, run.output
        for address in (PHONE, GUESSER, SWEEPER):
            lab.phone_address(address)
        wait_for(lambda: "Currently banned" in pbx.banned("televoc-sip"), 30, "fail2ban to watch SIP")
        yield pbx


def test_wrong_sip_passwords_ban_the_source_from_the_pbx_and_the_ban_lifts(pbx):
    right = pbx.passwords()["hall2"]
    for port in (5091, 5092, 5093):  # three wrong passwords from the guesser
        assert not pbx.lab.register("hall2", "wrong-" + secrets.token_hex(8), port, local_ip=GUESSER, timeout=3)
    wait_for(lambda: GUESSER in pbx.banned("televoc-sip"), 30, "the guesser to be banned")
    # fail2ban lists the ban a moment before its action has put the rule into the firewall;
    # then every port is closed to the guesser:
    wait_for(lambda: pbx.http(GUESSER, "/televoc/000413FFFFFF.xml") == "000", 10, "the ban to take effect")
    # refused at the network level: not even the right password gets an answer from there.
    assert not pbx.lab.register("hall2", right, 5094, local_ip=GUESSER, timeout=3)
    # A phone that authenticates keeps working.
    assert pbx.lab.register("hall2", right, 5095, local_ip=PHONE)
    # After ban_seconds the guesser may try again.
    took = until(lambda: pbx.lab.register("hall2", right, 5096, local_ip=GUESSER, timeout=2), BAN_SECONDS + 30, step=1)
    assert took is not None, pbx.banned("televoc-sip")
    assert GUESSER not in pbx.banned("televoc-sip")


def test_guessing_macs_at_the_provisioning_server_bans_the_source(pbx):
    for i in range(3):
        assert pbx.http(SWEEPER, f"/televoc/000413EE{i:04X}.xml") == "404"
    wait_for(lambda: SWEEPER in pbx.banned("televoc-provisioning"), 30, "the sweeper to be banned")
    # fail2ban lists the ban a moment before its action has put the rule into the firewall
    wait_for(lambda: pbx.http(SWEEPER, "/televoc/000413EE0009.xml") == "000", 10, "the ban to take effect")
    assert pbx.http(PHONE, "/televoc/000413EE0010.xml") == "404"  # others are served (and counted)
    assert until(lambda: pbx.http(SWEEPER, "/x") == "404", BAN_SECONDS + 30, step=1) is not None
