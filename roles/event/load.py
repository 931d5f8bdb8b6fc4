"""Load an event directory (event.yml, phones.yml, groups.yml, dect.yml, services.yml) into a validated `Directory`.

Every problem found is collected and reported together (sources.py says how); nothing here
touches the network, and the one file written is the record of passwords judged strong, in the
user's cache (strength_record.py). The steps, each in a module of its own: the files read
strictly and each entry validated on its own (sources.py, entries.py), the rules across phone
entries (unique.py), across phones and groups, the trunk and the venues (checks.py), the
secrets (secret.py), and, when nothing is wrong, the model assembled (assemble.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from roles.shared.templating import gc_paused

from . import assemble
from .announcements import check_announcements
from .checks import Entries, check_routing, check_trunk, check_venues
from .dect import check_dect
from .entries import BaseView, PhoneView, test_numbers_of, validate_bases, validate_groups, validate_phones
from .errors import EventError
from .model import DEFAULT_RING_TIMEOUT, AnnouncementAudio, Directory, Event
from .secret import (
    board_secret_path,
    read_board_password,
    read_secret,
    read_trunk_password,
    secret_path,
    trunk_secret_path,
)
from .selfservice import Claim, check_claims, check_self_service
from .services import ServiceView, check_services, validate_services
from .sources import (
    DECT_FILE,
    DECT_ORDER,
    EVENT_FILE,
    EVENT_ORDER,
    GROUPS_FILE,
    GROUPS_ORDER,
    PHONES_FILE,
    PHONES_ORDER,
    SERVICES_FILE,
    SERVICES_ORDER,
    Report,
    SourceFile,
    display,
)
from .strength_record import StrengthRecord, record_path, usable_secret
from .unique import check_phones


def _check_event(event: Event, event_file: SourceFile) -> None:
    if event.test_numbers.hello_world == event.test_numbers.echo:
        line = event_file.line(("test_numbers", "hello_world"), exact=True)
        event_file.add(
            ("test_numbers", "echo"),
            f"{event.test_numbers.echo!r} is also the hello_world number "
            f"({f'line {line}' if line else 'its default'}): the two test numbers must differ: change one",
        )
    _check_outside_numbers(event, event_file)
    if event.sip.rtp_start >= event.sip.rtp_end:
        event_file.add(
            ("sip", "rtp_end"),
            f"{event.sip.rtp_end} is not above rtp_start ({event.sip.rtp_start}): the RTP port range "
            "runs from rtp_start up to rtp_end: make rtp_end the larger one",
        )


def _check_outside_numbers(event: Event, event_file: SourceFile) -> None:
    """An outside number is listed once; `dial` is what a phone dials to call out, so it needs
    the trunk and starts with its dial-out prefix."""
    seen: dict[str, int] = {}
    for i, outside in enumerate(event.outside_numbers):
        first = seen.setdefault(outside.tel, i)
        if first != i:
            line = event_file.line(("outside_numbers", first, "number"))
            event_file.add(
                ("outside_numbers", i, "number"),
                f"{outside.number!r} is also outside number {first + 1} ({event.outside_numbers[first].name}), "
                f"line {line}: list each number once",
            )
        if outside.dial is None:
            continue
        if event.trunk is None:
            event_file.add(
                ("outside_numbers", i, "dial"),
                "the event has no trunk, so no phone of it can call out: delete dial (the number is still "
                "listed for people), or add a trunk (docs/trunks-and-venues.md)",
            )
        elif not outside.dial.startswith(event.trunk.dial_out_prefix) or outside.dial == event.trunk.dial_out_prefix:
            event_file.add(
                ("outside_numbers", i, "dial"),
                f"{outside.dial!r} does not start with the dial-out prefix {event.trunk.dial_out_prefix!r} "
                "(trunk.dial_out_prefix), which a phone dials before an outside number: write the prefix, then "
                "the number",
            )


def load_event(directory: Path | str) -> Event:
    """Only event.yml, validated (for `new-secret`); EventError listing its problems."""
    directory = Path(directory)
    report = Report()
    event_file = SourceFile(directory / EVENT_FILE, EVENT_ORDER, report)
    data = event_file.read()
    event = event_file.validate(Event, data)[0] if data is not None else None
    if event is None or report:
        raise EventError(report.problems(), display(directory))
    return event


def load_directory(directory: Path | str, claims: Sequence[Claim] = ()) -> Directory:
    """Read, validate and settle an event directory; raise EventError listing every problem.
    `claims`: the numbers participants hold (self-service), read from the PBX: a crew number
    that is one of them is refused (selfservice.check_claims)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise EventError(
            [f"{directory}: event directory not found: set TELEVOC_EVENT_DIR or create it (see docs/event.md)"],
            str(directory),
        )
    with gc_paused():
        return _load(directory, claims)


def _load(directory: Path, claims: Sequence[Claim]) -> Directory:
    report = Report()
    event_file = SourceFile(directory / EVENT_FILE, EVENT_ORDER, report)
    phones_file = SourceFile(directory / PHONES_FILE, PHONES_ORDER, report)
    groups_file = SourceFile(directory / GROUPS_FILE, GROUPS_ORDER, report)
    dect_file = SourceFile(directory / DECT_FILE, DECT_ORDER, report)
    services_file = SourceFile(directory / SERVICES_FILE, SERVICES_ORDER, report)
    event_data = event_file.read()
    phones_data = phones_file.read()
    event = event_file.validate(Event, event_data)[0] if event_data is not None else None
    views = validate_phones(phones_file) if phones_data is not None else []
    if event is not None:
        _check_event(event, event_file)
    numbers = event.test_numbers if event is not None else test_numbers_of(event_data)
    name = event.name if event is not None else (event_data.get("name") if isinstance(event_data, dict) else None)
    record = _strength_record(event, directory)
    check_phones(event_file, phones_file, views, numbers, name if isinstance(name, str) else None, record)
    group_views = []
    if groups_file.path.exists() and groups_file.read() is not None:
        group_views = validate_groups(groups_file)
    base_views: list[BaseView] = []
    has_dect = dect_file.path.exists()
    if has_dect and dect_file.read() is not None:
        base_views = validate_bases(dect_file)
    check_dect(
        dect_file if has_dect else None, base_views, phones_file, views, event.venues if event is not None else {}
    )
    entries = Entries(phones_file, views, groups_file, group_views)
    tests = {numbers.hello_world: "hello_world", numbers.echo: "echo"} if numbers is not None else {}
    nodes = check_routing(
        event,
        event.ring_timeout if event is not None else DEFAULT_RING_TIMEOUT,
        event.pickup_code if event is not None else None,
        tests,
        entries,
    )
    service_views: list[ServiceView] = []
    if services_file.path.exists() and services_file.read() is not None:
        service_views = validate_services(services_file)
        code = event.pickup_code if event is not None else None
        check_services(event, services_file, service_views, entries, tests, code, claims)
    trunk_password = board_password = None
    audio: list[AnnouncementAudio] = []
    if event is not None:
        _announcement_numbers(event, event_file, entries, tests, services_file, service_views)
        audio = check_announcements(event, event_file, directory)
        check_venues(event, event_file, entries, nodes)
        check_self_service(event, event_file, entries, tests)
        check_claims(claims, event, event_file, entries, tests)
        if event.trunk is not None:
            check_trunk(event.trunk, event_file, entries, tests, event.pickup_code)
            trunk_password = read_trunk_password(trunk_secret_path(event, directory), directory, report)
        _board_port(event, event_file)
        if event.board is not None and event.board.enabled:
            board_password = read_board_password(board_secret_path(event, directory), directory, report)
        _pbx_address_needed(event, event_file, phones_file, views, dect_file, base_views)
    secret = None
    if event is not None and phones_data is not None:
        why = _why_secret(event, phones_file, phones_data, views, dect_file, base_views)
        if why is not None:
            secret = read_secret(secret_path(event, directory), directory, why, report)
    if record is not None:
        record.save(accepted=not (report or event is None or phones_data is None))
    if report or event is None or phones_data is None:
        raise EventError(report.problems(), display(directory))
    built = assemble.directory(event, views, group_views, secret, trunk_password, base_views, audio, service_views)
    return built.model_copy(update={"board_password": board_password}) if board_password else built


def _board_port(event: Event, event_file: SourceFile) -> None:
    """The board is served by the registration page's web application: with self-service on,
    on its port; a different board.port would be ignored, so it is refused."""
    board, s = event.board, event.self_service
    if board is None or not board.enabled:
        return
    if s is not None and s.enabled and "port" in board.model_fields_set and board.port != s.page_port:
        event_file.add(
            ("board", "port"),
            f"{board.port} is not self_service.page_port ({s.page_port}): with self-service the board is served "
            "by the registration page's web application on its port: leave board.port out",
        )
    elif (s is None or not s.enabled) and board.port == event.provisioning.http_port:
        event_file.add(
            ("board", "port"),
            f"{board.port} is the provisioning server's port (provisioning.http_port): "
            "choose another port for the board",
        )


def _announcement_numbers(
    event: Event,
    event_file: SourceFile,
    entries: Entries,
    tests: dict[str, str],
    services_file: SourceFile,
    services: list[ServiceView],
) -> None:
    """An announcement's number is no phone's, group's, service's (services.yml), test
    number, pickup code or self-service number; its name no phone's or group's."""
    taken = entries.numbers_taken(tests, event.pickup_code)
    for s in services:
        if s.number is not None:
            line = services_file.line((s.kind, s.index, "number"))
            taken.setdefault(s.number, f"{services_file.entry(s.kind, s.index)} ({services_file.name} line {line})")
    groups, phones = entries.groups, entries.phones
    names = {v.name.lower(): f"{phones.phone(v.index)} ({phones.name})" for v in entries.phone_views if v.name}
    names.update(
        {g.name.lower(): f"{groups.entry('groups', g.index)} ({groups.name})" for g in entries.group_views if g.name}
    )
    for i, a in enumerate(event.announcements):
        if a.name.lower() in names:  # forwards name phones, groups and announcements alike
            event_file.add(
                ("announcements", i, "name"),
                f"{a.name!r} is already the name of {names[a.name.lower()]}: forwards refer to names, so give "
                "the announcement its own",
            )
        ranges = (event.self_service.claimable, event.self_service.temporary) if event.self_service else ()
        inside = next((r for r in ranges if a.number in r), None)
        if inside is not None:
            event_file.add(
                ("announcements", i, "number"),
                f"{a.number!r} lies in the self-service range {inside}, whose numbers participants get: "
                "choose a number outside it",
            )
        if a.number in taken:
            event_file.add(
                ("announcements", i, "number"),
                f"{a.number!r} is already used by {taken[a.number]}: give the announcement its own number",
            )


def _strength_record(event: Event | None, directory: Path) -> StrengthRecord | None:
    """The passwords judged strong before (strength_record.py), when the event secret (its
    key) is there and private; None otherwise: every password is judged. Opened also when no
    phone has a password, so that the record of passwords no longer written goes."""
    if event is None:
        return None
    secret = usable_secret(secret_path(event, directory))
    return StrengthRecord.open(secret, record_path(event.name)) if secret is not None else None


def _pbx_address_needed(
    event: Event,
    event_file: SourceFile,
    phones_file: SourceFile,
    views: list[PhoneView],
    dect_file: SourceFile,
    bases: list[BaseView],
) -> None:
    """Provisioned phones and DECT bases reach the PBX at pbx_address."""
    if event.pbx_address is not None:
        return
    provisioned = [v.index for v in views if v.mac is not None]
    if provisioned:
        first = provisioned[0]
        who = f"{phones_file.phone(first)} has a mac ({PHONES_FILE} line {phones_file.line(('phones', first, 'mac'))})"
        what = "provisioned phones"
    elif bases:
        who, what = f"{DECT_FILE} declares {dect_file.entry('bases', bases[0].index)}", "the DECT bases"
    else:
        return
    event_file.add(
        ("pbx_address",),
        f"{who}, so pbx_address is required, the address {what} reach the PBX at: add it, e.g. pbx_address: 10.23.0.2",
        line=0,
    )


def _why_secret(
    event: Event,
    phones_file: SourceFile,
    phones_data: dict,
    views: list[PhoneView],
    dect_file: SourceFile,
    bases: list[BaseView],
) -> str | None:
    """Who needs the event secret, in words; None when nothing is derived from it."""
    # phones whose SIP password is derived: none given (a bad one given is reported already)
    entries = phones_data.get("phones") or []
    derived = [
        v.index
        for v in views
        if v.password is None and (v.entry is not None or entries[v.index].get("password") is None)
    ]
    provisioned = [v.index for v in views if v.mac is not None]
    if bases and not (derived or provisioned):
        base = dect_file.entry("bases", bases[0].index)
        return f"{base} of {DECT_FILE} is provisioned, and its web password is derived from it"
    if not (derived or provisioned or event.venues):
        return None
    if event.venues and not (derived or provisioned):
        return "the venues' PBXes authenticate each other with a password derived from it"
    if derived:
        first = phones_file.phone(derived[0])
        more = f" and {len(derived) - 1} more" if len(derived) > 1 else ""
        return f"{first}{more} {'have' if more else 'has'} no password, which is derived from it"
    return f"{phones_file.phone(provisioned[0])} is provisioned, and its web password is derived from it"
