"""What a stranger on the network can reach once televoc has deployed, measured from outside:
from the lab's phone network (10.23.0.0/24) and from a network beside it (10.24.0.0/24), through
the PBX's NixOS firewall, on the iptables and on the nftables backend. The lab loads every
Asterisk module NixOS would, so a port that would be open on the server is open here too.
"""

from __future__ import annotations

import re

import pytest

from lab.deploys import Deployment, use_nftables
from lab.lab import Lab

PBX = "10.23.0.2"
PHONE, STRANGER = "10.23.0.50", "10.24.0.50"
QUIET = "10.23.0.51"  # a phone that never asks for anything refused (PHONE may be banned for it)
RTP = range(10000, 20001)


class Pbx(Deployment):
    def http(self, source: str, path: str) -> str:
        """HTTP status of GET http://10.23.0.2:8088<path> from `source` ("000": no answer)."""
        return self.lab.http_status_phone(source, f"http://{PBX}:8088{path}")


@pytest.fixture(scope="module", params=["iptables", "nftables"])
def pbx(request, tmp_path_factory):
    """A PBX with televoc's module on the firewall backend of the parameter; the tests only
    look at it (and register from outside), so they share it."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    with Lab(tmp_path / "lab") as lab:
        if request.param == "nftables":
            use_nftables(lab)
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text(f"name: exposure\nnetwork: 10.23.0.0/24\npbx_address: {PBX}\n")
        (event / "phones.yml").write_text(
            "phones:\n  - {name: hall1, extension: 2001, mac: '000413A00001', model: snom320}\n"
        )
        pbx = Pbx.prepare(lab, tmp_path, event)
        run = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        for address in (PHONE, QUIET, STRANGER):
            lab.phone_address(address)
        yield pbx


def listening(lab: Lab) -> set[tuple[str, str, int, str]]:
    """(protocol, address, port, process) of every listening socket in the PBX's namespace."""
    found = set()
    for line in lab.run("ss -H -lntup").stdout.splitlines():
        fields = line.split()
        address, _, port = fields[4].rpartition(":")
        process = re.search(r'\("([^"]+)"', line)
        found.add((fields[0], address.strip("[]"), int(port), process[1] if process else "?"))
    return found


def test_only_sip_and_the_provisioning_server_listen(pbx):
    sockets = listening(pbx.lab)
    assert ("udp", "0.0.0.0", 5060, "asterisk") in sockets
    assert ("tcp", PBX, 8088, "python3") in sockets  # the provisioning server, on the PBX's address only
    assert ("tcp", "127.0.0.1", 22, "sshd") in sockets  # the lab's own way in, not televoc's
    others = sockets - {
        ("udp", "0.0.0.0", 5060, "asterisk"),
        ("tcp", PBX, 8088, "python3"),
        ("tcp", "127.0.0.1", 22, "sshd"),
    }
    # What else Asterisk holds is pjsip's DNS resolver: UDP on an ephemeral port, never in the
    # RTP range the firewall opens. No TCP port of Asterisk's, no IAX2 (4569), no HTTP.
    assert all(
        proto == "udp" and proc == "asterisk" and port >= 32768 and port not in RTP for proto, _, port, proc in others
    ), sockets
    assert "Server Disabled" in pbx.lab.asterisk("http show status")


def test_the_provisioning_port_answers_the_phone_network_only(pbx):
    assert pbx.http(PHONE, "/televoc/000413FFFFFF.xml") == "404"
    assert pbx.http(STRANGER, "/televoc/000413FFFFFF.xml") == "000"  # dropped by the firewall


def test_what_asterisk_could_serve_over_http_is_not_there(pbx):
    for path in ("/ws", "/ari/api-docs/resources.json", "/phoneprov/", "/static/", "/httpstatus"):
        assert pbx.http(PHONE, path) == "404", path  # the provisioning server's answer, not Asterisk's
    log = pbx.lab.run("cat /var/log/televoc-provisioning/access.log").stdout
    assert f"refused 404 path '/ws' from {PHONE}" in log


def test_an_account_registers_from_the_phone_network_and_not_from_beside_it(pbx):
    password = pbx.passwords()["hall1"]
    assert pbx.lab.register("hall1", password, 5090, local_ip=PHONE)
    assert not pbx.lab.register("hall1", password, 5091, local_ip=STRANGER, timeout=5)


def probe(pbx, source: str, port: int, sip: bool = False) -> str:
    """What the PBX answers a UDP datagram from `source` (lab/probe.py): a SIP status line,
    "refused" (reached, nobody listens) or "silent" (dropped)."""
    args = ["-m", "lab.probe", source, PBX, str(port), *(["--sip"] if sip else [])]
    return pbx.lab.python_phone(args).stdout.strip()


def test_sip_answers_the_phone_network_and_nothing_beside_it(pbx):
    assert probe(pbx, QUIET, 5060, sip=True).startswith("SIP/2.0 ")
    assert probe(pbx, STRANGER, 5060, sip=True) == "silent"  # dropped by the firewall


def test_the_rtp_range_is_reachable_from_the_phone_network_only(pbx):
    assert probe(pbx, QUIET, 14000) == "refused"  # through the firewall; nobody listens there now
    assert probe(pbx, STRANGER, 14000) == "silent"
    assert probe(pbx, QUIET, 9999) == "silent"  # below the range: closed to the phones too
