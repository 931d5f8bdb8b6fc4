"""Each entry of phones.yml and groups.yml validated on its own, so that one bad entry hides
no other problem, and a view of every entry for the rules across entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import yamlload
from .messages import shown
from .model import BaseEntry, GroupEntry, PhoneEntry, TestNumbers, normalize_mac
from .sources import DECT_FILE, GROUPS_FILE, PHONES_FILE, SourceFile


@dataclass(slots=True)
class PhoneView:
    """One phone entry as the rules across entries see it: its fields that passed on their
    own (None for the others), and the whole entry when it is valid."""

    index: int  # in phones.yml's list, from 0
    name: str | None
    extension: str | None
    display_name: str | None
    password: str | None
    mac: str | None
    model: str | None
    entry: PhoneEntry | None  # None when the entry has problems of its own
    base: str | None = None  # a DECT handset: its base, slot and IPEI (those fine on their own)
    slot: int | None = None
    ipei: str | None = None

    @classmethod
    def of(cls, index: int, phone: PhoneEntry) -> PhoneView:
        return cls(
            index,
            phone.name,
            phone.extension,
            phone.display_name,
            phone.password,
            phone.mac,
            phone.model,
            phone,
            phone.base,
            phone.slot,
            phone.ipei,
        )

    @classmethod
    def partial(cls, index: int, data: dict, bad: set) -> PhoneView:
        """The fields of an entry with problems that are fine on their own."""
        values: dict[str, str | None] = {}
        for key in ("name", "extension", "display_name", "password", "mac", "model"):
            value = data.get(key)
            if key in bad or value is yamlload.REFUSED:
                value = None
            if key == "extension" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if key == "mac" and isinstance(value, str):
                value = normalize_mac(value)
            values[key] = value if isinstance(value, str) else None
        base, ipei = (data.get(k) if k not in bad and isinstance(data.get(k), str) else None for k in ("base", "ipei"))
        slot = data.get("slot") if "slot" not in bad else None
        slot = slot if isinstance(slot, int) and not isinstance(slot, bool) else None
        return cls(index, entry=None, base=base, slot=slot, ipei=ipei, **values)


@dataclass(slots=True)
class GroupView:
    """One group entry as the rules across entries see it (see PhoneView)."""

    index: int  # in groups.yml's list, from 0
    name: str | None
    number: str | None
    entry: GroupEntry | None  # None when the entry has problems of its own

    @classmethod
    def of(cls, index: int, group: GroupEntry) -> GroupView:
        return cls(index, group.name, group.number, group)

    @classmethod
    def partial(cls, index: int, data: dict, bad: set) -> GroupView:
        def plain(key: str) -> str | None:
            value = data.get(key)
            if key in bad or isinstance(value, bool) or not isinstance(value, (str, int)):
                return None
            return str(value)

        return cls(index, plain("name"), plain("number"), None)


@dataclass(slots=True)
class BaseView:
    """One base entry of dect.yml as the rules across entries see it (see PhoneView)."""

    index: int  # in dect.yml's list, from 0
    name: str | None
    mac: str | None
    entry: BaseEntry | None  # None when the entry has problems of its own

    @classmethod
    def of(cls, index: int, base: BaseEntry) -> BaseView:
        return cls(index, base.name, base.mac, base)

    @classmethod
    def partial(cls, index: int, data: dict, bad: set) -> BaseView:
        name, mac = (data.get(k) if k not in bad and isinstance(data.get(k), str) else None for k in ("name", "mac"))
        return cls(index, name, normalize_mac(mac) if mac is not None else None, None)


# Every entry of a list in one call (for 10,000 phones, faster than one call each).
_ADAPTERS: dict[type[BaseModel], TypeAdapter] = {
    PhoneEntry: TypeAdapter(list[PhoneEntry]),
    GroupEntry: TypeAdapter(list[GroupEntry]),
    BaseEntry: TypeAdapter(list[BaseEntry]),
}


def validate_phones(phones: SourceFile) -> list[PhoneView]:
    """A view of every phone entry of `phones` (a mapping already read); each entry's own
    problems are reported."""
    data = phones.data
    entries = data.get("phones")
    for key in data:
        if key != "phones":
            phones.add((key,), f"unknown key: {PHONES_FILE} takes only 'phones' (did you mean 'phones'?)", key=True)
    if not isinstance(entries, list) or not entries:
        if "phones" in data and entries is not yamlload.REFUSED:
            what = "an empty list" if entries == [] else shown(entries)
            phones.add(
                ("phones",), f"is {what}, but it must list the phones, one '- name: ...' entry each (see docs/event.md)"
            )
        elif "phones" not in data:
            phones.add_at(1, "'phones:' is missing: list the phones under it, one '- name: ...' entry each")
        return []
    return _views(phones, "phones", entries, PhoneEntry, PhoneView, "a phone", "extension, ...")


def validate_groups(groups: SourceFile) -> list[GroupView]:
    """A view of every group entry of `groups` (a mapping already read); each entry's own
    problems are reported."""
    data = groups.data
    for key in data:
        if key != "groups":
            groups.add((key,), f"unknown key: {GROUPS_FILE} takes only 'groups'", key=True)
    entries = data.get("groups")
    if entries is None or entries is yamlload.REFUSED:
        if "groups" not in data:
            groups.add_at(1, "'groups:' is missing: list the groups under it, one '- name: ...' entry each")
        return []
    if not isinstance(entries, list):
        groups.add(("groups",), f"is {shown(entries)}, but it must list the groups, one '- name: ...' entry each")
        return []
    return _views(groups, "groups", entries, GroupEntry, GroupView, "a group", "number, members, ...")


def validate_bases(dect: SourceFile) -> list[BaseView]:
    """A view of every base entry of `dect` (dect.yml, a mapping already read); each entry's
    own problems are reported."""
    data = dect.data
    for key in data:
        if key != "bases":
            dect.add(
                (key,), f"unknown key: {DECT_FILE} takes only 'bases' (handsets are phones, in {PHONES_FILE})", key=True
            )
    entries = data.get("bases")
    if entries is None or entries is yamlload.REFUSED:
        if "bases" not in data:
            dect.add_at(1, "'bases:' is missing: list the base stations under it, one '- name: ...' entry each")
        return []
    if not isinstance(entries, list):
        dect.add(("bases",), f"is {shown(entries)}, but it must list the base stations, one '- name: ...' entry each")
        return []
    return _views(dect, "bases", entries, BaseEntry, BaseView, "a base", "model, mac, ...")


def _views(file: SourceFile, key: str, entries: list, model: type[BaseModel], view: Any, what: str, keys: str) -> list:
    """A view of each entry of the list under `key`; each entry's own problems reported."""
    try:  # the common case, every entry valid: one call for all (faster than one each)
        return [view.of(i, entry) for i, entry in enumerate(_ADAPTERS[model].validate_python(entries))]
    except ValidationError:
        pass
    views = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            if entry is not yamlload.REFUSED:
                file.add(
                    (key, i),
                    f"is {shown(entry)}, but {what} is a mapping of keys: write '- name: ...' and "
                    f"its other keys ({keys}) indented below",
                )
            continue
        valid, bad = file.validate(model, entry, prefix=(key, i))
        views.append(view.partial(i, entry, bad) if valid is None else view.of(i, valid))
    return views


def test_numbers_of(event_data: Any) -> TestNumbers | None:
    """The test numbers of an event.yml that has problems elsewhere (to check the phones'
    extensions against them all the same), or None if they have problems too."""
    if not isinstance(event_data, dict):
        return None
    try:
        return TestNumbers.model_validate(event_data.get("test_numbers") or {})
    except ValidationError:
        return None
