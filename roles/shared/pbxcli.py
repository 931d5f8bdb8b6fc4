"""Pure parsers for what `asterisk -rx` prints (Asterisk 22). No host, no I/O.

`asterisk -rx` exits 0 for unknown commands, unknown objects and broken configs, so televoc
never trusts the exit code: it reads the text. Parsers skip lines they do not recognise, and
keep "not running" (None) apart from "nothing listed" (empty).
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from roles.shared.names import DIALPLAN_GLOBAL, GENERATION_AOR_PREFIX, RESERVED_PREFIX
from roles.shared.sections import split as split_answers

NOT_RUNNING = "Unable to connect to remote asterisk"
NO_SUCH_COMMAND = "No such command"
NO_SUCH_ENDPOINT = "Unable to retrieve endpoint"

_CONTACT = re.compile(
    r"^\s*Contact:\s+(?P<aor>[^/\s]+)/(?P<uri>\S+)\s+(?P<hash>[0-9a-f]+)\s+"
    r"(?P<status>\S+)\s+(?P<rtt>\S+)\s*$"
)
_AOR = re.compile(r"^\s*Aor:\s+(?P<name>\S+)\s+(?P<max>\d+)\s*$")
_GLOBAL = re.compile(r"^\s*(?P<name>[A-Za-z0-9_]+)=(?P<value>.*)$")
_TRANSPORT = re.compile(r"^\s*Transport:\s+(?P<name>\S+)\s+(?P<type>\S+)\s+\d+\s+\d+\s+(?P<bind>\S+)\s*$")
_REGISTRATION = re.compile(r"^/registrar/contact/(?P<aor>[^;\s]+);@(?P<hash>[0-9a-f]+)\s*:\s*(?P<json>\{.*\})\s*$")


@dataclass(frozen=True)
class Contact:
    aor: str
    uri: str  # as listed: cut at the column width for long URIs (see Registration)
    status: str  # Avail, Unavail, NonQual, Unknown, ...
    rtt_ms: float | None  # None when not qualified (-nan) or unparseable
    hash: str = ""  # the listing's first 10 hex digits of the contact id
    user_agent: str | None = None


@dataclass(frozen=True)
class Registration:
    """A dynamic contact as Asterisk stores it (astdb registrar/contact): the full URI."""

    aor: str
    hash: str  # the full hex part of the contact id "<aor>;@<hash>"
    uri: str
    user_agent: str


@dataclass(frozen=True)
class PbxState:
    """What a running Asterisk reports; `running=False` means its CLI could not connect."""

    running: bool
    version: str | None = None
    aors: frozenset[str] = frozenset()
    contacts: tuple[Contact, ...] = ()
    globals: dict[str, str] = field(default_factory=dict)
    registrations: tuple[Registration, ...] = ()
    transports: dict[str, str] = field(default_factory=dict)  # name -> bind address
    # outbound registrations (the trunk): name -> status (Registered, Unregistered, Rejected, ...)
    outbound: dict[str, str] = field(default_factory=dict)
    # the names of the config files Asterisk has loaded (`config list`), without their directory
    config_files: frozenset[str] = frozenset()

    @property
    def generation(self) -> str | None:
        """The config generation Asterisk has loaded (from the marker aor), if any."""
        found = sorted(n[len(GENERATION_AOR_PREFIX) :] for n in self.aors if n.startswith(GENERATION_AOR_PREFIX))
        return found[0] if len(found) == 1 else None

    @property
    def dialplan_generation(self) -> str | None:
        return self.globals.get(DIALPLAN_GLOBAL)

    def phone_aors(self) -> set[str]:
        """The aors of phones: not televoc's own (the generation marker, the trunk)."""
        return {n for n in self.aors if not n.startswith(RESERVED_PREFIX)}

    @cached_property
    def _by_aor(self) -> dict[str, list[Contact]]:
        index: dict[str, list[Contact]] = {}
        for contact in self.contacts:
            index.setdefault(contact.aor, []).append(contact)
        return index

    def contacts_of(self, aor: str) -> list[Contact]:
        """The contacts of `aor` (one dictionary lookup: verification stays linear)."""
        return self._by_aor.get(aor, [])

    @property
    def registered(self) -> frozenset[str]:
        """The aors that have at least one contact."""
        return frozenset(self._by_aor)


def is_not_running(lines: Iterable[str]) -> bool:
    return any(NOT_RUNNING in line for line in lines)


def _check_known_command(lines: list[str]) -> None:
    for line in lines:
        if line.startswith(NO_SUCH_COMMAND):
            raise ValueError(line.strip())


def parse_rtt(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if value != value else value  # nan


def parse_contacts(lines: Iterable[str]) -> list[Contact]:
    """`pjsip show contacts` or `pjsip show aors` -> contacts (a long URI as cut by the
    listing: with_full_uris). Header rows hold '<' and are skipped."""
    lines = list(lines)
    _check_known_command(lines)
    contacts = []
    for line in lines:
        match = _CONTACT.match(line)
        if match and "<" not in line:
            contacts.append(
                Contact(
                    aor=match["aor"],
                    uri=match["uri"],
                    status=match["status"],
                    rtt_ms=parse_rtt(match["rtt"]),
                    hash=match["hash"],
                )
            )
    return contacts


def parse_registrations(lines: Iterable[str]) -> list[Registration]:
    """`database show registrar/contact` -> registrations, one JSON object per row."""
    lines = list(lines)
    _check_known_command(lines)
    rows = [m for m in (_REGISTRATION.match(line.strip()) for line in lines) if m]
    try:  # one parse for all rows (10,000 phones: one C call, not 10,000)
        objects = json.loads("[" + ",".join(m["json"] for m in rows) + "]")
    except ValueError:  # a row that is not JSON: parse row by row, skip the bad ones
        objects = []
        for m in rows:
            try:
                objects.append(json.loads(m["json"]))
            except ValueError:
                objects.append(None)
    return [
        Registration(aor=m["aor"], hash=m["hash"], uri=data.get("uri", ""), user_agent=data.get("user_agent", ""))
        for m, data in zip(rows, objects, strict=True)
        if isinstance(data, dict)
    ]


def with_full_uris(contacts: Iterable[Contact], registrations: Iterable[Registration]) -> list[Contact]:
    """Contacts with the full URI and user agent of their registration, joined on the aor and
    the listing's hash prefix of the contact id (dictionary lookups: linear in the contacts)."""
    registrations = list(reversed(list(registrations)))  # the first match wins, as listed
    by_prefix: dict[int, dict[tuple[str, str], Registration]] = {}
    result = []
    for contact in contacts:
        n = len(contact.hash)
        if n not in by_prefix:
            by_prefix[n] = {(r.aor, r.hash[:n]): r for r in registrations}
        found = by_prefix[n].get((contact.aor, contact.hash)) if n else None
        if found is not None:
            contact = Contact(
                contact.aor, found.uri, contact.status, contact.rtt_ms, contact.hash, found.user_agent or None
            )
        result.append(contact)
    return result


def parse_transports(lines: Iterable[str]) -> dict[str, str]:
    """`pjsip show transports` -> transport name -> bind address."""
    lines = list(lines)
    _check_known_command(lines)
    found = {}
    for line in lines:
        match = _TRANSPORT.match(line)
        if match and "<" not in line:
            found[match["name"]] = match["bind"]
    return found


_OUTBOUND_ROW = re.compile(r"^\s*(?P<name>[^\s/<]+)/(?P<uri>\S+)\s+\S+\s+(?P<status>[A-Za-z]+)")


def parse_outbound_registrations(lines: Iterable[str]) -> dict[str, str]:
    """`pjsip show registrations` (outbound, e.g. the trunk) -> name -> status. Rows look like
    ' televoc-trunk/sip:10.77.0.2  televoc-trunk  Registered  (exp. 3588s)'."""
    lines = list(lines)
    _check_known_command(lines)
    found = {}
    for line in lines:
        match = _OUTBOUND_ROW.match(line)
        if match and not line.lstrip().startswith("<"):
            found[match["name"]] = match["status"]
    return found


def parse_aors(lines: Iterable[str]) -> frozenset[str]:
    """`pjsip list aors` or `pjsip show aors` -> the names of the aors (parse_contacts reads the
    contacts `show aors` lists under them)."""
    lines = list(lines)
    _check_known_command(lines)
    return frozenset(m["name"] for m in map(_AOR.match, lines) if m and "<" not in m.string)


def parse_globals(lines: Iterable[str]) -> dict[str, str]:
    """`dialplan show globals` -> variables. Rows look like '   NAME=value'."""
    lines = list(lines)
    _check_known_command(lines)
    result = {}
    for line in lines:
        if line.strip().startswith("--"):
            continue
        match = _GLOBAL.match(line)
        if match:
            result[match["name"]] = match["value"].strip()
    return result


def parse_version(lines: Iterable[str]) -> str | None:
    for line in lines:
        match = re.match(r"^Asterisk (\S+)", line)
        if match:
            return match[1]
    return None


# `pjsip show aors` lists every aor with its contacts (status, RTT; a long URI cut at the
# column: the registrar gives it whole). Asterisk sorts a listing by putting each object into
# a sorted list, which takes time quadratic in the objects listed: 10,000 aors take about a
# second, a tenth of them 0.02 s. So from SLICED_FROM aors on, the aors are listed in slices by
# the last character of their name (`like REGEX`), side by side; the last slice takes every
# name the others do not, so together they list every aor once. Below that one listing is
# cheaper than thirteen asterisk processes. (An event whose names all end alike lists in one
# slice, as slowly as a single listing.)
AOR_LISTING = "pjsip show aors"
_ENDINGS = "0123456789abcdefghijklmnopqrstuvwxyz"  # no ranges: a regex range may follow the locale
AOR_SLICES = (*(f"{c}$" for c in _ENDINGS[:10]), f"[{_ENDINGS[10:23]}]$", f"[{_ENDINGS[23:]}]$", f"[^{_ENDINGS}]$")
AOR_LISTINGS = tuple(f"{AOR_LISTING} like {pattern}" for pattern in AOR_SLICES)
SLICED_FROM = 3000


def in_range(name: str, claimable: tuple[str, str] | None) -> bool:
    """Whether aor `name` is a number of the claimable range (first, last)."""
    if claimable is None:
        return False
    first, last = claimable
    return len(name) == len(first) and name.isdigit() and first <= name <= last


def claimed_registered(state: PbxState, claimable: tuple[str, str] | None) -> list[str]:
    """The claimed numbers with a contact, sorted: the numbers of the claimable range in
    Asterisk's registrar (its astdb keeps every contact, the realtime aors' too; the aor
    listing leaves the claimed numbers out: listed_aors). The verification's count and the
    crew's board's."""
    return sorted({r.aor for r in state.registrations if in_range(r.aor, claimable)})


def listed_aors(phones: int, realtime: bool) -> int | None:
    """What to pass as `aors` (aor_listings) for a PBX serving `phones` accounts; `realtime`:
    it also serves claimed numbers from the self-service database. Then the aors are listed in
    slices whatever their number: Asterisk's realtime wizard has no regular expressions and
    asks its database `id LIKE '%7$%'` for the slice `like 7$`, which no claimed number
    matches, so the listing is the crew's aors alone, however many claims are held (one
    listing would fetch every claim from the database and sort it in: 3,000 claims beside
    2,000 phones, 0.15 s instead of 0.05 s; measured in the lab)."""
    return None if realtime else phones


def aor_listings(aors: int | None = None) -> tuple[str, ...]:
    """The commands that list every aor, for about `aors` of them (None: not known, sliced)."""
    return (AOR_LISTING,) if aors is not None and aors < SLICED_FROM else AOR_LISTINGS


# The fact runs these in one remote command; each answer follows a line "@@televoc <command>".
OTHER_STATE_COMMANDS = (
    "dialplan show globals",
    "database show registrar/contact",
    "pjsip show transports",
    "pjsip show registrations",
    "config list",
)


def state_commands(aors: int | None = None) -> tuple[str, ...]:
    """What the state fact asks Asterisk, for about `aors` aors (aor_listings)."""
    return ("core show version", *aor_listings(aors), *OTHER_STATE_COMMANDS)


STATE_COMMANDS = state_commands()  # sliced
SECTION_MARK = "@@televoc "
# Of each registrar row, only the two fields televoc reads (the full URI, the user agent):
# a fifth of the bytes at 2000 phones. A row it cannot shorten passes as it is.
_REGISTRAR_FIELDS = (
    'awk \'{ u = ""; a = ""; '
    'if (match($0, /"uri":"[^"]*"/)) u = substr($0, RSTART, RLENGTH); '
    'if (match($0, /"user_agent":"[^"]*"/)) a = substr($0, RSTART, RLENGTH); '
    'if (u != "" && index($0, ": {")) print substr($0, 1, index($0, ": {") - 1) ": {" u (a != "" ? "," a : "") "}"; '
    "else print }'"
)


# Of `config list`, the names of the files only, each once, sorted (the wizards' ids change
# with every start; the parser reads the names). Any other line (an error) passes as it is.
_CONFIG_FILE_NAMES = "awk 'NF { if ($NF ~ /\\//) { n = split($NF, p, \"/\"); print p[n] } else print }' | sort -u"


def side_by_side(cli_command: str, commands: Iterable[str], filters: dict[str, str] | None = None) -> str:
    """The shell commands that print every answer of `commands` after its marker line. The
    commands run side by side (Asterisk answers several consoles at once: the whole is as
    slow as the slowest), their answers are printed in order,
    runs of spaces squeezed to one (the listings pad their columns: a third of the bytes; the
    parsers split on white space). `filters`: command -> a shell filter its answer goes
    through on the PBX (to keep only what the parser reads)."""
    q = shlex.quote
    filters = filters or {}
    run, show = [], []
    for i, command in enumerate(commands):
        line = f'{cli_command} -rx {q(command)} > "$d/{i}" 2>&1'
        if command in filters:
            line = f'{cli_command} -rx {q(command)} 2>&1 | {{ {filters[command]}; }} > "$d/{i}"'
        run.append(f"( {line} ) &")
        show.append(f'echo {q(SECTION_MARK + command)}; cat "$d/{i}"')
    return (
        "{ d=$(mktemp -d) || exit 1; " + " ".join(run) + " wait; " + "; ".join(show) + "; rm -rf \"$d\"; } | tr -s ' '"
    )


def state_script(cli_command: str, aors: int | None = None) -> str:
    """The shell commands that print every answer of state_commands(aors) after its marker
    line (side_by_side)."""
    return side_by_side(
        cli_command,
        state_commands(aors),
        {"database show registrar/contact": _REGISTRAR_FIELDS, "config list": _CONFIG_FILE_NAMES},
    )


def split_sections(lines: Iterable[str]) -> dict[str, list[str]]:
    return split_answers(lines, SECTION_MARK)


def parse_state(lines: Iterable[str]) -> PbxState:
    """The combined output of state_commands() (whole or sliced) -> PbxState."""
    sections = split_sections(lines)
    listings = (AOR_LISTING,) if AOR_LISTING in sections else AOR_LISTINGS  # every aor, once
    missing = [c for c in ("core show version", *listings, *OTHER_STATE_COMMANDS) if c not in sections]
    if missing:
        raise ValueError(f"no answer for: {', '.join(missing)}")
    version = parse_version(sections["core show version"])
    if version is None or any(is_not_running(section) for section in sections.values()):
        return PbxState(running=False)  # not running, or no asterisk command at all
    registrations = parse_registrations(sections["database show registrar/contact"])
    listed = [line for command in listings for line in sections[command]]
    return PbxState(
        running=True,
        version=version,
        aors=parse_aors(listed),
        contacts=tuple(with_full_uris(parse_contacts(listed), registrations)),
        globals=parse_globals(sections["dialplan show globals"]),
        registrations=tuple(registrations),
        transports=parse_transports(sections["pjsip show transports"]),
        outbound=parse_outbound_registrations(sections["pjsip show registrations"]),
        config_files=parse_config_list(sections["config list"]),
    )


def parse_config_list(lines: Iterable[str]) -> frozenset[str]:
    """`config list` -> the names of the files Asterisk has loaded (each line as Asterisk
    prints it: the module or the sorcery wizard's id that asked for it, then its path; or,
    as the state script filters it, the file's name alone)."""
    lines = list(lines)
    _check_known_command(lines)
    return frozenset(posixpath.basename(fields[-1]) for fields in (line.split() for line in lines) if fields)
