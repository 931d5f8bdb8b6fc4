"""The rules across phone entries (unique names, extensions and MACs; no test number taken)
and the rules on one entry's fields together (reserved names, mac with model, passwords)."""

from __future__ import annotations

from roles.shared.names import RESERVED_NAMES, RESERVED_PREFIX

from .entries import PhoneView
from .model import MIN_PASSWORD_LENGTH, TestNumbers
from .sources import EVENT_FILE, SourceFile
from .strength import weakness
from .strength_record import StrengthRecord

DERIVE_HINT = "delete the password line, and televoc derives a strong one from the event secret"


def check_phones(
    event_file: SourceFile,
    phones: SourceFile,
    views: list[PhoneView],
    numbers: TestNumbers | None,
    event_name: str | None,
    record: StrengthRecord | None = None,
) -> None:
    """Every rule across `views` and on one entry's fields together; `numbers`: the event's
    test numbers (None when they cannot be read), `event_name` (None: not known), `record`:
    the passwords judged strong before (None: judge every one)."""
    names: dict[str, int] = {}
    extensions: dict[str, int] = {}
    macs: dict[str, int] = {}
    tests = {numbers.hello_world: "hello_world", numbers.echo: "echo"} if numbers is not None else {}
    by_index = {v.index: v for v in views}

    def where_test(test: str) -> str:
        line = event_file.line(("test_numbers", test), exact=True)
        return f"{EVENT_FILE} line {line}" if line else "televoc's default"

    def used_by(j: int) -> str:
        return f"phone {j + 1} ({by_index[j].name})" if by_index[j].name else f"phone {j + 1}"

    for v in views:
        i = v.index
        if v.name is not None:
            lower = v.name.lower()
            if v.name in RESERVED_NAMES or lower.startswith(RESERVED_PREFIX):
                phones.add(
                    ("phones", i, "name"), f"{v.name!r} is reserved for televoc's own config: choose another name"
                )
            if lower in names:
                j = names[lower]
                phones.add(
                    ("phones", i, "name"),
                    f"{v.name!r} is already used by {used_by(j)}, line {phones.line(('phones', j, 'name'))}"
                    f"{' (names are compared ignoring case)' if by_index[j].name != v.name else ''}: "
                    "give each phone its own name",
                )
            else:
                names[lower] = i
        if v.extension is not None:
            if v.extension in tests:
                test = tests[v.extension]
                phones.add(
                    ("phones", i, "extension"),
                    f"{v.extension!r} is the {test} test number ({where_test(test)}): choose another "
                    f"extension, or another {test} number under test_numbers in {EVENT_FILE}",
                )
            elif v.extension in extensions:
                j = extensions[v.extension]
                phones.add(
                    ("phones", i, "extension"),
                    f"{v.extension!r} is already used by {used_by(j)}, line "
                    f"{phones.line(('phones', j, 'extension'))}: give each phone its own extension",
                )
            else:
                extensions[v.extension] = i
        if v.mac is not None:
            if v.mac in macs:
                j = macs[v.mac]
                phones.add(
                    ("phones", i, "mac"),
                    f"is already used by {used_by(j)}, line {phones.line(('phones', j, 'mac'))}: "
                    "each phone has its own MAC (it is on the label under the phone)",
                )
            else:
                macs[v.mac] = i
        if v.entry is not None and (v.mac is None) != (v.model is None):
            have, lack = ("mac", "model") if v.mac is not None else ("model", "mac")
            phones.add(
                ("phones", i, have),
                f"a phone televoc provisions needs both mac and model, and this one has no {lack}: "
                f"add {lack}, or delete {have} for a phone you set up by hand",
            )
        if v.password is not None:
            check_password(phones, v, event_name, record)


def check_password(
    phones: SourceFile, v: PhoneView, event_name: str | None, record: StrengthRecord | None = None
) -> None:
    """A password the crew wrote: long enough, not the phone's name or extension, hard to
    guess (strength.py; not asked again when `record` knows it was judged strong with the
    same inputs: strength_record.py)."""
    path = ("phones", v.index, "password")
    password = v.password
    if password is None:
        return
    if len(password) < MIN_PASSWORD_LENGTH:
        phones.add(
            path,
            f"has {len(password)} characters, but a password needs at least {MIN_PASSWORD_LENGTH}: "
            f"{DERIVE_HINT} (or write a longer one)",
        )
        return
    for what, value in (("name", v.name), ("extension", v.extension)):
        if value is not None and password.lower() == value.lower():
            phones.add(path, f"is the phone's {what}, which anybody can guess: {DERIVE_HINT}")
            return
    inputs = [u for u in (v.name, v.extension, v.display_name, event_name) if u]
    if record is not None and record.known(password, inputs):
        return
    reason = weakness(password, inputs)
    if reason:
        phones.add(path, f"is too easy to guess: {reason}: {DERIVE_HINT}")
    elif record is not None:
        record.add(password, inputs)
