"""The live firewall judged against televoc's module: parsers fed with what the lab's PBX
printed (iptables and nftables backends, televoc's rules for a phone network, a trunk with an
IPv4 and an IPv6 source, and provisioning), and every reason the check fails."""

from pathlib import Path

import pytest

from roles.nixos import firewall
from roles.nixos.render import Opening

CAPTURES = Path(__file__).parent / "captures"
SOURCES = ("10.23.0.0/24", "10.77.0.0/28", "fd77::/64")
OPENINGS = (
    Opening("SIP", "udp", (5060, 5060), SOURCES),
    Opening("RTP", "udp", (10000, 20000), SOURCES),
    Opening("provisioning", "tcp", (8088, 8088), ("10.23.0.0/24",)),
)
JAILS = ("televoc-sip", "televoc-provisioning")


def captured(backend: str) -> list[str]:
    return (CAPTURES / f"firewall-{backend}.txt").read_text().splitlines()


def live(lines: list[str]) -> firewall.LiveFirewall:
    return firewall.parse(firewall.split(lines))


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_televocs_rules_as_the_kernel_lists_them_pass(backend):
    state = live(captured(backend))
    assert state.backend == backend and state.jails == ("televoc-provisioning", "televoc-sip")
    assert firewall.problems(state, OPENINGS, JAILS) == []


def test_a_missing_rule_is_named_with_its_port_and_source():
    lines = [line for line in captured("iptables") if "-s 10.77.0.0/28 -p udp -m udp --dport 5060" not in line]
    assert firewall.problems(live(lines), OPENINGS, JAILS) == [
        "UDP 5060 (SIP) is not open to 10.77.0.0/28: the iptables firewall has no rule for it, though televoc's "
        "module asks for one (is networking.firewall.extraCommands set elsewhere with lib.mkForce, or the module "
        "not imported?)"
    ]


def test_a_source_outside_the_rules_network_is_not_covered():
    narrower = (Opening("SIP", "udp", (5060, 5060), ("10.0.0.0/8",)),)
    assert "is not open to 10.0.0.0/8" in firewall.problems(live(captured("nftables")), narrower, ())[0]


@pytest.mark.parametrize(
    ("backend", "rule"),
    [
        ("iptables", "-A nixos-fw -p udp -m udp --dport 5060 -j nixos-fw-accept"),
        ("iptables", "-A nixos-fw -p udp -m multiport --dports 5060,5061 -j nixos-fw-accept"),
        ("nftables", "\t\tudp dport { 5060, 5061 } accept"),
        ("nftables", "\t\tudp dport 15000-15100 accept"),
    ],
)
def test_a_port_open_to_every_source_is_named(backend, rule):
    lines = captured(backend)
    at = next(i for i, line in enumerate(lines) if "-j nixos-fw-log-refuse" in line or "ip saddr 10.23" in line)
    found = firewall.problems(live([*lines[:at], rule, *lines[at:]]), OPENINGS, JAILS)
    assert len(found) == 1 and "is open to every source" in found[0] and rule.strip() in found[0], found


def test_a_rule_limited_to_an_interface_is_not_taken_for_everyone_nor_for_the_sources():
    lines = captured("iptables")
    at = lines.index("-A nixos-fw -j nixos-fw-log-refuse")
    extra = "-A nixos-fw -i eth1 -p udp -m udp --dport 5060 -j nixos-fw-accept"
    assert firewall.problems(live([*lines[:at], extra, *lines[at:]]), OPENINGS, JAILS) == []


def test_no_firewall_at_all_is_one_problem():
    lines = [
        "@@firewall iptables",
        "-P INPUT ACCEPT",
        "@@firewall ip6tables",
        "-P INPUT ACCEPT",
        "@@firewall nftables",
        "Error: No such file or directory",
        "@@firewall fail2ban",
        "`- Jail list:\ttelevoc-sip",
    ]
    found = firewall.problems(live(lines), OPENINGS, ("televoc-sip",))
    assert len(found) == 1 and found[0].startswith("the PBX has no firewall running")


def test_fail2ban_not_answering_or_without_a_jail_is_named():
    lines = [line for line in captured("iptables") if not line.startswith(("Status", "|-", "`-"))]
    assert firewall.problems(live(lines), OPENINGS, JAILS) == [
        "fail2ban does not answer (fail2ban-client status): nobody is banned for failing again and again "
        "(journalctl -u fail2ban)"
    ]
    lines = [line.replace("televoc-provisioning, ", "") for line in captured("iptables")]
    assert firewall.problems(live(lines), OPENINGS, JAILS) == [
        "fail2ban runs no jail televoc-provisioning (it runs: televoc-sip): sources that keep failing are not "
        "banned (journalctl -u fail2ban)"
    ]


def test_nothing_opened_nothing_checked():
    assert firewall.problems(firewall.LiveFirewall(backend=None), (), ()) == []


def test_fail2ban_still_starting_is_told_from_a_failed_one():
    socket = "ERROR   Failed to access socket path: /run/fail2ban/fail2ban.sock. Is fail2ban running?"
    base = [line for line in captured("iptables") if not line.startswith(("Status", "|-", "`-", "@@firewall f"))]
    starting = live([*base, "@@firewall fail2ban", "active", socket])
    assert starting.fail2ban_starting() and starting.fail2ban_unit == "active"
    assert firewall.problems(starting, OPENINGS, JAILS) == [
        f"fail2ban does not answer (fail2ban-client status: {socket}; fail2ban.service is active): nobody is "
        "banned for failing again and again (journalctl -u fail2ban)"
    ]
    failed = live([*base, "@@firewall fail2ban", "failed", socket])
    assert not failed.fail2ban_starting() and failed.jails is None
    answering = live([*base, "@@firewall fail2ban", "active", "Status", "`- Jail list:\ttelevoc-sip"])
    assert not answering.fail2ban_starting() and answering.jails == ("televoc-sip",)
