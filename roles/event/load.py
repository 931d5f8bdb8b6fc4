"""Load an event directory (event.yml + phones.yml) into a validated `Directory`.

Every problem found is collected and reported together, one line each, in the form
`<file>:<line>: <entry>: <field>: <the rule in words>: <the fix>`, e.g.

    group_data/event/phones.yml:8: phone 2 (saal2): extension: '1001' is already used by phone 1 (saal1), line 4: give each phone its own extension

Entries are counted from 1 and named. The YAML is read strictly (yamlload.py): a value YAML 1.1
would read as something else than its text is refused, with the hint to quote it. Nothing here
touches the network.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import shlex
import stat
from pathlib import Path
from typing import Any, Optional

from pydantic import TypeAdapter, ValidationError

from . import yamlload
from .messages import explain, shown
from .model import (
    MIN_PASSWORD_LENGTH,
    RESERVED_NAMES,
    RESERVED_PREFIX,
    Account,
    Directory,
    Event,
    Group,
    TrunkAccount,
    PhoneEntry,
    TestNumbers,
    normalize_mac,
)
from roles.templating import gc_paused

from .checks import GROUPS_FILE, check_routing, check_trunk, check_venues, validate_groups
from .strength import weakness

EVENT_FILE = "event.yml"
PHONES_FILE = "phones.yml"
SECRET_ENV = "TELEVOC_SECRET_FILE"
MIN_SECRET_LENGTH = 32
GROUPS_ORDER = 2  # groups.yml (optional)
SECRET_ORDER = 3  # the secret's problems come after those of event.yml (0), phones.yml (1), groups.yml
DERIVE_HINT = "delete the password line, and televoc derives a strong one from the event secret"


class EventError(Exception):
    """The event directory cannot be deployed; `problems` lists every reason, one line each."""

    def __init__(self, problems: list[str], directory: Optional[str] = None):
        self.problems = problems
        self.directory = directory
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        where = f"the event directory {directory}" if directory else "the event directory"
        lines = "\n".join(f"  - {p}" for p in problems)
        # This is what pyinfra shows (group_data/all.py raises it as an InventoryError).
        super().__init__(f"{where} has {count}; nothing was deployed:\n{lines}")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _Report:
    """Problems of the whole directory, in file order and line order when listed."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, int, str]] = []

    def add(self, order: int, line: Optional[int], text: str) -> None:
        self._items.append((order, line or 0, len(self._items), text))

    def __bool__(self) -> bool:
        return bool(self._items)

    def problems(self) -> list[str]:
        return [text for *_, text in sorted(self._items)]


class _File:
    """One YAML file of the directory: reads it strictly and words its problems."""

    def __init__(self, path: Path, order: int, report: _Report):
        self.path, self.order, self.report = path, order, report
        self.name = _display(path)
        self.doc: Optional[yamlload.Document] = None

    @property
    def data(self) -> Any:
        return None if self.doc is None else self.doc.data

    def read(self) -> Any:
        """The file's values (a mapping), or None with the problem reported."""
        if not self.path.is_file():
            self.report.add(self.order, None, f"{self.name}: the file is missing: create it (see README, 'Describe an event')")
            return None
        raw = self.path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            self.add_at(line, f"is not UTF-8 text (byte 0x{raw[e.start]:02x}): save it as UTF-8")
            return None
        try:
            self.doc = yamlload.load(text)
        except yamlload.YamlSyntaxError as e:
            lines = text.splitlines()
            hint = "fix the syntax there"
            if e.line is not None and 0 < e.line <= len(lines) and "\t" in lines[e.line - 1]:
                hint = "indent with spaces, not tabs"
            column = f" (column {e.column})" if e.column else ""
            self.add_at(e.line, f"malformed YAML{column}: {e.problem}: {hint}")
            return None
        for problem in self.doc.problems:
            self.add(problem.path, problem.text, line=problem.line)
        if not isinstance(self.doc.data, dict):
            what = "is empty" if self.doc.data is None else f"holds {shown(self.doc.data)}"
            self.add_at(1, f"{what}, but it must be a mapping of keys (see README, 'Describe an event')")
            return None
        return self.doc.data

    def add_at(self, line: Optional[int], text: str) -> None:
        where = f"{self.name}:{line}" if line else self.name
        self.report.add(self.order, line, f"{where}: {text}")

    def label(self, path: tuple) -> tuple[Optional[str], Optional[str]]:
        """(entry, field) for a path into this file's data: ('phone 3 (saal2)', 'extension'),
        ('sip', 'port'), (None, 'name')."""
        if len(path) >= 2 and path[0] in ("phones", "groups") and isinstance(path[1], int):
            parts: list[str] = []
            for p in path[2:]:  # list items 1-based: 'members 3.name'
                if isinstance(p, int) and parts:
                    parts[-1] = f"{parts[-1]} {p + 1}"
                else:
                    parts.append(str(p))
            return self.entry(path[0], path[1]), ".".join(parts) or None
        if not path:
            return None, None
        parts = []
        for p in path:  # list items 1-based: ('trunk', 'dial_out', 0) -> trunk: dial_out 1
            if isinstance(p, int) and parts:
                parts[-1] = f"{parts[-1]} {p + 1}"
            else:
                parts.append(str(p))
        return (".".join(parts[:-1]) or None), parts[-1]

    def phone(self, index: int) -> str:
        """'phone 3 (saal2)': 1-based, with its name when it has one."""
        return self.entry("phones", index)

    def entry(self, key: str, index: int) -> str:
        """'phone 3 (saal2)', 'group 1 (infodesk)': 1-based, with its name when it has one."""
        entries = self.data.get(key) if isinstance(self.data, dict) else None
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        what = key[:-1]
        return f"{what} {index + 1} ({name})" if isinstance(name, str) and name else f"{what} {index + 1}"

    def line(self, path: tuple, key: bool = False, exact: bool = False) -> Optional[int]:
        """The line of the value at `path` (or of its key); if it is not in the file, the line
        of the nearest value that holds it, or None when `exact`."""
        if self.doc is None:
            return None
        if exact and self.doc.node(path, exact=True) is None:
            return None
        return self.doc.key_line(path) if key else self.doc.line(path)

    def add(self, path: tuple, text: str, line: Optional[int] = None, key: bool = False) -> None:
        """Report `text` about the value at `path`: at `line`, or the line of the value (of its
        key when `key`); `line=0` for a value the file does not have."""
        if line is None:
            line = self.line(path, key)
        entry, field = self.label(path)
        parts = [f"{self.name}:{line}" if line else self.name]
        parts += [p for p in (entry, field) if p]
        self.report.add(self.order, line, ": ".join(parts + [text]))

    def validate(self, model: type, data: Any, prefix: tuple = ()) -> tuple[Any, set]:
        """(`model` from `data`, or None; the fields that had errors), every error reported in
        words. Errors about a value the YAML loader already refused are not repeated."""
        try:
            return model.model_validate(data), set()
        except ValidationError as e:
            bad = set()
            refused = self.doc.refused if self.doc is not None else set()
            for error in e.errors(include_url=False):
                loc = tuple(error["loc"])
                path = prefix + loc
                if loc:
                    bad.add(loc[0])
                if error["type"] != "extra_forbidden" and refused and any(
                    path[:n] in refused for n in range(1, len(path) + 1)
                ):
                    continue
                source = self.doc.source(path) if self.doc is not None else None
                text = explain(error, model, source)
                self.add(path, text, key=error["type"] == "extra_forbidden")
            return None, bad


def secret_path(event: Event, directory: Path) -> Path:
    """Where the event secret lives: $TELEVOC_SECRET_FILE, event.yml's secret_file, or
    ~/.config/televoc/<event>.secret. Keep it out of git."""
    if os.environ.get(SECRET_ENV):
        return Path(os.environ[SECRET_ENV]).expanduser()
    if event.secret_file:
        return (directory / Path(event.secret_file).expanduser()).resolve()
    return Path.home() / ".config" / "televoc" / f"{event.name}.secret"


TRUNK_SECRET_ENV = "TELEVOC_TRUNK_SECRET_FILE"


def trunk_secret_path(event: Event, directory: Path) -> Path:
    """Where the trunk's password lives: $TELEVOC_TRUNK_SECRET_FILE, trunk.secret_file, or
    ~/.config/televoc/<event>.trunk.secret. Keep it out of git, like the event secret."""
    if os.environ.get(TRUNK_SECRET_ENV):
        return Path(os.environ[TRUNK_SECRET_ENV]).expanduser()
    if event.trunk is not None and event.trunk.secret_file:
        return (directory / Path(event.trunk.secret_file).expanduser()).resolve()
    return Path.home() / ".config" / "televoc" / f"{event.name}.trunk.secret"


def _read_trunk_password(path: Path, directory: Path, report: "_Report") -> Optional[str]:
    """The trunk's password (the file's first line), or None with its problems reported."""
    create = f"write it: python -m roles.event trunk-password --event {shlex.quote(_display(directory))}"
    if not path.is_file():
        report.add(SECRET_ORDER, None, f"{path}: the trunk's password file is missing, but event.yml has a trunk: {create}")
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        report.add(SECRET_ORDER, None, f"{path}: the trunk's password file is open to others (mode {mode:04o}): "
                   f"chmod 600 {shlex.quote(str(path))}")
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    password = lines[0].strip() if lines else ""
    if not password or re.search(r"[;\\\s\x00-\x1f\"']", password):
        report.add(SECRET_ORDER, None, f"{path}: the trunk's password is empty or has a space, quote, ';' or '\\' "
                   f"(Asterisk's config syntax): {create}")
        return None
    return password


def create_secret(path: Path) -> bool:
    """Write a new random event secret (mode 0600); False if one is already there."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    return True


# Base32 (RFC 4648, lower case), 10 bits at a time: two characters per lookup.
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_BASE32_PAIRS = [a + b for a in _BASE32 for b in _BASE32]


def derive_password(secret: str, event_name: str, phone_name: str) -> str:
    """A strong SIP password that stays the same on every run for the same secret: the first
    24 base32 characters (120 bits) of HMAC-SHA256(secret, "televoc/sip-password/<event>/<phone>").

    The standard library's HMAC, keyed once per secret and copied per phone (10,000
    provisioned phones derive 20,000 passwords); base32 of the first 15 bytes, 10 bits at a
    time. tests/unit/test_event_directory.py checks it against hmac.new and b32encode."""
    mac = _keyed(secret).copy()
    mac.update(f"televoc/sip-password/{event_name}/{phone_name}".encode())
    n = int.from_bytes(mac.digest()[:15], "big")
    p = _BASE32_PAIRS
    return (
        p[n >> 110] + p[n >> 100 & 1023] + p[n >> 90 & 1023] + p[n >> 80 & 1023]
        + p[n >> 70 & 1023] + p[n >> 60 & 1023] + p[n >> 50 & 1023] + p[n >> 40 & 1023]
        + p[n >> 30 & 1023] + p[n >> 20 & 1023] + p[n >> 10 & 1023] + p[n & 1023]
    )


@functools.lru_cache(maxsize=4)
def _keyed(secret: str):
    """An HMAC-SHA256 object keyed with the event secret, to be copied for each message."""
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def new_secret_command(directory: Path) -> str:
    return f"python -m roles.event new-secret --event {shlex.quote(_display(directory))}"


def _read_secret(path: Path, directory: Path, why: str, report: _Report) -> Optional[str]:
    """The event secret, or None with its problems reported (`why` says who needs it)."""
    shown_path = shlex.quote(str(path))
    create = f"create it: {new_secret_command(directory)}"
    if not path.is_file():
        report.add(SECRET_ORDER, None, f"{path}: the event secret is missing, but {why}: {create}")
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        report.add(SECRET_ORDER, None, f"{path}: the event secret cannot be read ({e}): delete it (rm {shown_path}) and {create}")
        return None
    problems = False
    # Refused like ssh refuses a private key others can read: whoever reads it has every
    # derived password of the event.
    if mode & 0o077:
        who = " and ".join(w for w, bits in (("its group", 0o070), ("others", 0o007)) if mode & bits)
        report.add(
            SECRET_ORDER, None,
            f"{path}: the event secret is open to {who} (mode {mode:04o}), and like an ssh private "
            f"key it must be private to its owner: chmod 600 {shown_path}",
        )
        problems = True
    if len(value) < MIN_SECRET_LENGTH:
        report.add(
            SECRET_ORDER, None,
            f"{path}: the event secret has {len(value)} characters, fewer than {MIN_SECRET_LENGTH}: "
            f"delete it (rm {shown_path}) and {create}",
        )
        problems = True
    return None if problems else value


class _Fields:
    """The fields of a phone entry that failed validation which passed on their own (None for
    the others): what the cross-entry checks need of it."""

    def __init__(self, entry: dict, bad: set):
        self.name = self.extension = self.display_name = self.password = self.mac = self.model = None
        for key in ("name", "extension", "display_name", "password", "mac", "model"):
            value = entry.get(key)
            if key in bad or value is yamlload.REFUSED:
                continue
            if key == "extension" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if key == "mac" and isinstance(value, str):
                value = normalize_mac(value)
            if isinstance(value, str):
                setattr(self, key, value)


_PHONE_ENTRIES = TypeAdapter(list[PhoneEntry])

# A view of one phone entry for the cross-entry checks: (index, the entry, valid?). The entry
# is its PhoneEntry when valid, else its _Fields.
View = tuple


def _validate_phones(phones: _File) -> tuple[list[View], list[tuple[int, PhoneEntry]]]:
    """Each entry on its own, so that one bad entry hides no other problem. Returns a view of
    every entry (for the cross-entry checks) and the valid ones."""
    data = phones.data
    entries = data.get("phones")
    for key in data:
        if key != "phones":
            phones.add((key,), f"unknown key: {PHONES_FILE} takes only 'phones' (did you mean 'phones'?)", key=True)
    if not isinstance(entries, list) or not entries:
        if "phones" in data and entries is not yamlload.REFUSED:
            what = "an empty list" if entries == [] else shown(entries)
            phones.add(("phones",), f"is {what}, but it must list the phones, one '- name: ...' entry each (see README, 'Describe an event')")
        elif "phones" not in data:
            phones.add_at(1, "'phones:' is missing: list the phones under it, one '- name: ...' entry each")
        return [], []
    try:  # the common case, every entry valid: one call for all (faster than one each)
        models = _PHONE_ENTRIES.validate_python(entries)
    except ValidationError:
        pass
    else:
        valid = list(enumerate(models))
        return [(i, phone, True) for i, phone in valid], valid
    views: list[View] = []
    valid = []
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
        if phone is None:
            views.append((i, _Fields(entry, bad), False))
        else:
            views.append((i, phone, True))
            valid.append((i, phone))
    return views, valid


def _check_phones(event: Optional[Event], event_file: _File, phones: _File, views: list[View]) -> None:
    """Rules across entries (unique names, extensions and MACs; test numbers) and rules on one
    entry's fields together (reserved names, mac with model, passwords)."""
    names: dict[str, int] = {}
    extensions: dict[str, int] = {}
    macs: dict[str, int] = {}
    numbers = event.test_numbers if event is not None else _test_numbers(event_file.data)
    tests = {}
    if numbers is not None:
        tests = {numbers.hello_world: "hello_world", numbers.echo: "echo"}
    event_name = event.name if event is not None else (
        event_file.data.get("name") if isinstance(event_file.data, dict) else None
    )

    views_by_index = {i: v for i, v, _ in views}

    def where_test(test: str) -> str:
        line = event_file.line(("test_numbers", test), exact=True)
        return f"{EVENT_FILE} line {line}" if line else "televoc's default"

    def used_by(j: int) -> str:
        return f"phone {j + 1} ({views_by_index[j].name})" if views_by_index[j].name else f"phone {j + 1}"

    for i, v, valid in views:
        if v.name is not None:
            lower = v.name.lower()
            if v.name in RESERVED_NAMES or lower.startswith(RESERVED_PREFIX):
                phones.add(("phones", i, "name"), f"{v.name!r} is reserved for televoc's own config: choose another name")
            if lower in names:
                j = names[lower]
                phones.add(
                    ("phones", i, "name"),
                    f"{v.name!r} is already used by {used_by(j)}, line {phones.line(('phones', j, 'name'))}"
                    f"{' (names are compared ignoring case)' if views_by_index[j].name != v.name else ''}: "
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
        if valid and (v.mac is None) != (v.model is None):
            have, lack = ("mac", "model") if v.mac is not None else ("model", "mac")
            phones.add(
                ("phones", i, have),
                f"a phone televoc provisions needs both mac and model, and this one has no {lack}: "
                f"add {lack}, or delete {have} for a phone you set up by hand",
            )
        if v.password is not None:
            _check_password(phones, i, v, event_name)


def _test_numbers(event_data: Any) -> Optional[TestNumbers]:
    """The test numbers of an event.yml that has problems elsewhere (to check the phones'
    extensions against them all the same), or None if they have problems too."""
    if not isinstance(event_data, dict):
        return None
    try:
        return TestNumbers.model_validate(event_data.get("test_numbers") or {})
    except ValidationError:
        return None


def _check_password(phones: _File, index: int, v: Any, event_name: Any) -> None:
    path = ("phones", index, "password")
    password = v.password
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
    user_inputs = [v.name, v.extension, v.display_name, event_name if isinstance(event_name, str) else None]
    reason = weakness(password, [u for u in user_inputs if u])
    if reason:
        phones.add(path, f"is too easy to guess: {reason}: {DERIVE_HINT}")


def _check_event(event: Event, event_file: _File) -> None:
    if event.test_numbers.hello_world == event.test_numbers.echo:
        line = event_file.line(("test_numbers", "hello_world"), exact=True)
        event_file.add(
            ("test_numbers", "echo"),
            f"{event.test_numbers.echo!r} is also the hello_world number "
            f"({f'line {line}' if line else 'its default'}): the two test numbers must differ: change one",
        )
    if event.sip.rtp_start >= event.sip.rtp_end:
        event_file.add(
            ("sip", "rtp_end"),
            f"{event.sip.rtp_end} is not above rtp_start ({event.sip.rtp_start}): the RTP port range "
            "runs from rtp_start up to rtp_end: make rtp_end the larger one",
        )


def load_event(directory: Path | str) -> Event:
    """Only event.yml, validated (for `new-secret`); EventError listing its problems."""
    directory = Path(directory)
    report = _Report()
    event_file = _File(directory / EVENT_FILE, 0, report)
    data = event_file.read()
    event = event_file.validate(Event, data)[0] if data is not None else None
    if event is None or report:
        raise EventError(report.problems(), _display(directory))
    return event


def load_directory(directory: Path | str) -> Directory:
    """Read, validate and settle an event directory; raise EventError listing every problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise EventError(
            [f"{directory}: event directory not found: set TELEVOC_EVENT_DIR or create it "
             "(see README, 'Describe an event')"],
            str(directory),
        )
    with gc_paused():
        return _load(directory)


def _load(directory: Path) -> Directory:
    report = _Report()
    event_file = _File(directory / EVENT_FILE, 0, report)
    phones_file = _File(directory / PHONES_FILE, 1, report)
    event_data = event_file.read()
    phones_data = phones_file.read()
    event = event_file.validate(Event, event_data)[0] if event_data is not None else None
    views, phones = _validate_phones(phones_file) if phones_data is not None else ([], [])
    if event is not None:
        _check_event(event, event_file)
    _check_phones(event, event_file, phones_file, views)
    groups_file = _File(directory / GROUPS_FILE, GROUPS_ORDER, report)
    group_views = []
    if groups_file.path.exists() and groups_file.read() is not None:
        group_views = validate_groups(groups_file)
    numbers = event.test_numbers if event is not None else _test_numbers(event_data)
    tests = {numbers.hello_world: "hello_world", numbers.echo: "echo"} if numbers is not None else {}
    nodes = check_routing(
        event, event.ring_timeout if event is not None else 20, event.pickup_code if event is not None else None,
        tests, phones_file, views, groups_file, group_views,
    )
    if event is not None:
        check_venues(event, event_file, phones_file, views, groups_file, group_views, nodes)
    trunk_password = None
    if event is not None and event.trunk is not None:
        check_trunk(event.trunk, event_file, phones_file, views, groups_file, group_views, tests, event.pickup_code)
        trunk_password = _read_trunk_password(trunk_secret_path(event, directory), directory, report)

    provisioned = [i for i, v, _ in views if v.mac is not None]
    if event is not None and provisioned and event.pbx_address is None:
        first = provisioned[0]
        event_file.add(
            ("pbx_address",),
            f"{phones_file.phone(first)} has a mac ({PHONES_FILE} line "
            f"{phones_file.line(('phones', first, 'mac'))}), so pbx_address is required, "
            "the address provisioned phones reach the PBX at: add it, e.g. pbx_address: 10.23.0.2",
            line=0,
        )
    secret = None
    if event is not None and phones_data is not None:
        # phones whose SIP password is derived: none given (a bad one given is reported above)
        entries = phones_data.get("phones")
        derived = [i for i, v, valid in views if v.password is None and (valid or entries[i].get("password") is None)]
        if derived or provisioned or event.venues:
            if event.venues and not (derived or provisioned):
                why = "the venues' PBXes authenticate each other with a password derived from it"
            elif derived:
                first = phones_file.phone(derived[0])
                more = f" and {len(derived) - 1} more" if len(derived) > 1 else ""
                why = f"{first}{more} {'have' if more else 'has'} no password, which is derived from it"
            else:
                why = f"{phones_file.phone(provisioned[0])} is provisioned, and its web password is derived from it"
            secret = _read_secret(secret_path(event, directory), directory, why, report)
    if report or event is None or phones_data is None:
        raise EventError(report.problems(), _display(directory))

    name = event.name
    accounts = _ACCOUNTS.validate_python([
        {
            "name": p.name,
            "extension": p.extension,
            "display_name": p.display_name or p.name,
            "password": p.password or derive_password(secret, name, p.name),
            "contact": p.contact,
            "mac": p.mac,
            "model": p.model,
            "ringer": p.ringer,
            "group_ringer": p.group_ringer,
            "loud_from": tuple(p.loud_from),
            "loud_ringer": p.loud_ringer,
            "pickup": p.pickup,
            "forward": p.forward,
            "location": p.location,
            "in_directory": p.in_directory,
            "address": p.address,
            "web_password_before": p.web_password_before,
            "event_web_password": derive_password(secret, name, f"web/{p.name}") if p.mac else None,
        }
        for _, p in phones
    ])
    groups = tuple(
        Group.model_construct(  # every value validated above (GroupEntry)
            name=g.name, number=g.number, display_name=g.display_name or g.name,
            short=g.short or (g.display_name or g.name)[:12].strip(), timeout=g.timeout or event.ring_timeout,
            members=tuple(g.members), forward=g.forward, location=g.location, in_directory=g.in_directory,
        )
        for _, g, _ in group_views
    )
    trunk = None
    if event.trunk is not None:
        from .routing import callers

        trunk = TrunkAccount(trunk=event.trunk, password=trunk_password,
                             callers=callers(accounts, groups, event.trunk.dial_out))
    peer_passwords = ()
    if event.venues:
        from .venues import peer_key

        names = list(event.venues)
        peer_passwords = tuple(
            (peer_key(a, b), derive_password(secret, name, peer_key(a, b)))
            for i, a in enumerate(names) for b in names[i + 1:]
        )
    return Directory(event=event, accounts=accounts, groups=groups, trunk=trunk, peer_passwords=peer_passwords)


# All accounts in one call (for 10,000 phones, faster than one call each).
_ACCOUNTS = TypeAdapter(tuple[Account, ...])

