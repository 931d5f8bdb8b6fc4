"""Pure renderer of televoc's NixOS module. No host, no I/O.

The module is NixOS's side of the event: `services.asterisk` with the config files it is
given, televoc's own services (a Python script shipped next to the module), the ports they
need (each open to the sources that need it only, with the rule the firewall's backend
takes), and fail2ban jails. It knows NixOS's options; what goes into Asterisk's files or into
a service's script is decided elsewhere (the composition, roles/plan.py, hands it the texts
and the descriptions below).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from roles.event import Event
from roles.shared import names
from roles.shared.templating import render, without_gc

ASTERISK_ETC = names.ASTERISK_ETC  # where services.asterisk puts confFiles on the host


@dataclass(frozen=True)
class Limits:
    """What the module raises for Asterisk, and why (measured: docs/capacity.md).

    + nofile: the asterisk unit's LimitNOFILE (soft and hard): every port of the largest RTP
      range is a socket, and each channel has more descriptors besides
    + sip_socket_buffer: net.core.rmem_max and wmem_max, what Asterisk's SIP socket asks for
      (its pjproject's PJSIP_UDP_SO_RCVBUF_SIZE and SNDBUF_SIZE, 512 KiB)
    + default_nofile: systemd's soft limit without LimitNOFILE (DefaultLimitNOFILE)
    + calls_at_default: concurrent calls at which Asterisk runs out of descriptors with it
    """

    nofile: int = 65536
    sip_socket_buffer: int = 524288
    default_nofile: int = 1024
    calls_at_default: int = 100


LIMITS = Limits()

_INDENT = " " * 8


def nix_indented_string(text: str, indent: str = _INDENT) -> str:
    """`text` as a Nix ''indented string'' that evaluates back to exactly `text`.

    Every non-empty line gets the same indentation, which Nix strips; `''` and `${` are
    escaped. Nix drops the whitespace before the closing quotes, and keeps a final newline.
    (String operations, no regular expression per line: a dialplan of 10,000 phones has
    100,000 lines, which a substitution took twice as long to indent.)
    """
    if "\t" in text or "\r" in text or " \n" in text or text.endswith(" "):
        line = next(line for line in text.split("\n") if "\t" in line or "\r" in line or line != line.rstrip())
        raise ValueError(f"config line {line!r}: no tabs, carriage returns or trailing blanks")
    if not _COLUMN_ONE.search(text):
        raise ValueError("config text needs a line that starts in column 1")
    escaped = _escaped(text)
    body = "\n".join([indent + line if line else line for line in escaped.split("\n")])
    closing = indent[:-2] if text.endswith("\n") else ""
    return f"''\n{body}{closing}''"


_COLUMN_ONE = re.compile(r"^\S", re.M)


def _escaped(text: str) -> str:
    """`''` and `${` escaped for an indented string; a lone `'` right before `${` (Asterisk's
    `'${CDR(src)}'`) becomes `''\\'`: else Nix reads the three quotes as an escaped `''` and
    the `${` after them as an interpolation."""
    if "'${" not in text:
        return text.replace("''", "'''").replace("${", "''${")
    parts = text.split("${")
    out = []
    for part in parts[:-1]:
        escaped = part.replace("''", "'''")
        if (len(part) - len(part.rstrip("'"))) % 2:
            escaped = escaped[:-1] + "''\\'"
        out.append(escaped)
    out.append(parts[-1].replace("''", "'''"))
    return "''${".join(out)


@dataclass(frozen=True)
class AsteriskService:
    """What `services.asterisk` serves.

    + enable: false stops and disables Asterisk (teardown)
    + conf_files: file name in /etc/asterisk -> text (world-readable in the Nix store: no secrets)
    + secrets_path: where the secrets are instead (the module's header names it)
    + log: the file in Asterisk's log directory a fail2ban jail reads: the unit creates it
      (preStart, after NixOS's own, as Asterisk's, 0640) before Asterisk runs. Asterisk
      counts as started once it forks, before its logger makes the file, and fail2ban,
      started after it, exits for good on a jail whose log file is missing.
    """

    enable: bool
    conf_files: Mapping[str, str] = field(repr=False)
    secrets_path: str
    log: str = ""


@dataclass(frozen=True)
class Opening:
    """A port or a range of ports of the PBX, open to some sources only (never to all).

    + what: what listens there, for the module's comments and the crew's messages ("SIP")
    + protocol: "udp" or "tcp"
    + ports: (first, last); the same twice for one port
    + sources: IP networks or addresses (IPv4 and IPv6 may mix)
    """

    what: str
    protocol: str
    ports: tuple[int, int]
    sources: tuple[str, ...]

    @property
    def port_text(self) -> str:
        """'UDP 5060', 'UDP 10000-20000'."""
        first, last = self.ports
        return f"{self.protocol.upper()} {first}" + ("" if first == last else f"-{last}")


@dataclass(frozen=True)
class Daemon:
    """One of televoc's own services: a Python script shipped next to the module, run by
    systemd as its own system user.

    + name: the unit, its user and group, its state and logs directories
    + description: the user's description; the unit's adds where it listens
    + comment: what the module says about it (lines of text)
    + script: the script's file name next to the module (an Embedded file)
    + arguments: its command line
    + bind, port: where it listens (an Opening opens the port)
    + user: the user it runs as, when not one of its own named `name` (made elsewhere)
    + python_packages: nixpkgs' python3Packages it needs (python3.withPackages)
    + state: its state directory under /var/lib, when not `name` (made by systemd as its
      user's, 0750, and the one place it writes besides its logs)
    + state_mode: its state directory's mode (StateDirectoryMode), with `state`
    + groups: groups it is in besides its own (SupplementaryGroups)
    + writable: paths outside its own it may write (ReadWritePaths; the system is read-only to it)
    + hidden: paths it must not see at all (InaccessiblePaths)
    + log: the file it appends to, in its logs directory, when a fail2ban jail reads it: the
      unit creates it (ExecStartPre, as its user) before it counts as started. A simple unit
      counts as started once forked, seconds before Python opens the file on a loaded host,
      and fail2ban, started after it, exits for good on a jail whose log file is missing.
    + unix_sockets: it may also use UNIX sockets (Asterisk's CLI: its control socket), besides
      IPv4 and IPv6
    """

    name: str
    description: str
    comment: tuple[str, ...]
    script: str
    arguments: str
    bind: str
    port: int
    user: str | None = None
    python_packages: tuple[str, ...] = ()
    state: str | None = None
    state_mode: str = "0750"
    groups: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    log: str = ""
    unix_sockets: bool = False


@dataclass(frozen=True)
class Tool:
    """A command of televoc's on the PBX: a Python script shipped next to the module, run
    with the Python the services run on, at /etc/<target> (executable by root only).

    + target: its path under /etc ("televoc/bin/televoc-claims")
    + script: the script's file name next to the module (an Embedded file)
    + comment: what the module says about it (lines of text)
    + arguments: given before the caller's (Nix text: may name a store path)
    + group, mode: who may run it besides root (mode 0750 with a group)
    """

    target: str
    script: str
    comment: tuple[str, ...]
    arguments: str = ""
    group: str = ""
    mode: str = "0700"


# An ignorecommand runs for each failure and holds fail2ban's reading of the log meanwhile:
# killed after IGNORE_SECONDS (which bans); fail2ban keeps its verdict per source for
# IGNORE_CACHE[1] seconds (at most IGNORE_CACHE[0] sources), so a source failing again and
# again costs one run a minute.
IGNORE_SECONDS = 5
IGNORE_CACHE = (1000, 60)

# fail2ban's iptables actions make a chain f2b-<jail name>; iptables takes 28 characters.
JAIL_NAME_MAX = 24


@dataclass(frozen=True)
class Jail:
    """A fail2ban jail: sources that fail `Bans.after` times within the window are banned
    from every port. Either `filter` (one fail2ban ships) or `failregex` + `datepattern`.

    + comment: what the module says about it (lines of text)
    + after: the unit that writes `logpath` (fail2ban starts after it: a missing log file
      would stop it)
    + maxretry: the failures that ban, when not the event's `security.ban_after` (1: a line
      that is a verdict already)
    + ignore: a script shipped beside the module (an Embedded's name) and its arguments: run
      with Python for each failure, the source appended, it exits 0 for a source not to
      ban; anything else bans, and so does a run over IGNORE_SECONDS (killed); its verdict
      is kept per source (IGNORE_CACHE)
    + name: at most JAIL_NAME_MAX characters: fail2ban's iptables actions name a chain
      `f2b-<name>`, and iptables refuses a chain name over 28 (the jail would run, list its
      bans and block nobody)
    """

    name: str
    comment: tuple[str, ...]
    logpath: str
    after: str
    filter: str | None = None
    failregex: str | None = None
    datepattern: str | None = None
    maxretry: int | None = None
    ignore: tuple[str, str] | None = None

    def __post_init__(self):
        if len(self.name) > JAIL_NAME_MAX:
            raise ValueError(
                f"fail2ban jail {self.name!r}: over {JAIL_NAME_MAX} characters, iptables would refuse its chain "
                f"f2b-{self.name} and the jail would ban nobody"
            )


@dataclass(frozen=True)
class Embedded:
    """A file shipped next to the module, which the module refers to as `./<name>`.

    + label: what it is, for the step that puts it in place
    """

    name: str
    text: str = field(repr=False)
    label: str


@dataclass(frozen=True)
class Module:
    """The module and what NixOS makes of it.

    + text: the module (no secrets: it goes into the world-readable Nix store)
    + embedded: the files shipped next to it
    + etc: path -> sha256 of what NixOS puts there once it switched to this module (None: no
      such file)
    + openings: the ports it opens, each to its sources only (the firewall check reads them)
    + jails: the names of the fail2ban jails it runs
    """

    text: str = field(repr=False)
    embedded: tuple[Embedded, ...]
    etc: dict[str, str | None]
    openings: tuple[Opening, ...] = ()
    jails: tuple[str, ...] = ()

    @property
    def marker(self) -> str:
        """Names this module and the files it runs (the switch records it once done)."""
        return _sha256("\0".join([self.text, *(e.text for e in self.embedded)]))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _listed(names: list[str]) -> str:
    """'SIP, RTP and provisioning'."""
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def family(source: str) -> int:
    """4 or 6: the IP version of an address or network."""
    return ipaddress.ip_network(source, strict=False).version


def iptables_rules(openings: tuple[Opening, ...], action: str = "-A") -> list[str]:
    """The iptables backend's rules (networking.firewall.extraCommands): one per opening and
    source, in NixOS's nixos-fw chain; `action` "-D" gives the rules that remove them."""
    rules = []
    for o in openings:
        first, last = o.ports
        ports = str(first) if first == last else f"{first}:{last}"
        for source in o.sources:
            command = "ip6tables" if family(source) == 6 else "iptables"
            rules.append(f"{command} {action} nixos-fw -p {o.protocol} -s {source} --dport {ports} -j nixos-fw-accept")
    return rules


def nftables_rules(openings: tuple[Opening, ...]) -> list[str]:
    """The nftables backend's rules (networking.firewall.extraInputRules): one per opening and
    address family."""
    rules = []
    for o in openings:
        first, last = o.ports
        ports = str(first) if first == last else f"{first}-{last}"
        for version, name in ((4, "ip"), (6, "ip6")):
            sources = [s for s in o.sources if family(s) == version]
            if sources:
                match = sources[0] if len(sources) == 1 else "{ " + ", ".join(sources) + " }"
                rules.append(f"{name} saddr {match} {o.protocol} dport {ports} accept")
    return rules


@without_gc
def render_module(
    event: Event,
    asterisk: AsteriskService,
    daemons: tuple[Daemon, ...] = (),
    jails: tuple[Jail, ...] = (),
    embedded: tuple[Embedded, ...] = (),
    openings: tuple[Opening, ...] = (),
    tools: tuple[Tool, ...] = (),
) -> Module:
    """The Nix module for `event`; deterministic (files in name order). Each opening is made
    with the rule the firewall's backend takes (iptables or nftables), for its sources only;
    a firewall that is off, or a backend for which televoc writes no rules (firewalld), is
    refused by an assertion before NixOS changes anything. The jails ban with the event's
    security settings (event.yml `security`)."""
    text = render(
        __file__,
        "etc/nixos/televoc/asterisk.nix.j2",
        event=event,
        asterisk=asterisk,
        limits=LIMITS,
        conf_files=[(name, nix_indented_string(asterisk.conf_files[name])) for name in sorted(asterisk.conf_files)],
        daemons=daemons,
        tools=tools,
        jails=jails,
        ignore_seconds=IGNORE_SECONDS,
        ignore_cache=IGNORE_CACHE,
        security=event.security,
        openings=openings,
        opened=_listed([o.what for o in openings]),
        iptables=iptables_rules(openings),
        iptables_stop=[f"{rule} || true" for rule in iptables_rules(openings, "-D")],
        nftables=nftables_rules(openings),
    )
    etc = {
        f"{ASTERISK_ETC}/{name}": _sha256(body) if asterisk.enable else None
        for name, body in asterisk.conf_files.items()
    }
    return Module(text=text, embedded=embedded, etc=etc, openings=openings, jails=tuple(j.name for j in jails))
