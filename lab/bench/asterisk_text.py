"""What Asterisk 22's CLI prints for the AsteriskState fact, for any number of phones. Pure.

The benchmark times the verification (roles.shared.pbxcli.parse_state and the judgements of
roles.asterisk.report) on this text without a host. It is Asterisk's own format, byte for
byte: tests/unit/test_bench_asterisk_text.py renders the lab's real captures
(tests/unit/captures/) from their values and compares, and the benchmark compares it with
what the lab's Asterisk prints for the phones SIPp registered.

The layouts are Asterisk's (res_pjsip's CLI formatters): an object's name column is
CLI_LAST_TABSTOP (62) minus the indent wide and cut there; a contact row is
`%*s:  %-*.*s %-10.10s %-7.7s %11.3f` (name column 55 minus the indent, the first 10 hex
digits of the contact id's hash, the status, the RTT in ms or -nan); an aor row is
`%*s:  %-*.*s %12u` (name column 62 minus the indent minus 12). A contact's id is
`<aor>;@<md5 of its URI>`; the lists are in id order, astdb's in key order.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from roles.shared import pbxcli as cli
from roles.shared.names import DIALPLAN_GLOBAL, GENERATION_AOR_PREFIX, PJSIP_TYPE_FILES, TRANSPORT
from roles.shared.pbxcli import AOR_LISTING, AOR_LISTINGS, AOR_SLICES, SECTION_MARK, state_commands

VERSION = (
    "Asterisk 22.10.1+dfsg+~cs6.17.60671434-1 built by nobody @ buildd.debian.org on a "
    "unknown running Linux on 2026-07-20 21:35:32 UTC"
)
CLI_LAST_TABSTOP = 62
SEPARATOR = "=" * 90


@dataclass(frozen=True)
class Registered:
    """One dynamic contact as Asterisk keeps it (astdb registrar/contact) and shows it."""

    aor: str
    uri: str
    status: str = "Avail"  # Avail, Unavail, NonQual, Unknown
    rtt_ms: float | None = 0.4  # None: not qualified (-nan)
    user_agent: str = ""
    via_addr: str = ""
    via_port: str = ""
    call_id: str = ""
    expiration_time: int = 0

    @property
    def hash(self) -> str:
        return hashlib.md5(self.uri.encode()).hexdigest()

    @property
    def id(self) -> str:
        return f"{self.aor};@{self.hash}"


def _contact_row(contact: Registered, indent: int) -> str:
    width = 55 - indent
    name = f"{contact.aor}/{contact.uri}"[:width]
    rtt = "-nan" if contact.rtt_ms is None or math.isnan(contact.rtt_ms) else f"{contact.rtt_ms:.3f}"
    status = contact.status[:7]
    return f"{'Contact':>{indent}}:  {name:<{width}} {contact.hash[:10]:<10} {status:<7} {rtt:>11}"


def _by_id(contacts: Iterable[Registered]) -> list[Registered]:
    return sorted(contacts, key=lambda c: c.id)


def show_aors(aors: dict[str, int], contacts: Sequence[Registered]) -> str:
    """`pjsip show aors`: every aor (name -> max_contacts) with its contacts."""
    if not aors:
        return "No objects found.\n\n"
    by_aor: dict[str, list[Registered]] = {}
    for contact in _by_id(contacts):
        by_aor.setdefault(contact.aor, []).append(contact)
    width = CLI_LAST_TABSTOP - 9 - 12
    lines = [
        "",
        "      Aor:  <Aor..............................................>  <MaxContact>",
        "    Contact:  <Aor/ContactUri............................> <Hash....> <Status> <RTT(ms)..>",
        SEPARATOR,
        "",
    ]
    for name in sorted(aors):
        lines.append(f"{'Aor':>9}:  {name[:width]:<{width}} {aors[name]:>12}")
        lines += [_contact_row(c, 11) for c in by_aor.get(name, [])]
        lines.append("")
    lines += ["", f"Objects found: {len(aors)}", "", ""]
    return "\n".join(lines)


def aor_listings(aors: dict[str, int], contacts: Sequence[Registered], sliced: bool) -> dict[str, str]:
    """The state's listings of the aors: `pjsip show aors`, or (`sliced`) `pjsip show aors like
    REGEX` for each slice of pbxcli.AOR_SLICES."""
    if not sliced:
        return {AOR_LISTING: show_aors(aors, contacts)}
    return sliced_aors(aors, contacts)


def sliced_aors(aors: dict[str, int], contacts: Sequence[Registered]) -> dict[str, str]:
    """`pjsip show aors like REGEX` for each slice of pbxcli.AOR_SLICES (REGEX is a POSIX
    regex; these few read the same in Python's)."""
    answers = {}
    for command, pattern in zip(AOR_LISTINGS, AOR_SLICES, strict=True):
        names = {name for name in aors if re.search(pattern, name)}
        answers[command] = show_aors({n: aors[n] for n in names}, [c for c in contacts if c.aor in names])
    return answers


def registrar_fields(contacts: Sequence[Registered]) -> str:
    """`database show registrar/contact` as the fact passes it on: of each row's JSON only
    the URI and the user agent (roles/asterisk/cli.py's awk filter)."""
    rows = []
    for c in sorted(contacts, key=lambda c: f"/registrar/contact/{c.id}"):
        data = {"uri": c.uri, "user_agent": c.user_agent}
        rows.append(f"/registrar/contact/{c.id}: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join([*rows, f"{len(rows)} results found.", ""])


def registrar(contacts: Sequence[Registered]) -> str:
    """`database show registrar/contact`: one row per contact, its JSON as Asterisk writes it."""
    rows = []
    for c in sorted(contacts, key=lambda c: f"/registrar/contact/{c.id}"):
        data = {
            "via_addr": c.via_addr,
            "qualify_timeout": "3.000000",
            "qualify_2xx_only": "false",
            "call_id": c.call_id,
            "reg_server": "",
            "prune_on_boot": "no",
            "path": "",
            "endpoint": c.aor,
            "via_port": c.via_port,
            "authenticate_qualify": "no",
            "uri": c.uri,
            "qualify_frequency": "30",
            "user_agent": c.user_agent,
            "expiration_time": str(c.expiration_time),
            "outbound_proxy": "",
        }
        rows.append(f"/registrar/contact/{c.id}: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join([*rows, f"{len(rows)} results found.", ""])


def dialplan_globals(variables: dict[str, str]) -> str:
    """`dialplan show globals`."""
    rows = [f"   {name}={value}" for name, value in variables.items()]
    return "\n".join([*rows, "", f"    -- {len(rows)} variable(s)", ""])


def show_transports(transports: dict[str, str]) -> str:
    """`pjsip show transports`: UDP transports, name -> bind address."""
    rows = [f"Transport:  {name:<21}  {'udp':>6}  {0:>5}  {0:>5}  {bind}" for name, bind in transports.items()]
    return "\n".join(
        [
            "",
            "Transport:  <TransportId........>  <Type>  <cos>  <tos>  <BindAddress....................>",
            SEPARATOR,
            "",
            *rows,
            "",
            f"Objects found: {len(rows)}",
            "",
            "",
        ]
    )


def state_output(
    phones: Sequence[str],
    contacts: Sequence[Registered],
    generation: str,
    dialplan_generation: str,
    bind: str = "0.0.0.0:5060",
) -> str:
    """The AsteriskState fact's whole output (each answer after its SECTION_MARK line) for an
    Asterisk that serves `phones` (max_contacts 1) and the generation marker aor, as a deploy
    for that many phones asks for it (pbxcli.state_commands)."""
    aors = dict.fromkeys(phones, 1)
    aors[f"{GENERATION_AOR_PREFIX}{generation}"] = 0
    commands = state_commands(len(phones))
    answers = {
        "core show version": VERSION + "\n",
        **aor_listings(aors, contacts, sliced=AOR_LISTING not in commands),
        "dialplan show globals": dialplan_globals({DIALPLAN_GLOBAL: dialplan_generation}),
        "database show registrar/contact": registrar_fields(contacts),
        "pjsip show transports": show_transports({TRANSPORT: bind}),
        "pjsip show registrations": "No objects found.\n\n",
        "config list": config_list(("pjsip.conf", "sorcery.conf", *PJSIP_TYPE_FILES.values())),
    }
    assert set(answers) == set(commands), "the fact's commands changed: update asterisk_text.py"
    return "".join(f"{SECTION_MARK}{command}\n{answers[command]}" for command in commands)


def config_list(names: Iterable[str]) -> str:
    """`config list` as the state script filters it (pbxcli: each file's name once, sorted)."""
    return "".join(f"{name}\n" for name in sorted(set(names)))


def snom_contacts(phones: Sequence[str], expires_at: int = 1795735612) -> list[Registered]:
    """A registered, qualified snom desk phone for every name, as a real event's would look:
    each from its own address in a /16, its own port, the contact's `line` parameter (URIs
    longer than the listing's column: the verification needs the registrar's full URI), a
    plausible RTT, snom's user agent."""
    contacts = []
    for i, name in enumerate(phones):
        address = f"10.23.{1 + i // 250}.{2 + i % 250}"
        port = 1024 + (i * 7919) % 60000
        line = hashlib.sha256(name.encode()).hexdigest()[:8]
        contacts.append(
            Registered(
                aor=name,
                uri=f"sip:{name}@{address}:{port};line={line}",
                status="Avail",
                rtt_ms=0.2 + (i * 37 % 1000) / 1000,
                user_agent="snom320/8.7.5.35",
                via_addr=address,
                via_port=str(port),
                call_id=hashlib.sha1(name.encode()).hexdigest()[:24],
                expiration_time=expires_at,
            )
        )
    return contacts


def rendered_like(output: str) -> str:
    """The fact's output rendered again by this module from the values in it (aors, each
    contact's status and RTT as each listing shows it, the registrar's rows, the generations,
    the bind address): equal to `output` exactly when this module prints what that Asterisk
    printed. (The slices of the aors are read side by side: a qualify in between may change a
    status or an RTT, so each is rendered with its own.)"""
    lines = output.splitlines()
    sections = cli.split_sections(lines)
    state = cli.parse_state(lines)
    registered = []
    for row in sections["database show registrar/contact"]:
        key, _, data = row.partition(": ")
        if not key.startswith("/registrar/contact/"):
            continue
        data = json.loads(data)
        aor = key[len("/registrar/contact/") :].split(";@", 1)[0]
        contact_id = key[len("/registrar/contact/") :]
        registered.append(
            Registered(
                aor=aor,
                uri=data["uri"],
                user_agent=data.get("user_agent", ""),
                via_addr=data.get("via_addr", ""),
                via_port=data.get("via_port", ""),
                call_id=data.get("call_id", contact_id),
                expiration_time=int(data.get("expiration_time", 0)),
            )
        )

    def as_listed(section: str) -> list[Registered]:
        listed = {(c.aor, c.hash): c for c in cli.parse_contacts(sections[section])}
        result = []
        for r in registered:
            c = listed.get((r.aor, r.hash[:10]))
            result.append(replace(r, status=c.status, rtt_ms=c.rtt_ms) if c else replace(r, status="?"))
        return result

    aors = dict.fromkeys(state.phone_aors(), 1)
    aors.update(dict.fromkeys(state.aors - state.phone_aors(), 0))
    # each listing with the statuses and RTTs it listed (slices are read side by side: a
    # qualify may land between two of them)
    sliced = AOR_LISTING not in sections
    listings = AOR_LISTINGS if sliced else (AOR_LISTING,)
    answers = {
        "core show version": VERSION + "\n",
        **{command: aor_listings(aors, as_listed(command), sliced)[command] for command in listings},
        "dialplan show globals": dialplan_globals({DIALPLAN_GLOBAL: state.dialplan_generation or ""}),
        "database show registrar/contact": registrar_fields(registered),
        "pjsip show transports": show_transports({TRANSPORT: state.transports.get(TRANSPORT, "")}),
        "pjsip show registrations": "No objects found.\n\n",
        "config list": config_list(sorted(state.config_files)),
    }
    commands = [c for c in cli.STATE_COMMANDS if c not in AOR_LISTINGS]
    commands[1:1] = listings
    return "".join(f"{SECTION_MARK}{command}\n{answers[command]}" for command in commands)
