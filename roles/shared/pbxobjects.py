"""Every object Asterisk serves, listed: what a teardown must leave none of. Pure parsers of
what `asterisk -rx` prints (Asterisk 22) and the one shell command that lists them all.

televoc owns Asterisk's configuration on the PBX (the module turns NixOS's sample files off):
every endpoint, auth, aor, identify, outbound registration, contact, dialplan context of
extensions.conf and dialplan global that Asterisk lists was made by a televoc config. What
Asterisk's modules make for themselves (the dialplan context of func_periodic_hook, say) is
not configuration: a PBX televoc never touched has it too.

    script = objects_script("asterisk -C /etc/asterisk/asterisk.conf")   # one remote command
    objects = parse_objects(lines)          # PbxObjects; None: Asterisk is not running
    objects.names("endpoint")               # ("h1", "televoc-venue-camp", ...)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from roles.shared.pbxcli import (
    NO_SUCH_COMMAND,
    is_not_running,
    parse_contacts,
    parse_globals,
    parse_version,
    side_by_side,
    split_sections,
)

# (kind, one and several as the crew reads them, the command that lists it); reports keep
# this order.
KINDS = (
    ("endpoint", "endpoint", "endpoints", "pjsip list endpoints"),
    ("auth", "auth", "auths", "pjsip list auths"),
    ("aor", "aor", "aors", "pjsip list aors"),
    ("identify", "identify", "identifies", "pjsip list identifies"),
    ("registration", "outbound registration", "outbound registrations", "pjsip list registrations"),
    ("contact", "contact", "contacts", "pjsip list contacts"),
    ("stored contact", "stored contact", "stored contacts", "database show registrar/contact"),
    ("context", "dialplan context", "dialplan contexts", "dialplan show"),
    ("global", "dialplan global", "dialplan globals", "dialplan show globals"),
)
ONE = {kind: one for kind, one, _, _ in KINDS}
SEVERAL = {kind: several for kind, _, several, _ in KINDS}
VERSION = "core show version"
COMMANDS = (VERSION, *(command for _, _, _, command in KINDS))
# Only what the parsers read travels: the context lines of `dialplan show` (not every
# priority of every number), the keys of the registrar's rows (not their JSON).
FILTERS = {
    "dialplan show": "grep -a -e '^\\[ Context ' || true",
    "database show registrar/contact": "sed -n 's|^\\(/registrar/contact/[^: ]*\\).*|\\1|p'",
}
# The registrar that owns the contexts of extensions.conf.
CONFIG_REGISTRAR = "pbx_config"

_ENDPOINT = re.compile(r"^\s*Endpoint:\s+(?P<name>[^\s/<]+)")
_AUTH = re.compile(r"^\s*Auth:\s+(?P<name>[^\s/<]+)/")
_AOR = re.compile(r"^\s*Aor:\s+(?P<name>[^\s<]+)\s+\d+\s*$")
_IDENTIFY = re.compile(r"^\s*Identify:\s+(?P<name>[^\s/<]+)/")
_REGISTRATION = re.compile(
    r"^\s*(?P<name>[^\s/<]+)/(?P<uri>\S+)\s+\S+\s+(?P<status>[A-Za-z]+)(?:\s+\(exp\.\s+(?P<exp>-?\d+)s\))?"
)
_STORED = re.compile(r"^/registrar/contact/(?P<key>[^\s;]+;@[0-9a-f]+)\s*$")
_CONTEXT = re.compile(r"^\[ Context '(?P<name>[^']*)' created by '(?P<registrar>[^']*)' \]")


@dataclass(frozen=True)
class Outbound:
    """An outbound registration as `pjsip list registrations` shows it.

    + name, uri: the registration and its server URI
    + status: Registered, Unregistered, Rejected, Stopped
    + next_seconds: the "(exp. Ns)" column: seconds until Asterisk registers again (None:
      not shown)
    """

    name: str
    uri: str
    status: str
    next_seconds: int | None = None


@dataclass(frozen=True)
class PbxObjects:
    """What a running Asterisk serves, by kind (KINDS): names in listing order. Contacts are
    `aor/uri`, stored contacts `aor;@hash` (the registrar's keys in Asterisk's database),
    contexts those of extensions.conf only."""

    listed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    outbound: tuple[Outbound, ...] = ()

    def names(self, kind: str) -> tuple[str, ...]:
        return self.listed.get(kind, ())

    @property
    def empty(self) -> bool:
        return not any(self.listed.values())

    def counts(self) -> list[tuple[str, int]]:
        """(kind, how many), for every kind listed at least once, in KINDS order."""
        return [(kind, len(self.names(kind))) for kind, _, _, _ in KINDS if self.names(kind)]


def _check_known_command(lines: list[str]) -> None:
    for line in lines:
        if line.startswith(NO_SUCH_COMMAND):
            raise ValueError(line.strip())


def _names(pattern: re.Pattern, lines: Iterable[str]) -> tuple[str, ...]:
    lines = list(lines)
    _check_known_command(lines)
    return tuple(m["name"] for m in map(pattern.match, lines) if m and "<" not in m.string)


def parse_outbound(lines: Iterable[str]) -> tuple[Outbound, ...]:
    """`pjsip list registrations` (or `show`) -> the outbound registrations. Rows look like
    ' televoc-trunk/sip:10.77.0.2 televoc-trunk Registered (exp. 3566s)'."""
    lines = list(lines)
    _check_known_command(lines)
    found = []
    for line in lines:
        match = _REGISTRATION.match(line)
        if match and not line.lstrip().startswith("<"):
            exp = int(match["exp"]) if match["exp"] is not None else None
            found.append(Outbound(match["name"], match["uri"], match["status"], exp))
    return tuple(found)


def parse_stored_contacts(lines: Iterable[str]) -> tuple[str, ...]:
    """The keys of `database show registrar/contact` rows (cut to the key on the PBX, or
    whole): 'aor;@hash'."""
    return tuple(m["key"] for m in (_STORED.match(line.split(":", 1)[0].strip()) for line in lines) if m)


def parse_contexts(lines: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """`dialplan show` (or only its context lines) -> (context, the module that made it)."""
    lines = list(lines)
    _check_known_command(lines)
    return tuple((m["name"], m["registrar"]) for m in map(_CONTEXT.match, (line.strip() for line in lines)) if m)


def objects_script(cli_command: str) -> str:
    """The one shell command that lists every object (COMMANDS, side by side)."""
    return side_by_side(cli_command, COMMANDS, FILTERS)


def parse_objects(lines: Iterable[str]) -> PbxObjects | None:
    """What objects_script printed -> PbxObjects; None when Asterisk is not running. A
    listing that did not answer, or answered with an unknown command, is a ValueError."""
    sections = split_sections(lines)
    missing = [c for c in COMMANDS if c not in sections]
    if missing:
        raise ValueError(f"no answer for: {', '.join(missing)}")
    if parse_version(sections[VERSION]) is None or any(is_not_running(s) for s in sections.values()):
        return None
    outbound = parse_outbound(sections["pjsip list registrations"])
    contacts = parse_contacts(sections["pjsip list contacts"])
    return PbxObjects(
        listed={
            "endpoint": _names(_ENDPOINT, sections["pjsip list endpoints"]),
            "auth": _names(_AUTH, sections["pjsip list auths"]),
            "aor": _names(_AOR, sections["pjsip list aors"]),
            "identify": _names(_IDENTIFY, sections["pjsip list identifies"]),
            "registration": tuple(o.name for o in outbound),
            "contact": tuple(f"{c.aor}/{c.uri}" for c in contacts),
            "stored contact": parse_stored_contacts(sections["database show registrar/contact"]),
            "context": tuple(n for n, by in parse_contexts(sections["dialplan show"]) if by == CONFIG_REGISTRAR),
            "global": tuple(parse_globals(sections["dialplan show globals"])),
        },
        outbound=outbound,
    )
