"""The PBX's live firewall, judged against what televoc's module opens. Pure: no host, no I/O.

NixOS puts televoc's rules into its firewall (`extraCommands` on the iptables backend,
`extraInputRules` on the nftables one), but only the running ruleset shows that they are
there: an option set elsewhere with lib.mkForce, a firewall that failed to start, or a rule
the crew added that opens a port to everyone would all go unnoticed otherwise. After each
switch (and on every run, from the run's one read) the deploy reads the ruleset as the kernel
has it (`iptables -S`, `ip6tables -S`, `nft list table inet nixos-fw`) and fail2ban's jails
(`fail2ban-client status`), and fails naming what is missing or open to all.

    live = parse(sections)                      # sections of the FirewallState command
    problems(live, module.openings, module.jails)   # [] when the PBX is as televoc opened it
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from roles.shared.sections import split as split_answers

from .render import Opening

# The fact's command (one remote command): each answer after a marker line.
SECTIONS = {
    "iptables": "iptables -S",
    "ip6tables": "ip6tables -S",
    "nftables": "nft list table inet nixos-fw",
    "fail2ban": "systemctl is-active fail2ban.service; fail2ban-client status",
}
MARK = "@@firewall "
# What `systemctl is-active` prints (systemd's unit active states).
UNIT_STATES = ("active", "reloading", "inactive", "failed", "activating", "deactivating", "maintenance", "unknown")


def command() -> str:
    """The shell command that prints each section after its marker (errors included)."""
    return "; ".join(f"echo '{MARK}{name}'; {shell} 2>&1" for name, shell in SECTIONS.items())


def split(lines: list[str]) -> dict[str, list[str]]:
    return split_answers(lines, MARK)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Accept:
    """A rule of the live firewall that accepts new packets to some ports.

    + sources: the networks it is limited to; empty: every source
    + interface: the interface it is limited to, if any
    + rule: the rule as the kernel lists it, for messages
    """

    protocol: str
    ports: tuple[int, int]
    sources: tuple[Network, ...]
    interface: str | None
    rule: str


@dataclass
class LiveFirewall:
    """What the PBX's firewall does now.

    + backend: "iptables" (chain nixos-fw), "nftables" (table inet nixos-fw) or None (neither)
    + accepts: every accepting rule on a port
    + jails: fail2ban's jails; None when fail2ban does not answer
    """

    backend: str | None
    accepts: list[Accept] = field(default_factory=list)
    jails: tuple[str, ...] | None = None
    fail2ban_said: str = ""  # fail2ban-client's last line when it does not answer
    fail2ban_unit: str = ""  # systemctl is-active fail2ban.service: active, activating, failed, ...

    def fail2ban_starting(self) -> bool:
        """fail2ban's unit runs but the server does not answer yet: it is reading its jails."""
        return self.jails is None and self.fail2ban_unit in ("active", "activating", "reloading")


def _net(text: str) -> Network:
    return ipaddress.ip_network(text, strict=False)


def _ports(text: str) -> list[tuple[int, int]]:
    """'5060', '10000:20000', '10000-20000', '{ 5060, 8088 }', '5060,8088' -> ranges."""
    ranges = []
    for part in re.split(r"[,\s{}]+", text):
        if not part:
            continue
        first, _, last = part.replace(":", "-").partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            ranges.append((int(first), int(last or first)))
    return ranges


def _options(tokens: list[str]) -> dict[str, str]:
    """`-A nixos-fw -s 10.0.0.0/8 ! -i eth0 ...` -> {"-A": "nixos-fw", "-s": "...", "!-i": "eth0"}."""
    options: dict[str, str] = {}
    negate = False
    for i, token in enumerate(tokens):
        if token == "!":
            negate = True
        elif token.startswith("-"):
            value = tokens[i + 1] if i + 1 < len(tokens) and not tokens[i + 1].startswith("-") else ""
            options[("!" if negate else "") + token] = value
            negate = False
    return options


def parse_iptables(lines: list[str]) -> tuple[bool, list[Accept]]:
    """(chain nixos-fw exists, its accepting rules on ports) from `iptables -S`."""
    present = any(line.strip() == "-N nixos-fw" for line in lines)
    accepts = []
    for line in lines:
        line = line.strip()
        if not line.startswith("-A nixos-fw ") or not line.endswith("-j nixos-fw-accept"):
            continue
        options = _options(line.split())
        ports = options.get("--dport") or options.get("--dports")
        protocol = options.get("-p")
        if not ports or protocol not in ("udp", "tcp") or any(k.startswith("!") for k in options):
            continue
        sources = (_net(options["-s"]),) if "-s" in options else ()
        for span in _ports(ports):
            accepts.append(Accept(protocol, span, sources, options.get("-i"), line))
    return present, accepts


_NFT = re.compile(
    r"^(?:iifname\s+(?P<iface>\"[^\"]*\"|\S+)\s+)?"
    r"(?:(?P<family>ip6?)\s+saddr\s+(?P<src>\{[^}]*\}|\S+)\s+)?"
    r"(?P<proto>tcp|udp)\s+dport\s+(?P<ports>\{[^}]*\}|\S+)"
    r"(?:\s+counter packets \d+ bytes \d+)?\s+(?:accept|jump nixos-fw-accept)(?:\s+comment .*)?$"
)


def parse_nftables(lines: list[str]) -> tuple[bool, list[Accept]]:
    """(table inet nixos-fw exists, its accepting rules on ports) from `nft list table`."""
    present = any(line.strip().startswith("table inet nixos-fw") for line in lines)
    accepts = []
    for line in lines:
        match = _NFT.match(line.strip())
        if not match:
            continue
        sources: tuple[Network, ...] = ()
        if match["src"]:
            sources = tuple(_net(s) for s in re.split(r"[,\s{}]+", match["src"]) if s)
        iface = match["iface"].strip('"') if match["iface"] else None
        for span in _ports(match["ports"]):
            accepts.append(Accept(match["proto"], span, sources, iface, line.strip()))
    return present, accepts


def parse_jails(lines: list[str]) -> tuple[str, ...] | None:
    """fail2ban's jails from `fail2ban-client status`; None when it does not answer."""
    for line in lines:
        if "Jail list:" in line:
            names = line.split("Jail list:", 1)[1]
            return tuple(n.strip() for n in names.split(",") if n.strip())
    return None


def parse(sections: dict[str, list[str]]) -> LiveFirewall:
    iptables, v4 = parse_iptables(sections.get("iptables", []))
    _, v6 = parse_iptables(sections.get("ip6tables", []))
    nftables, nft = parse_nftables(sections.get("nftables", []))
    backend = "nftables" if nftables else "iptables" if iptables else None
    accepts = nft if nftables else v4 + v6
    said = [line.strip() for line in sections.get("fail2ban", []) if line.strip()]
    unit = said.pop(0) if said and said[0] in UNIT_STATES else ""
    jails = parse_jails(said)
    return LiveFirewall(
        backend=backend,
        accepts=accepts,
        jails=jails,
        fail2ban_said=said[-1][:200] if said and jails is None else "",
        fail2ban_unit=unit,
    )


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _covers(accept: Accept, opening: Opening, source: Network) -> bool:
    """`accept` lets `source` reach every port of `opening`."""
    first, last = opening.ports
    return (
        accept.protocol == opening.protocol
        and accept.ports[0] <= first
        and last <= accept.ports[1]
        and accept.interface is None
        and any(_within(source, s) for s in accept.sources)
    )


def _within(inner: Network, outer: Network) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def problems(live: LiveFirewall, openings: tuple[Opening, ...], jails: tuple[str, ...]) -> list[str]:
    """Why the PBX's firewall is not what televoc's module opens, one sentence each: a port
    not open to a source that needs it, a port open to every source, a jail not running."""
    if not openings and not jails:
        return []
    if live.backend is None and openings:
        return [
            "the PBX has no firewall running (no chain nixos-fw in `iptables -S`, no table inet nixos-fw "
            "in `nft list ruleset`), so every port is open to every network: NixOS's firewall.service or "
            "nftables.service failed, or networking.firewall.enable is false (journalctl -u firewall)"
        ]
    found = []
    for opening in openings:
        missing = [s for s in opening.sources if not any(_covers(a, opening, _net(s)) for a in live.accepts)]
        if missing:
            option = "extraInputRules" if live.backend == "nftables" else "extraCommands"
            found.append(
                f"{opening.port_text} ({opening.what}) is not open to {', '.join(missing)}: the {live.backend} "
                "firewall has no rule for it, though televoc's module asks for one (is "
                f"networking.firewall.{option} set elsewhere with lib.mkForce, or the module not imported?)"
            )
        open_to_all = [
            a
            for a in live.accepts
            if a.protocol == opening.protocol
            and _overlaps(a.ports, opening.ports)
            and not a.sources
            and not a.interface
        ]
        for a in open_to_all:
            found.append(
                f"{opening.port_text} ({opening.what}) is open to every source: the firewall has `{a.rule}` "
                "(networking.firewall.allowedTCPPorts / allowedUDPPorts or their ranges?): remove the port "
                "there; televoc opens it to the sources that need it"
            )
    if jails:
        if live.jails is None:
            found.append(
                "fail2ban does not answer (fail2ban-client status"
                + (f": {live.fail2ban_said}" if live.fail2ban_said else "")
                + (f"; fail2ban.service is {live.fail2ban_unit}" if live.fail2ban_unit else "")
                + "): nobody is banned for failing again and again (journalctl -u fail2ban)"
            )
        else:
            for jail in jails:
                if jail not in live.jails:
                    found.append(
                        f"fail2ban runs no jail {jail} (it runs: {', '.join(live.jails) or 'none'}): "
                        "sources that keep failing are not banned (journalctl -u fail2ban)"
                    )
    return found
