"""Pure renderer of televoc's NixOS module. No host, no I/O.

The module is NixOS's side of the event: `services.asterisk` with the config files it is
given, the ports they need, televoc's own services (a Python script shipped next to the
module, its port open to one network only), and fail2ban jails. It knows NixOS's options;
what goes into Asterisk's files or into a service's script is decided elsewhere (the
composition, roles/plan.py, hands it the texts and the descriptions below).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from roles.event import Event
from roles.shared.templating import render, without_gc

# Where services.asterisk puts confFiles on the host.
ASTERISK_ETC = "/etc/asterisk"

_INDENT = " " * 8


def nix_indented_string(text: str, indent: str = _INDENT) -> str:
    """`text` as a Nix ''indented string'' that evaluates back to exactly `text`.

    Every non-empty line gets the same indentation, which Nix strips; `''` and `${` are
    escaped. Nix drops the whitespace before the closing quotes, and keeps a final newline.
    (Whole-text operations: a dialplan of 10,000 phones has 100,000 lines.)
    """
    if "\t" in text or "\r" in text or _TRAILING_BLANK.search(text):
        line = next(line for line in text.split("\n") if "\t" in line or "\r" in line or line != line.rstrip())
        raise ValueError(f"config line {line!r}: no tabs, carriage returns or trailing blanks")
    if not _COLUMN_ONE.search(text):
        raise ValueError("config text needs a line that starts in column 1")
    escaped = text.replace("''", "'''").replace("${", "''${")
    body = _LINE_START.sub(indent, escaped)
    closing = indent[:-2] if text.endswith("\n") else ""
    return f"''\n{body}{closing}''"


_TRAILING_BLANK = re.compile(r" (?:\n|\Z)")  # a line ending in a blank, or only blanks
_COLUMN_ONE = re.compile(r"^\S", re.M)
_LINE_START = re.compile(r"^(?=.)", re.M)  # the start of each non-empty line


@dataclass(frozen=True)
class AsteriskService:
    """What `services.asterisk` serves.

    + enable: false stops and disables Asterisk (teardown)
    + conf_files: file name in /etc/asterisk -> text (world-readable in the Nix store: no secrets)
    + secrets_path: where the secrets are instead (the module's header names it)
    + sip_port, rtp_ports: opened in the firewall while Asterisk is enabled
    """

    enable: bool
    conf_files: Mapping[str, str] = field(repr=False)
    secrets_path: str
    sip_port: int
    rtp_ports: tuple[int, int]


@dataclass(frozen=True)
class Daemon:
    """One of televoc's own services: a Python script shipped next to the module, run by
    systemd as its own system user, its TCP port open to one network only.

    + name: the unit, its user and group, its state and logs directories
    + description: the user's description; the unit's adds where it listens
    + comment: what the module says about it (lines of text)
    + script: the script's file name next to the module (an Embedded file)
    + arguments: its command line
    + bind, port, network: where it listens, and the only network the firewall lets reach it
    """

    name: str
    description: str
    comment: tuple[str, ...]
    script: str
    arguments: str
    bind: str
    port: int
    network: str


@dataclass(frozen=True)
class Jail:
    """A fail2ban jail: sources that fail `Bans.after` times within the window are banned
    from every port. Either `filter` (one fail2ban ships) or `failregex` + `datepattern`.

    + comment: what the module says about it (lines of text)
    + after: the unit that writes `logpath` (fail2ban starts after it: a missing log file
      would stop it)
    """

    name: str
    comment: tuple[str, ...]
    logpath: str
    after: str
    filter: str | None = None
    failregex: str | None = None
    datepattern: str | None = None


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
    """

    text: str = field(repr=False)
    embedded: tuple[Embedded, ...]
    etc: dict[str, str | None]

    @property
    def marker(self) -> str:
        """Names this module and the files it runs (the switch records it once done)."""
        return _sha256("\0".join([self.text, *(e.text for e in self.embedded)]))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@without_gc
def render_module(
    event: Event,
    asterisk: AsteriskService,
    daemons: tuple[Daemon, ...] = (),
    jails: tuple[Jail, ...] = (),
    embedded: tuple[Embedded, ...] = (),
) -> Module:
    """The Nix module for `event`; deterministic (files in name order). Each daemon's port is
    opened to its network with the rule the firewall's backend takes (iptables or nftables);
    the jails ban with the event's security settings (event.yml `security`)."""
    text = render(
        __file__,
        "etc/nixos/televoc/asterisk.nix.j2",
        event=event,
        asterisk=asterisk,
        conf_files=[(name, nix_indented_string(asterisk.conf_files[name])) for name in sorted(asterisk.conf_files)],
        daemons=daemons,
        jails=jails,
        security=event.security,
    )
    etc = {
        f"{ASTERISK_ETC}/{name}": _sha256(body) if asterisk.enable else None
        for name, body in asterisk.conf_files.items()
    }
    return Module(text=text, embedded=embedded, etc=etc)
