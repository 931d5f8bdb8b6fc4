"""Each entry of phones.yml and groups.yml validated on its own, so that one bad entry hides
no other problem, and a view of every entry for the rules across entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from pydantic import TypeAdapter, ValidationError

from . import yamlload
from .messages import shown
from .model import GroupEntry, PhoneEntry, TestNumbers, normalize_mac
from .sources import GROUPS_FILE, PHONES_FILE, SourceFile


@dataclass(slots=True)
class PhoneView:
    """One phone entry as the rules across entries see it: its fields that passed on their
    own (None for the others), and the whole entry when it is valid."""

    index: int  # in phones.yml's list, from 0
    name: Optional[str]
    extension: Optional[str]
    display_name: Optional[str]
    password: Optional[str]
    mac: Optional[str]
    model: Optional[str]
    entry: Optional[PhoneEntry]  # None when the entry has problems of its own

    @classmethod
    def of(cls, index: int, phone: PhoneEntry) -> "PhoneView":
        return cls(index, phone.name, phone.extension, phone.display_name, phone.password, phone.mac, phone.model,
                   phone)

    @classmethod
    def partial(cls, index: int, data: dict, bad: set) -> "PhoneView":
        """The fields of an entry with problems that are fine on their own."""
        values: dict[str, Optional[str]] = {}
        for key in ("name", "extension", "display_name", "password", "mac", "model"):
            value = data.get(key)
            if key in bad or value is yamlload.REFUSED:
                value = None
            if key == "extension" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if key == "mac" and isinstance(value, str):
                value = normalize_mac(value)
            values[key] = value if isinstance(value, str) else None
        return cls(index, entry=None, **values)


@dataclass(slots=True)
class GroupView:
    """One group entry as the rules across entries see it (see PhoneView)."""

    index: int  # in groups.yml's list, from 0
    name: Optional[str]
    number: Optional[str]
    entry: Optional[GroupEntry]  # None when the entry has problems of its own

    @classmethod
    def partial(cls, index: int, data: dict, bad: set) -> "GroupView":
        def plain(key: str) -> Optional[str]:
            value = data.get(key)
            if key in bad or isinstance(value, bool) or not isinstance(value, (str, int)):
                return None
            return str(value)

        return cls(index, plain("name"), plain("number"), None)


_PHONE_ENTRIES = TypeAdapter(list[PhoneEntry])
_GROUP_ENTRIES = TypeAdapter(list[GroupEntry])


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
            phones.add(("phones",), f"is {what}, but it must list the phones, one '- name: ...' entry each "
                       "(see docs/event.md)")
        elif "phones" not in data:
            phones.add_at(1, "'phones:' is missing: list the phones under it, one '- name: ...' entry each")
        return []
    try:  # the common case, every entry valid: one call for all (faster than one each)
        return [PhoneView.of(i, phone) for i, phone in enumerate(_PHONE_ENTRIES.validate_python(entries))]
    except ValidationError:
        pass
    views = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            if entry is not yamlload.REFUSED:
                phones.add(
                    ("phones", i),
                    f"is {shown(entry)}, but a phone is a mapping of keys: write '- name: ...' and "
                    "its other keys (extension, ...) indented below",
                )
            continue
        phone, bad = phones.validate(PhoneEntry, entry, prefix=("phones", i))
        views.append(PhoneView.partial(i, entry, bad) if phone is None else PhoneView.of(i, phone))
    return views


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
    try:
        return [GroupView(i, g.name, g.number, g) for i, g in enumerate(_GROUP_ENTRIES.validate_python(entries))]
    except ValidationError:
        pass
    views = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            if entry is not yamlload.REFUSED:
                groups.add(("groups", i), f"is {shown(entry)}, but a group is a mapping of keys: write '- name: ...' "
                           "and its other keys (number, members, ...) indented below")
            continue
        group, bad = groups.validate(GroupEntry, entry, prefix=("groups", i))
        views.append(GroupView.partial(i, entry, bad) if group is None else GroupView(i, group.name, group.number, group))
    return views


def test_numbers_of(event_data: Any) -> Optional[TestNumbers]:
    """The test numbers of an event.yml that has problems elsewhere (to check the phones'
    extensions against them all the same), or None if they have problems too."""
    if not isinstance(event_data, dict):
        return None
    try:
        return TestNumbers.model_validate(event_data.get("test_numbers") or {})
    except ValidationError:
        return None
