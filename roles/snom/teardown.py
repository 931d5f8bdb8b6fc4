"""Teardown's record of which phones still hold the event's credentials. Pure: no host.

Teardown keeps this record on the PBX from its first run on and keeps failing, naming the
phones, until each one is proven clean by evidence a later run can still see:

- it fetched the wiped profile (the provisioning server's state names the version it served),
- it answered a factory reset over its web interface (2xx), reached at its `address` or at
  the address it was registered from, which the record keeps from the first run on (the
  accounts, and with them the registrations, are removed afterwards),
- the crew states it was reset by hand (`--data televoc_reset_by_hand=name,...`).

Nothing else counts: a phone that merely stopped being registered may be unplugged, with the
event's SIP and web passwords still in it.

A DECT handset holds no credentials (its account lives on its base): the record holds each
DECT base instead, by its name, proven clean the same way (it fetched its wiped settings, or
the crew reset it by hand); it counts as registered, so it is told, when one of its handsets
is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from roles.event import Directory
from roles.shared.pbxcli import PbxState

VERSION = 1


@dataclass
class PhoneRecord:
    """One phone of the event during teardown.

    + mac: None for a phone televoc does not provision (set up by hand)
    + address: where its web interface was last known (directory or registration)
    + registered: registered when this run started (so it can be told to fetch the wipe)
    + clean_since, proof: when and how it was proven clean (None: it still holds credentials)
    + last_attempt: what the last attempt to clean it gave, for the crew
    + base: a DECT base, not a phone (told through its handsets, no factory reset over the web)
    + participant: a participant's snom (self-service: named by the number it held; told
      through that number, never reset to factory settings: it is the participant's)
    """

    mac: str | None
    address: str | None = None
    registered: bool = False
    clean_since: str | None = None
    proof: str | None = None
    last_attempt: str | None = None
    base: bool = False
    participant: bool = False

    @property
    def clean(self) -> bool:
        return self.clean_since is not None


@dataclass
class TeardownRecord:
    """What teardown knows, kept on the PBX between runs (`to_json`/`from_json`)."""

    started: str
    phones: dict[str, PhoneRecord] = field(default_factory=dict)

    @property
    def pending(self) -> list[str]:
        return [name for name, phone in self.phones.items() if not phone.clean]

    def to_json(self) -> str:
        data = {
            "version": VERSION,
            "started": self.started,
            "phones": {name: asdict(phone) for name, phone in sorted(self.phones.items())},
        }
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: dict) -> TeardownRecord:
        """ValueError when `data` is not a record this version wrote (never guessed at)."""
        if data.get("version") != VERSION or not isinstance(data.get("phones"), dict):
            raise ValueError("not a televoc teardown record (version 1)")
        fields = set(PhoneRecord.__dataclass_fields__)
        phones = {}
        for name, phone in data["phones"].items():
            if not isinstance(phone, dict) or not set(phone) <= fields:
                raise ValueError(f"phone {name!r}: unexpected entry")
            phones[name] = PhoneRecord(**phone)
        return cls(started=str(data.get("started")), phones=phones)


def contact_host(uri: str) -> str | None:
    """'sip:saal1@10.23.0.11:5060;ob' -> '10.23.0.11'."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("@", 1)[-1]
    host = rest.split(";", 1)[0].split(">", 1)[0]
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host or None


def merged(
    existing: TeardownRecord | None,
    directory: Directory,
    state: PbxState | None,
    now: str,
    participants: Iterable[tuple[str, str]] = (),
) -> TeardownRecord:
    """The record for this run: what earlier runs found, kept as it was (a phone once proven
    clean stays clean; a pending one stays pending), plus every phone of the directory not
    in it yet, and every participant's snom (`participants`: the number it holds and its MAC,
    from the self-service database) by its number; addresses and registrations refreshed
    from Asterisk while it still knows them."""
    record = existing or TeardownRecord(started=now)
    live = state if state is not None and state.running else None
    for base in directory.bases:
        entry = record.phones.get(base.name)
        if entry is None:
            entry = record.phones[base.name] = PhoneRecord(mac=base.mac.upper(), base=True)
        contacts = [c for a in directory.handsets(base.name) for c in (live.contacts_of(a.name) if live else [])]
        entry.registered = bool(contacts)
        if contacts and not entry.clean:
            entry.address = contact_host(contacts[0].uri) or entry.address
    for account in directory.accounts:
        if account.base is not None:  # its credentials are in its base's settings
            continue
        phone = record.phones.get(account.name)
        if phone is None:
            phone = record.phones[account.name] = PhoneRecord(mac=account.mac, address=account.address)
        contacts = live.contacts_of(account.name) if live is not None else []
        phone.registered = bool(contacts)
        if contacts and not phone.clean:
            phone.address = account.address or contact_host(contacts[0].uri) or phone.address
        elif phone.address is None:
            phone.address = account.address
    # a participant's number is served from the database: the registrar's own rows count too
    registrar = {r.aor: r.uri for r in live.registrations} if live is not None else {}
    for number, mac in participants:
        phone = record.phones.get(number)
        if phone is None or (phone.participant and phone.mac != mac.upper()):
            phone = record.phones[number] = PhoneRecord(mac=mac.upper(), participant=True)
        contacts = live.contacts_of(number) if live is not None else []
        uri = contacts[0].uri if contacts else registrar.get(number)
        phone.registered = uri is not None
        if uri and not phone.clean:
            phone.address = contact_host(uri) or phone.address
    return record


def participants_pending(record: TeardownRecord) -> dict[str, str]:
    """Participants' snoms that still hold a number of the event: number -> MAC."""
    return {name: p.mac for name, p in record.phones.items() if p.participant and p.mac and not p.clean}


@dataclass
class Outcome:
    """What this run's steps found, filled in while they execute; judged at the end.

    + fetched: phone -> proof text (fetched the wiped profile)
    + reset: phone -> proof text (answered a factory reset)
    + attempts: phone -> what an attempt that did not prove anything gave
    + by_hand: phones the crew stated it reset by hand
    """

    fetched: dict[str, str] = field(default_factory=dict)
    reset: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, str] = field(default_factory=dict)
    by_hand: tuple[str, ...] = ()


def fetched_wipe(record: TeardownRecord, fetches: dict, wiped: dict[str, str]) -> dict[str, str]:
    """Pending phones (and bases) whose MAC the provisioning server served its wiped profile
    to, with the proof text. `fetches`: the server's state["fetches"] (MAC -> version, first,
    source); `wiped`: MAC (upper case) -> the version of its wiped profile."""
    found = {}
    for name in record.pending:
        mac = record.phones[name].mac
        fetch = fetches.get(mac.upper()) if mac else None
        if mac and isinstance(fetch, dict) and fetch.get("version") == wiped.get(mac.upper()):
            found[name] = f"fetched the wiped profile from {fetch.get('source', '?')}"
    return found


def judged(record: TeardownRecord, outcome: Outcome, now: str) -> TeardownRecord:
    """The record with this run's proofs written in (the proof text carries the time)."""
    for name, phone in record.phones.items():
        if phone.clean:
            continue
        proof = outcome.fetched.get(name) or outcome.reset.get(name)
        if proof is None and name in outcome.by_hand:
            proof = "reset by hand, as the crew stated (televoc_reset_by_hand)"
        if proof is not None:
            phone.clean_since, phone.proof = now, proof
        elif name in outcome.attempts:
            phone.last_attempt = f"{now}: {outcome.attempts[name]}"
    return record


def advice(phone: PhoneRecord) -> str:
    """What the crew can do about a phone that still holds the event's credentials."""
    ways = []
    if phone.participant:
        return (
            "boot it on the phone network (it fetches the wiped profile); or have its owner reset it, then "
            "--data televoc_reset_by_hand=<number>"
        )
    if phone.base:
        return (
            "boot it on the phone network (it fetches its wiped settings); or reset it to factory settings by "
            "hand (its web interface, or its reset button), then --data televoc_reset_by_hand=<name>"
        )
    if phone.mac:
        ways.append("boot it on the phone network (it fetches the wiped profile)")
        if phone.address:
            ways.append(f"--data televoc_factory_reset=true (reaches it at {phone.address})")
    ways.append("reset it by hand, then --data televoc_reset_by_hand=<name>")
    return "; or ".join(ways)


def report(record: TeardownRecord) -> list[str]:
    """One line per phone: clean (how, since when) or still holding credentials (and why)."""
    lines = []
    for name, phone in sorted(record.phones.items()):
        if phone.clean:
            lines.append(f"{name}: clean since {phone.clean_since}: {phone.proof}")
        else:
            what = (
                "snom DECT base"
                if phone.base
                else "a participant's snom"
                if phone.participant
                else "provisioned snom"
                if phone.mac
                else "set up by hand"
            )
            last = f"; last attempt {phone.last_attempt}" if phone.last_attempt else ""
            lines.append(f"{name}: STILL HOLDS the event's credentials ({what}{last}): {advice(phone)}")
    return lines


def unknown_names(record: TeardownRecord, names: Iterable[str]) -> list[str]:
    return [n for n in names if n != "all" and n not in record.phones]
