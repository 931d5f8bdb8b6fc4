"""The rules of DECT across entries: the base stations of dect.yml among themselves (names,
MACs, multicell systems), and the handsets (phones with `base`) against their bases (the base
exists and holds accounts, a slot within its lines and taken once, an IPEI used once, no key
of a desk phone).

A handset is a phone entry of phones.yml with `base:` instead of `mac` and `model`: its name,
extension, directory entry, routing and groups are a phone's, checked by the phones' rules;
only what makes it a handset is checked here. Called by load.py; every problem is reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from .dectmodels import BASE_MODELS
from .entries import BaseView, PhoneView
from .model import Venue
from .sources import DECT_FILE, PHONES_FILE, SourceFile
from .venues import venue_of

# Keys of a desk phone that mean nothing on a handset: why, and the fix.
NOT_ON_A_HANDSET = {
    "mac": "a handset is provisioned through its base, which has the MAC (dect.yml)",
    "model": "a handset is provisioned through its base, whose model is in dect.yml",
    "contact": "a handset registers through its base, so it has no static contact",
    "address": "a handset has no address of its own: its base has one",
    "web_password_before": "a handset has no web interface: its base has",
    "ringer": "a handset's ring tones are set on the handset: its base's file carries none",
    "group_ringer": "a handset's ring tones are set on the handset: its base's file carries none",
    "loud_ringer": "a handset's ring tones are set on the handset: its base's file carries none",
    "loud_from": "a handset's ring tones are set on the handset: its base's file carries none",
}
HANDSET_KEYS = ("slot", "ipei")


def check_dect(
    dect: SourceFile | None,
    bases: list[BaseView],
    phones: SourceFile,
    views: list[PhoneView],
    venues: Mapping[str, Venue],
) -> None:
    """Every DECT rule; `dect` is None when the event has no dect.yml."""
    by_name = _bases(dect, bases, phones, views) if dect is not None else {}
    _handsets(dect, by_name, phones, views, venues)


def _bases(dect: SourceFile, bases: list[BaseView], phones: SourceFile, views: list[PhoneView]) -> dict[str, BaseView]:
    """Names and MACs used once (a base's MAC is no phone's either), multicell systems sound;
    returns the bases by lower-case name (the first of a name)."""
    names: dict[str, BaseView] = {}
    macs: dict[str, BaseView] = {}
    phone_macs = {v.mac: v for v in views if v.mac is not None}
    phone_names = {v.name: v for v in views if v.name is not None}
    for b in bases:
        if b.name is not None and b.name in phone_names:
            p = phone_names[b.name]
            dect.add(
                ("bases", b.index, "name"),
                f"{b.name!r} is also the name of {phones.phone(p.index)} ({PHONES_FILE} line "
                f"{phones.line(('phones', p.index, 'name'))}): re-arming and the teardown report name both by it: "
                "rename one of them",
            )
        if b.name is not None:
            other = names.setdefault(b.name.lower(), b)
            if other is not b:
                dect.add(
                    ("bases", b.index, "name"),
                    f"{b.name!r} is already used by {dect.entry('bases', other.index)}, line "
                    f"{dect.line(('bases', other.index, 'name'))}: give each base its own name",
                )
        if b.mac is not None:
            other = macs.setdefault(b.mac, b)
            if other is not b:
                dect.add(
                    ("bases", b.index, "mac"),
                    f"is already the MAC of {dect.entry('bases', other.index)}, line "
                    f"{dect.line(('bases', other.index, 'mac'))}: each base has its own MAC (on its label)",
                )
            elif b.mac in phone_macs:
                p = phone_macs[b.mac]
                dect.add(
                    ("bases", b.index, "mac"),
                    f"is also the MAC of {phones.phone(p.index)} ({PHONES_FILE} line "
                    f"{phones.line(('phones', p.index, 'mac'))}): a MAC is one device: correct one of them",
                )
    for b in bases:
        if b.entry is not None and b.entry.primary is not None:
            _primary(dect, b, names)
    return names


def _primary(dect: SourceFile, b: BaseView, names: dict[str, BaseView]) -> None:
    """A secondary base: its primary is another base of the same multicell model, itself a primary."""
    assert b.entry is not None
    entry, where = b.entry, ("bases", b.index, "primary")
    wanted = entry.primary or ""
    if wanted.lower() == entry.name.lower():
        dect.add(where, "a base is not its own primary: delete primary from the primary itself")
        return
    kind = BASE_MODELS[entry.model]
    if not kind.multicell:
        dect.add(
            where,
            f"a {entry.model} is a single cell and joins no multicell system: delete primary, or use a base that does",
        )
        return
    other = names.get(wanted.lower())
    if other is None:
        dect.add(where, f"{wanted!r} is no base of {DECT_FILE}{_hint(wanted, names)}")
        return
    if other.entry is None:  # its own problems are reported
        return
    o = other.entry
    if o.primary is not None:
        dect.add(
            where,
            f"{o.name!r} is itself a secondary of {o.primary!r} ({dect.name} line "
            f"{dect.line(('bases', other.index, 'primary'))}): a system has one primary: write primary: {o.primary}",
        )
    elif o.model != entry.model:
        dect.add(
            where,
            f"{o.name!r} is a {o.model}, this base a {entry.model}: televoc joins bases of one model only "
            "(mixing models in one system is not known to work): make them separate systems",
        )
    elif not BASE_MODELS[o.model].multicell:
        dect.add(where, f"{o.name!r} is a {o.model}, a single cell: it can be no primary")


def _hint(wanted: str, names: dict[str, BaseView]) -> str:
    known = [b.name for b in names.values() if b.name is not None]
    if not known:
        return ": declare it there"
    close = difflib.get_close_matches(wanted, known, n=1)
    return f": did you mean {close[0]!r}?" if close else f": the bases are {', '.join(known)}"


def _handsets(
    dect: SourceFile | None,
    bases: dict[str, BaseView],
    phones: SourceFile,
    views: list[PhoneView],
    venues: Mapping[str, Venue],
) -> None:
    """Each handset's base, slot, IPEI and keys; slots and IPEIs taken once; one venue per base."""
    entries = phones.data.get("phones") if isinstance(phones.data, dict) else None
    slots: dict[tuple[str, int], PhoneView] = {}
    ipeis: dict[str, PhoneView] = {}
    venue_by_base: dict[str, tuple[str | None, PhoneView]] = {}
    missing_slot: list[tuple[PhoneView, BaseView]] = []
    for v in views:
        written = entries[v.index] if isinstance(entries, list) else {}
        if v.base is None:
            if "base" not in written:
                for key in HANDSET_KEYS:
                    if key in written:
                        phones.add(
                            ("phones", v.index, key),
                            f"{key} belongs to a DECT handset, and this phone has no base: add base: <its base "
                            f"of {DECT_FILE}>, or delete {key}",
                            key=True,
                        )
            continue
        for key, why in NOT_ON_A_HANDSET.items():
            if key in written:
                phones.add(("phones", v.index, key), f"{why}: delete {key} from this handset", key=True)
        if v.ipei is not None:
            other = ipeis.setdefault(v.ipei, v)
            if other is not v:
                phones.add(
                    ("phones", v.index, "ipei"),
                    f"is already the IPEI of {phones.phone(other.index)}, line "
                    f"{phones.line(('phones', other.index, 'ipei'))}: a handset takes one account",
                )
        base = _base_of(dect, bases, phones, v)
        if base is None or base.entry is None:
            continue
        kind = BASE_MODELS[base.entry.model]
        if v.slot is None:
            if v.entry is not None:
                missing_slot.append((v, base))
        elif v.slot > kind.lines:
            phones.add(
                ("phones", v.index, "slot"),
                f"{v.slot} is beyond the {kind.lines} lines of base {base.entry.name!r} (a {base.entry.model}): "
                f"choose a slot from 1 to {kind.lines}, or a base with more lines",
            )
        else:
            other = slots.setdefault((base.entry.name, v.slot), v)
            if other is not v:
                phones.add(
                    ("phones", v.index, "slot"),
                    f"{v.slot} on base {base.entry.name!r} is already {phones.phone(other.index)}'s, line "
                    f"{phones.line(('phones', other.index, 'slot'))}: give each handset of a base its own slot",
                )
        if venues and v.extension is not None:
            _one_venue(phones, base.entry.name, v, venue_of(v.extension, venues), venue_by_base)
    for v, base in missing_slot:
        assert base.entry is not None
        lines = BASE_MODELS[base.entry.model].lines
        free = next((n for n in range(1, lines + 1) if (base.entry.name, n) not in slots), None)
        fix = (
            f"add slot: {free} (the first free one)"
            if free
            else f"the base's {lines} slots are taken: choose another base"
        )
        phones.add(
            ("phones", v.index, "base"),
            f"a handset needs a slot, its account on the base (1 to {lines}; the handset subscribes with it as "
            f"access code): {fix}",
            key=True,
        )


def _base_of(dect: SourceFile | None, bases: dict[str, BaseView], phones: SourceFile, v: PhoneView) -> BaseView | None:
    """The base a handset names, if it is one that holds accounts (else the problem is reported)."""
    assert v.base is not None
    where = ("phones", v.index, "base")
    if dect is None:
        phones.add(where, f"{v.base!r} is no base: the event has no {DECT_FILE}: declare the base there (docs/dect.md)")
        return None
    base = bases.get(v.base.lower())
    if base is None:
        phones.add(where, f"{v.base!r} is no base of {DECT_FILE}{_hint(v.base, bases)}")
        return None
    if base.entry is not None and base.entry.primary is not None:
        primary = base.entry.primary
        phones.add(
            where,
            f"{v.base!r} is a secondary of {primary!r} in a multicell system, and the primary holds every "
            f"handset's account (the handset roams over all its bases): write base: {primary}",
        )
        return None
    return base


def _one_venue(
    phones: SourceFile,
    base: str,
    v: PhoneView,
    venue: str | None,
    seen: dict[str, tuple[str | None, PhoneView]],
) -> None:
    """A base's handsets are of one venue: its PBX serves them all."""
    first_venue, first = seen.setdefault(base, (venue, v))
    if first is not v and venue != first_venue:
        phones.add(
            ("phones", v.index, "extension"),
            f"{v.extension!r} is of venue {venue}, but base {base!r} serves {phones.phone(first.index)} of venue "
            f"{first_venue}: a base registers with one venue's PBX: give its handsets numbers of one venue",
        )
