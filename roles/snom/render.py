"""Pure renderers of snom provisioning files (XML settings). No host, no I/O."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from xml.sax.saxutils import escape

from roles.event import Account, Directory
from roles.event.phonebook import Entry, entries, for_phones, render_yealink
from roles.event.selfservice import temporary_calls
from roles.shared import names
from roles.shared.templating import render, without_gc

from .dect import render_bases

# Where the deploy publishes the provisioning files (root:televoc-provisioning 0750/0640).
PROVISIONING_DIR = "/var/lib/televoc-phones"
# snom 320/360/370/7xx have 12 identities, the 300 has 4; a phone ignores the ones it lacks.
IDENTITIES = 12
# The provisioning server's code, shipped next to televoc's NixOS module.
PROVISIOND = Path(__file__).resolve().parent / "files" / "provisiond.py"
# What the server logs about a source to be banned (fail2ban reads its log): requests for
# unknown MACs or other paths, and for settings another address fetched (security.ban_after
# of them ban) ...
REFUSED_LOG_REGEX = r"^\s*televoc-provisioning: refused (404|405|403 fetched already by) .* from <ADDR>$"
# ... and every request of a source it refuses for sweeping MACs (one of them bans).
SWEEP_LOG_REGEX = r"^\s*televoc-provisioning: refused 403 sweeping .* from <ADDR>$"
LOG_DATE_PATTERN = "^%%Y-%%m-%%dT%%H:%%M:%%S%%z"
# How long a fetched version stays on offer (a phone that reboots while applying it fetches
# again). A source that asks for MAX_UNKNOWN_PER_SOURCE different unknown MACs within
# SOURCE_WINDOW seconds is refused as a sweeper: a phone asks for one MAC, its own, however
# often it retries; a crew typing URLs by hand makes a typo or two; finding one of 1000
# waiting phones among the 2^24 MACs of snom's OUI takes about 16,800 guesses. The server
# locks for everyone after MAX_UNKNOWN_MACS different unknown MACs since the last unlock,
# whoever asked: 16 sources at their limit, never one (see provisiond.py and
# docs/threat-model.md).
FETCH_WINDOW = 600
MAX_UNKNOWN_PER_SOURCE = 8
SOURCE_WINDOW = 86400
MAX_UNKNOWN_MACS = 128
# The phones' directory: up to TBOOK_MAX entries travel in every phone's settings (the snom
# tbook, the phone's own directory); beyond, the directory key fetches DIRECTORY_FILE from
# the provisioning server (a SnomIPPhoneDirectory; no secret in it, see provisiond.py).
TBOOK_MAX = 100
DIRECTORY_FILE = "directory.xml"
YEALINK_DIRECTORY_FILE = "directory-yealink.xml"  # the same entries for Yealink phones (served alike)
# The directory key when the tbook is on the phone: the phone's own directory (snom's default).
DIRECTORY_KEY_LOCAL = "keyevent F_ADR_BOOK"


def provisioning_url(directory: Directory) -> str:
    """The setting_server URL (DHCP option 66); the phone replaces {mac} with its MAC."""
    event = directory.event
    return f"http://{event.pbx_address}:{event.provisioning.http_port}{names.PROVISIONING_URL_PATH}/{{mac}}.xml"


@dataclass(frozen=True)
class ProvisioningService:
    """The provisioning server as the NixOS module runs it (pure description).

    + bind, port: where it listens (the PBX's address in the phone network)
    + network: the only network the firewall lets reach it
    + files: the directory the deploy publishes into
    + window, max_unknown, per_source, source_window, prefix: see provisiond.py
    + selfservice: it gives snoms no YAML names their temporary or claimed number from the
      self-service database (names.SELFSERVICE_DB, with its code names.SELFSERVICE_SCRIPT
      beside the module): the NixOS module lets it write the database (the asterisk group)
    """

    bind: str
    port: int
    network: str
    files: str
    window: int = FETCH_WINDOW
    max_unknown: int = MAX_UNKNOWN_MACS
    per_source: int = MAX_UNKNOWN_PER_SOURCE
    source_window: int = SOURCE_WINDOW
    prefix: str = names.PROVISIONING_URL_PATH
    service: str = names.PROVISIONING_SERVICE
    user: str = names.PROVISIONING_USER
    selfservice: bool = False

    @property
    def state_path(self) -> str:
        return f"/var/lib/{self.service}/state.json"

    @property
    def log_path(self) -> str:
        return f"/var/log/{self.service}/access.log"

    @property
    def unlock_path(self) -> str:
        """The crew's unlock file: `touch` it (root, on the PBX) to lift the server's lock."""
        return f"/var/lib/{self.service}/unlock"

    @property
    def arguments(self) -> str:
        """provisiond.py's command line."""
        return (
            f"--bind {self.bind} --port {self.port} --files {self.files} --state {self.state_path} "
            f"--log {self.log_path} --window {self.window} --max-unknown {self.max_unknown} "
            f"--max-unknown-per-source {self.per_source} --source-window {self.source_window} "
            f"--unlock-file {self.unlock_path} --prefix {self.prefix}"
        ) + (
            f" --claimsdb ${{./{names.SELFSERVICE_SCRIPT}}} --selfservice-db {names.SELFSERVICE_DB}"
            if self.selfservice
            else ""
        )

    @property
    def spared_arguments(self) -> str:
        """provisiond.py's command line that asks whether an address (appended) is where a
        declared DECT base last fetched its settings (exit 0) or not (1)."""
        return f"spared --files {self.files} --state {self.state_path}"


def provisioning_service(
    directory: Directory, files: str = PROVISIONING_DIR, selfservice: bool = False
) -> ProvisioningService:
    event = directory.event
    if event.pbx_address is None:  # the load refuses provisioned phones without it
        raise ValueError("provisioning needs pbx_address")
    return ProvisioningService(
        bind=event.pbx_address,
        port=event.provisioning.http_port,
        network=event.network,
        files=files,
        selfservice=selfservice,
    )


def serves_phones(directory: Directory) -> bool:
    """Whether the provisioning server gives snoms no YAML names a number of self-service:
    this PBX serves self-service, and phones reach it at pbx_address."""
    return temporary_calls(directory) is not None and directory.event.pbx_address is not None


@dataclass(frozen=True)
class Provisioning:
    """What the snom role serves for an event through its provisioning server.

    + server: the provisioning server (None: no phone is provisioned)
    + files: file name -> XML the server offers: every provisioned phone's settings and the
      directory, or at teardown each phone's wiped profile
    + wiped: the files are the wiped profiles (teardown)
    + control: what the run tells the server (control.json): an unlock, re-arms
    """

    server: ProvisioningService | None
    files: dict[str, str] = field(repr=False)
    wiped: bool = False
    control: dict = field(default_factory=dict)

    @cached_property
    def digests(self) -> dict[str, str]:
        """file name -> the sha256 of its text (what the manifest of the published files
        records), worked out once per run."""
        return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in self.files.items()}


def provisioning(
    directory: Directory, files: str = PROVISIONING_DIR, wiped: bool = False, control: dict | None = None
) -> Provisioning:
    """What the provisioning server serves for `directory`: its server (`files`: the
    directory the deploy publishes into), the phones' files and the snom DECT bases' files
    (roles/snom/dect.py); at teardown the wiped ones (no account, no password)."""
    bases = render_bases(directory, wiped=wiped)
    participants = {} if wiped else render_selfservice_phone(directory)
    # at teardown too where self-service was served: participants' snoms fetch their wipe
    return Provisioning(
        server=provisioning_service(directory, files, selfservice=bool(participants))
        if directory.provisioned or bases or participants or (wiped and serves_phones(directory))
        else None,
        files={**render_wipe(directory), **bases}
        if wiped
        else {**render_provisioning(directory), **bases, **participants},
        wiped=wiped,
        control=dict(control or {}),
    )


def directory_url(directory: Directory) -> str:
    """Where a phone's directory key fetches the directory beyond TBOOK_MAX entries."""
    event = directory.event
    return f"http://{event.pbx_address}:{event.provisioning.http_port}{names.PROVISIONING_URL_PATH}/{DIRECTORY_FILE}"


def file_name(account: Account) -> str:
    """snom phones put their MAC in upper case, without separators, into {mac}."""
    if account.mac is None:
        raise ValueError(f"{account.name} is not provisioned (no mac)")
    return f"{account.mac.upper()}.xml"


def _other_identities_off() -> list[tuple[str, int, str]]:
    rows = []
    for idx in range(2, IDENTITIES + 1):
        rows += [
            ("user_active", idx, "off"),
            ("user_name", idx, ""),
            ("user_pname", idx, ""),
            ("user_pass", idx, ""),
            ("user_host", idx, ""),
        ]
    return rows


# The values that differ between phones: the template is rendered once per event with these
# placeholders and split there; each phone's file is the pieces joined with its own values
# (10,000 phones in a fraction of a second; see Skeleton).
_PER_PHONE = (
    "purpose",
    "realname",
    "name",
    "pass",
    "webpass",
    "ringer",
    "ring_direct",
    "ring_group",
    "ring_loud",
    "autoanswer",
)
# snom's answer_after_policy (Advanced > Behavior > Intercom Policy): whether the phone obeys
# an INVITE's `Alert-Info: <...>;info=alert-autoanswer` and answers at once on its speaker.
# Documented values off, idle, always, not_busy (since 8.7.4.8 / 8.7.5.9); the default is
# `off` since firmware 7.1.39 (`always` before). televoc sets `idle` (answer by itself only
# when no call is up: never barge in; a page skips a phone in a call anyway) on the phones a
# paging group or intercom reaches, `off` on every other phone.
AUTOANSWER_ON, AUTOANSWER_OFF = "idle", "off"


def autoanswered(directory: Directory) -> frozenset[str]:
    """The phones (names) a paging group or an intercom of services.yml reaches."""
    s = directory.services
    return frozenset(
        [*(name for p in s.paging for name, _ in p.phones), *(name for i in s.intercoms for name, _ in i.ends)]
    )


def _alert_classes() -> list[tuple[str, int, str]]:
    """snom 3xx's three Alert-Info classes (Setup > Preferences > Alert-Info Ringer): the PBX
    puts `Alert-Info: <ALERT_URL>;info=CLASS` on every INVITE to a phone; the phone rings with
    the sound of the class whose text is CLASS. Never fetch the URL (alert_info_playback)."""
    return [
        ("alert_info_playback", 0, "off"),
        ("alert_internal_ring_text", 0, names.ALERT_DIRECT),
        ("alert_internal_ring_sound", 0, "@@ring_direct@@"),
        ("alert_external_ring_text", 0, names.ALERT_GROUP),
        ("alert_external_ring_sound", 0, "@@ring_group@@"),
        ("alert_group_ring_text", 0, names.ALERT_LOUD),
        ("alert_group_ring_sound", 0, "@@ring_loud@@"),
    ]


_RINGERS = frozenset([*(f"Ringer{i}" for i in range(1, 11)), "Silent"])  # need no escaping


def ringers(account: Account) -> dict[str, str]:
    """The phone's sound per alert class: direct calls ring with `ringer`, calls through a group
    with `group_ringer` (default: ringer), calls from `loud_from` with `loud_ringer`."""
    return {
        "ring_direct": account.ringer,
        "ring_group": account.group_ringer or account.ringer,
        "ring_loud": account.loud_ringer,
    }


def _settings(directory: Directory, url: str, listed: list[Entry]) -> list[tuple[str, int, str]]:
    event = directory.event
    host = f"{event.sip.domain or event.pbx_address}:{event.sip.port}"
    key = DIRECTORY_KEY_LOCAL if len(listed) <= TBOOK_MAX else f"url {directory_url(directory)}"
    return [
        ("setting_server", 0, url),
        ("http_user", 0, event.provisioning.web_user),
        ("http_pass", 0, "@@webpass@@"),
        ("user_active", 1, "on"),
        ("user_realname", 1, "@@realname@@"),
        ("user_name", 1, "@@name@@"),
        ("user_pname", 1, "@@name@@"),
        ("user_pass", 1, "@@pass@@"),
        ("user_host", 1, host),
        ("user_ringer", 1, "@@ringer@@"),
        ("keepalive_interval", 1, str(event.provisioning.keepalive_interval)),
        *_other_identities_off(),
        *_alert_classes(),
        ("answer_after_policy", 0, "@@autoanswer@@"),
        ("dkey_directory", 0, key),
    ]


def _wiped() -> list[tuple[str, int, str]]:
    return [
        ("setting_server", 0, ""),
        ("http_pass", 0, ""),
        ("user_active", 1, "off"),
        ("user_realname", 1, ""),
        ("user_name", 1, ""),
        ("user_pname", 1, ""),
        ("user_pass", 1, ""),
        ("user_host", 1, ""),
        *_other_identities_off(),
        ("answer_after_policy", 0, AUTOANSWER_OFF),  # a returned phone does not answer by itself
        ("dkey_directory", 0, DIRECTORY_KEY_LOCAL),
    ]


def _comment(text: str) -> str:
    """Text for an XML comment ('--' may not appear in one)."""
    return escape(text).replace("--", "- -")


# Text of the event (display names in the tbook, say) lands in the skeleton before it is
# split at "@@placeholder@@": its "@" is written as a character reference, so a display name
# '@@pass@@' stays text and never becomes a phone's password.


def _text(value: str) -> str:
    """XML text of `value` that the skeleton never takes for a placeholder. (Most values hold
    nothing to escape: checked first, as it runs 20,000 times at 10,000 phones.)"""
    if "&" in value or "<" in value or ">" in value or "@" in value:
        return escape(value, {"@": "&#64;"})
    return value


def _value(value: str) -> str:
    """XML text of a phone's own value, filled in after the skeleton was split."""
    return escape(value) if "&" in value or "<" in value or ">" in value else value


def tbook(listed: list[Entry]) -> list[tuple[int, str, str]] | None:
    """(index, name, number) of the tbook, XML-escaped. Beyond TBOOK_MAX entries an empty one
    (complete="true" empties the phone's own directory: no entries left from a smaller
    directory of an earlier run; the directory key fetches DIRECTORY_FILE instead)."""
    if len(listed) > TBOOK_MAX:
        return []
    return [(i, _text(e.name), _text(e.number)) for i, e in enumerate(listed)]


def _xml(purpose: str, rows: list[tuple[str, int, str]], book: list[tuple[int, str, str]] | None = None) -> str:
    settings = [
        (name, idx, value if re.fullmatch(r"@@[a-z_]+@@", value) else _text(value)) for name, idx, value in rows
    ]
    return render(__file__, "settings.xml.j2", purpose=purpose, settings=settings, tbook=book)


def render_directory(directory: Directory, listed: list[Entry] | None = None) -> str:
    """DIRECTORY_FILE: every entry of the directory as a SnomIPPhoneDirectory (what the
    directory key shows beyond TBOOK_MAX entries)."""
    listed = for_phones(entries(directory)) if listed is None else listed
    rows = [(_text(e.name), _text(e.number)) for e in listed]
    return render(__file__, "directory.xml.j2", title=_text(directory.event.name), entries=rows)


class Skeleton:
    """The settings file of an event with its per-phone values left open, split once."""

    def __init__(self, text: str):
        self.parts = re.split(r"@@(" + "|".join(_PER_PHONE) + r")@@", text)
        self.slots = [(i, self.parts[i]) for i in range(1, len(self.parts), 2)]  # (index, name)

    def fill(self, values: dict[str, str]) -> str:
        out = self.parts.copy()
        for i, name in self.slots:
            out[i] = values[name]
        return "".join(out)


@without_gc
def render_provisioning(directory: Directory) -> dict[str, str]:
    """File name -> snom XML for every phone with a MAC: identity 1 is the phone's account,
    identities 2..12 off, the web interface locked with the event's web password, a ringer
    per alert class, auto-answer (answer_after_policy) for the phones a page or intercom
    reaches, the directory (the tbook, up to TBOOK_MAX entries; beyond, the directory
    key fetches DIRECTORY_FILE). Plus DIRECTORY_FILE itself, whenever a phone is provisioned
    (the deploy's manifest tells from its digest whether the directory changed)."""
    if not directory.provisioned:
        return {}
    listed = for_phones(entries(directory))  # an outside number only with its dial
    rows = _settings(directory, provisioning_url(directory), listed)
    skeleton = Skeleton(_xml("@@purpose@@", rows, tbook(listed)))
    event = directory.event.name
    reached = autoanswered(directory)
    files = {
        file_name(a): skeleton.fill(
            {
                "purpose": _comment(f"phone {a.name} ({a.model}), event {event}"),
                "realname": _value(a.display_name),
                "name": _value(a.name),
                "pass": _value(a.password),
                "webpass": _value(a.event_web_password or ""),  # set for every provisioned phone
                **{k: v if v in _RINGERS else _value(v) for k, v in (("ringer", a.ringer), *ringers(a).items())},
                "autoanswer": AUTOANSWER_ON if a.name in reached else AUTOANSWER_OFF,
            }
        )
        for a in directory.provisioned
    }
    files[DIRECTORY_FILE] = render_directory(directory, listed)
    files[YEALINK_DIRECTORY_FILE] = render_yealink(directory, listed=listed)
    return files


def render_selfservice_phone(directory: Directory) -> dict[str, str]:
    """names.TEMPORARY_TEMPLATE -> the settings of a participant's snom (self-service), its
    account left open (@@name@@, @@pass@@, @@realname@@: provisiond.py fills them in from the
    database), when the provisioning server gives such phones a number. Like a crew phone's,
    but the web interface is left as the participant set it (no http_user, no http_pass: it
    is their phone), with the event's ringer, no auto-answer, and the directory."""
    if not serves_phones(directory):
        return {}
    listed = for_phones(entries(directory))
    rows = [
        r for r in _settings(directory, provisioning_url(directory), listed) if r[0] not in ("http_user", "http_pass")
    ]
    fixed = {
        "@@ringer@@": "Ringer1",
        "@@ring_direct@@": "Ringer1",
        "@@ring_group@@": "Ringer1",
        "@@ring_loud@@": "Ringer1",
        "@@autoanswer@@": AUTOANSWER_OFF,
    }
    rows = [(name, idx, fixed.get(value, value)) for name, idx, value in rows]
    purpose = _comment(f"a participant's phone (self-service), event {directory.event.name}")
    return {names.TEMPORARY_TEMPLATE: _xml(purpose, rows, tbook(listed))}


def _wipe_text(directory: Directory) -> str:
    return _xml(
        _comment(
            f"teardown of event {directory.event.name}: identities off, passwords and directory cleared, no auto-answer"
        ),
        _wiped(),
        book=[],
    )


@without_gc
def render_wipe(directory: Directory) -> dict[str, str]:
    """File name -> snom XML that wipes the event from the phone (teardown): identities off,
    passwords and directory cleared, auto-answer (answer_after_policy) back to off."""
    text = _wipe_text(directory)
    return {file_name(a): text for a in directory.provisioned}


def with_participants_wiped(directory: Directory, provisioning: Provisioning, macs: list[str]) -> Provisioning:
    """The teardown's `provisioning` with the wiped profile offered to participants' snoms
    too (self-service: `macs`, from the database or the teardown record), under their MACs."""
    if not macs or not provisioning.wiped:
        return provisioning
    text = _wipe_text(directory)
    files = {**provisioning.files, **{f"{mac.upper()}.xml": text for mac in macs}}
    return Provisioning(server=provisioning.server, files=files, wiped=True, control=provisioning.control)
