"""Load an event directory (event.yml + phones.yml) into a validated `Directory`.

Every problem found is collected and reported together, each line naming the file, the entry,
the field and the fix. Nothing here touches the network.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import os
import secrets
from base64 import b32encode
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import ValidationError

from .model import (
    MIN_PASSWORD_LENGTH,
    RENAMED_KEYS,
    RESERVED_NAMES,
    RESERVED_PREFIX,
    Account,
    Directory,
    Event,
    PhoneEntry,
)

EVENT_FILE = "event.yml"
PHONES_FILE = "phones.yml"
SECRET_ENV = "TELEVOC_SECRET_FILE"
MIN_SECRET_LENGTH = 32


class EventError(Exception):
    """The event directory cannot be deployed; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"the event directory has {len(problems)} problem(s); nothing was deployed:\n{lines}"
        )


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, problems: list[str]) -> Any:
    if not path.is_file():
        problems.append(f"{_display(path)}: file is missing; create it (see README, 'Describe an event')")
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        reason = getattr(e, "problem", None) or str(e)
        problems.append(f"{_display(path)}{where}: malformed YAML: {reason}; fix the syntax there")
        return None
    if not isinstance(data, dict):
        problems.append(f"{_display(path)}: expected a mapping of keys at the top level")
        return None
    return data


def _entry_label(loc: tuple, data: Any) -> str:
    """'phones[2] (saal2)' for a phone, 'sip' for a nested setting."""
    parts: list[str] = []
    node = data
    for i, key in enumerate(loc):
        if isinstance(key, int):
            parts[-1] = f"{parts[-1]}[{key}]"
            node = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(node, dict) and node.get("name") and i == 1:
                parts[-1] += f" ({node['name']})"
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)


def _explain(error: dict, model_fields: list[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = error["loc"][-1]
        if key in RENAMED_KEYS:
            return f"'{key}' is now called '{RENAMED_KEYS[key]}': rename it"
        close = difflib.get_close_matches(str(key), model_fields, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(model_fields)}"
        return f"unknown key '{key}': {hint}"
    if kind == "missing":
        return f"'{error['loc'][-1]}' is required: add it"
    if kind == "string_pattern_mismatch":
        return f"value {error['input']!r} does not match {error['ctx']['pattern']}"
    return f"{error['msg']} (got {error['input']!r})" if "input" in error else error["msg"]


def _fields_at(model: type, loc: tuple) -> list[str]:
    """The allowed keys of the model that holds the field at `loc`."""
    current = model
    for key in loc[:-1]:
        if isinstance(key, int):
            continue
        field = current.model_fields.get(key)
        if field is None:
            return []
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        for candidate in inner:
            if hasattr(candidate, "model_fields"):
                current = candidate
                break
        else:
            return []
    return list(current.model_fields)


def _validate(model: type, data: Any, path: Path, problems: list[str], prefix: tuple = (), root: Any = None):
    """`model` from `data`, or None with every error in `problems`. `prefix` and `root` place
    a part (one phone) inside its file, for the message."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        for error in e.errors():
            loc = prefix + tuple(error["loc"])
            label = _entry_label(loc[:-1], data if root is None else root) if len(loc) > 1 else ""
            field = "" if error["type"] in ("extra_forbidden", "missing") else f"{loc[-1]}: "
            where = f"{label}: " if label else ""
            message = _explain(error, _fields_at(model, tuple(error["loc"])))
            problems.append(f"{_display(path)}: {where}{field}{message}")
        return None


def secret_path(event: Event, directory: Path) -> Path:
    """Where the event secret lives: $TELEVOC_SECRET_FILE, event.yml's secret_file, or
    ~/.config/televoc/<event>.secret. Keep it out of git."""
    if os.environ.get(SECRET_ENV):
        return Path(os.environ[SECRET_ENV]).expanduser()
    if event.secret_file:
        return (directory / Path(event.secret_file).expanduser()).resolve()
    return Path.home() / ".config" / "televoc" / f"{event.name}.secret"


def create_secret(path: Path) -> bool:
    """Write a new random event secret (mode 0600); False if one is already there."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    return True


def derive_password(secret: str, event_name: str, phone_name: str) -> str:
    """A strong SIP password that stays the same on every run for the same secret."""
    message = f"televoc/sip-password/{event_name}/{phone_name}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return b32encode(digest).decode().lower().rstrip("=")[:24]


def _read_secret(path: Path, problems: list[str]) -> Optional[str]:
    fix = f"create one with: python -m roles.event new-secret --event DIR (writes {path})"
    if not path.is_file():
        problems.append(
            f"event secret {path} is missing but a phone has no password or is provisioned "
            f"(its web password is derived): {fix}"
        )
        return None
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < MIN_SECRET_LENGTH:
        problems.append(
            f"event secret {path} is shorter than {MIN_SECRET_LENGTH} characters: "
            f"delete it and {fix}"
        )
        return None
    return value


def _identity(entry: Any) -> tuple[Optional[str], Optional[str]]:
    """Name and extension of a raw entry, even one that failed validation (for duplicates)."""
    if not isinstance(entry, dict):
        return None, None
    name, extension = entry.get("name"), entry.get("extension")
    return (
        str(name) if isinstance(name, (str, int)) else None,
        str(extension) if isinstance(extension, (str, int)) and not isinstance(extension, bool) else None,
    )


def _check_unique(event: Event, entries: list, path: Path, problems: list[str]) -> None:
    """Names and extensions must be unique and clear of the test numbers."""
    where = _display(path)
    names: dict[str, int] = {}
    extensions: dict[str, str] = {}
    tests = {event.test_numbers.hello_world: "hello_world", event.test_numbers.echo: "echo"}
    for i, entry in enumerate(entries):
        name, extension = _identity(entry)
        label = f"{where}: phones[{i}] ({name})"
        if name is not None:
            if name.lower() in names:
                problems.append(
                    f"{label}: name '{name}' is already used by phones[{names[name.lower()]}]: "
                    "give each phone its own name"
                )
            names.setdefault(name.lower(), i)
        if extension is None:
            continue
        if extension in tests:
            problems.append(
                f"{label}: extension '{extension}' is the {tests[extension]} test "
                "number: choose another extension or change test_numbers in event.yml"
            )
        elif extension in extensions:
            problems.append(
                f"{label}: extension '{extension}' is already used by "
                f"{extensions[extension]}: give each phone its own extension"
            )
        extensions.setdefault(extension, name or f"phones[{i}]")


def _check_phones(event: Event, phones: list[tuple[int, PhoneEntry]], path: Path, problems: list[str]) -> None:
    """Rules on single, valid phones: reserved names, MACs, password strength."""
    where = _display(path)
    macs: dict[str, str] = {}
    for i, phone in phones:
        label = f"{where}: phones[{i}] ({phone.name})"
        if phone.name in RESERVED_NAMES or phone.name.startswith(RESERVED_PREFIX):
            problems.append(f"{label}: name '{phone.name}' is reserved for televoc: choose another")
        if phone.mac and phone.mac in macs:
            problems.append(f"{label}: mac is already used by {macs[phone.mac]}")
        if phone.mac:
            macs.setdefault(phone.mac, phone.name)
        if (phone.mac is None) != (phone.model is None):
            problems.append(f"{label}: give both mac and model (for provisioning) or neither")
        if phone.password is not None:
            if len(phone.password) < MIN_PASSWORD_LENGTH:
                problems.append(
                    f"{label}: password is shorter than {MIN_PASSWORD_LENGTH} characters: use a "
                    "longer one, or remove it to derive a strong one from the event secret"
                )
            elif phone.password.lower() in (phone.name.lower(), phone.extension):
                problems.append(
                    f"{label}: password equals the phone's name or extension: use another, or "
                    "remove it to derive a strong one from the event secret"
                )
    event_file = _display(path.parent / EVENT_FILE)
    if event.test_numbers.hello_world == event.test_numbers.echo:
        problems.append(f"{event_file}: test_numbers: hello_world and echo must differ")
    if event.sip.rtp_start >= event.sip.rtp_end:
        problems.append(f"{event_file}: sip: rtp_start must be below rtp_end")


def _validate_phones(data: Any, path: Path, problems: list[str]) -> Optional[list[PhoneEntry]]:
    """Each entry on its own, so one bad entry does not hide the others' problems."""
    entries = data.get("phones")
    if not isinstance(entries, list) or not entries:
        extra = sorted(set(data) - {"phones"})
        hint = f" (found {', '.join(extra)}: did you mean 'phones'?)" if extra else ""
        problems.append(f"{_display(path)}: expected a non-empty list under 'phones'{hint}")
        return None
    if set(data) != {"phones"}:
        problems.append(f"{_display(path)}: unknown top-level key(s) {sorted(set(data) - {'phones'})}: only 'phones' is allowed")
    phones = []
    for i, entry in enumerate(entries):
        phone = _validate(PhoneEntry, entry, path, problems, prefix=("phones", i), root=data)
        if phone is not None:
            phones.append((i, phone))
    return phones


def load_directory(directory: Path | str) -> Directory:
    """Read, validate and settle an event directory; raise EventError listing every problem."""
    directory = Path(directory)
    problems: list[str] = []
    if not directory.is_dir():
        raise EventError([f"{directory}: event directory not found (set TELEVOC_EVENT_DIR or create it)"])
    event_path, phones_path = directory / EVENT_FILE, directory / PHONES_FILE
    event_data = _read_yaml(event_path, problems)
    phones_data = _read_yaml(phones_path, problems)
    event = _validate(Event, event_data, event_path, problems) if event_data is not None else None
    phones = _validate_phones(phones_data, phones_path, problems) if phones_data is not None else None
    if event is None or phones is None:
        raise EventError(problems)
    _check_unique(event, phones_data["phones"], phones_path, problems)
    _check_phones(event, phones, phones_path, problems)

    provisioned = [p for _, p in phones if p.mac]
    if provisioned and event.pbx_address is None:
        problems.append(
            f"{_display(event_path)}: pbx_address is required when a phone has a mac (the "
            "address provisioned phones use to reach the PBX): add e.g. 'pbx_address: 10.23.0.2'"
        )
    secret = None
    if any(p.password is None for _, p in phones) or provisioned:
        secret = _read_secret(secret_path(event, directory), problems)
    if problems:
        raise EventError(problems)

    accounts = tuple(
        Account(
            name=p.name,
            extension=p.extension,
            display_name=p.display_name or p.name,
            password=p.password or derive_password(secret, event.name, p.name),
            contact=p.contact,
            mac=p.mac,
            model=p.model,
            ringer=p.ringer,
            address=p.address,
            web_password_before=p.web_password_before,
            event_web_password=derive_password(secret, event.name, f"web/{p.name}") if p.mac else None,
        )
        for _, p in phones
    )
    return Directory(event=event, accounts=accounts)
