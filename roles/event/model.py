"""The event directory as a typed model.

Everything an event crew writes in YAML is checked here, field by field, before any host is
touched. Cross-entry rules (duplicates, collisions, passwords) live in `load.py`, which knows the
file names and lines needed for a helpful message. Each field's `description` is its rule in
words: `messages.py` quotes it when a value breaks the rule (never pydantic's own wording).
"""

from __future__ import annotations

import ipaddress
import re
import typing
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from .dectmodels import BASE_MODELS, MODELS_RULE, REFUSED_MODELS
from .ipei import IPEI_RULE
from .ipei import problem as ipei_problem

# A name Asterisk can take as a section name, a dial string (PJSIP/<name>) and a SIP user part.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
NAME_RULE = (
    "a name takes only letters a-z A-Z (no umlauts), digits, '_', '.', '-', at most 40 "
    "characters, starting with a letter or digit (it becomes the SIP account, which is ASCII)"
)
EVENT_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
EVENT_NAME_RULE = (
    "an event name takes only lower-case letters a-z, digits and '-', at most 40 characters, "
    "starting with a letter or digit (it names the secret file)"
)
EXTENSION_RULE = "an extension is 2 to 10 digits"
DEFAULT_RING_TIMEOUT = 20
MIN_PASSWORD_LENGTH = 12
# YAML keys that were renamed: old -> new (a directory with the old key gets this hint).
RENAMED_KEYS = {"web_password": "web_password_before"}


def rule_of(field: FieldInfo) -> str | None:
    """A field's rule in words: its description, or that of the type it takes (an optional
    `Location`, a tuple of `Target`s: the rule sits on the type, declared once)."""
    if field.description:
        return field.description
    todo = [field.annotation]
    while todo:
        annotation = todo.pop(0)
        for arg in typing.get_args(annotation):
            if isinstance(arg, FieldInfo) and arg.description:
                return arg.description
            todo.append(arg)
    return None


def _no_bool(value):
    """pydantic would take true as the number 1."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "a whole number, not a boolean")
    return value


# Extensions may be written as YAML numbers (1001) or strings ("0100"; a plain 0100 is refused
# when the YAML is read).
Extension = Annotated[str, Field(pattern=r"^[0-9]{2,10}$", coerce_numbers_to_str=True, description=EXTENSION_RULE)]
Number = Annotated[int, BeforeValidator(_no_bool)]

RINGER_RULE = "a ringer is one of Ringer1 to Ringer10, or Silent"
Ringer = Annotated[str, Field(pattern=r"^(Ringer([1-9]|10)|Silent)$", description=RINGER_RULE)]
TARGET_RULE = "a forward or loud_from names a phone or a group (its name, not its number)"
GROUP_NAME_RULE = NAME_RULE.replace("SIP account", "name forwards and groups refer to")
LOCATION_RULE = "a location is 1 to 60 characters, without '\"', '<', '>', ';', '\\' or line breaks"
SHORT_RULE = (
    "a short name is 1 to 12 letters, digits, spaces or '-', shown before the caller's name "
    "(e.g. Info: a call through the group shows as '[Info] Alice')"
)
PICKUP_RULE = "a pickup group is a name of letters a-z, digits, '_' or '-', at most 30 characters"


def _target(value):
    """A forward target is a name: 1600 (a number) could be a phone's name or a group's number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise PydanticCustomError(
            "target_number",
            "is the number {value}, but {rule}: write the name of the phone or group to forward to (e.g. backoffice)",
            {"value": value, "rule": TARGET_RULE},
        )
    return value


Target = Annotated[str, BeforeValidator(_target), Field(pattern=NAME_PATTERN, description=TARGET_RULE)]
Location = Annotated[str, Field(pattern=r'^[^"<>;\\\x00-\x1f]{1,60}$', description=LOCATION_RULE)]
DISPLAY_NAME_RULE = "a display name is 1 to 40 characters, without '\"', '<', '>', ';', '\\' or line breaks"
DisplayName = Annotated[str, Field(pattern=r'^[^"<>;\\\x00-\x1f]{1,40}$', description=DISPLAY_NAME_RULE)]


PASSWORD_CHARS_RULE = "a password takes no spaces, quotes, ';' or '\\' (Asterisk's config syntax)"
PASSWORD_RULE = (
    f"a password has at least {MIN_PASSWORD_LENGTH} characters, is neither the phone's name nor "
    "its extension, is hard to guess, and has no spaces, quotes, ';' or '\\'"
)
_MAC = re.compile(r"[0-9a-f]{12}")
_MAC_SEPARATORS = str.maketrans("", "", ":.-")


def normalize_mac(value: str) -> str | None:
    """'00:04:13:2A:BC:DE' -> '0004132abcde'; None if it is no MAC."""
    digits = value.translate(_MAC_SEPARATORS).lower()
    return digits if _MAC.fullmatch(digits) else None


def _mac(value):
    """'00:04:13:2A:BC:DE' -> '0004132abcde' (phones' and bases' MACs alike)."""
    if isinstance(value, str):
        digits = normalize_mac(value)
        if digits is None:
            raise ValueError(f"{value!r} is not a MAC: write its 12 hex digits, e.g. 00:04:13:2a:bc:de")
        return digits
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f"YAML reads {value} as a number, but a MAC is text: write it in quotes, e.g. '00:04:13:2a:bc:de'"
        )
    return value  # None, or a type the str check refuses


def _ip_address(value: str, example: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address: write one like {example}") from None


def doc(meaning: str, default: str | None = None) -> dict:
    """What a key of the event directory is for, for the reference generated from this model
    (`python -m roles.reference`, docs/reference.md): `meaning`, and its default in words when
    that is not a plain value (`the name`, `pbx_address`). A field's `description` is its rule,
    quoted when a value breaks it (messages.py)."""
    return {"doc": meaning, **({"default_doc": default} if default is not None else {})}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sip(Strict):
    """How Asterisk listens for the phones."""

    realm: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
        description="a realm takes only letters a-z A-Z, digits, '_', '.', '-', at most 63 "
        "characters, starting with a letter or digit",
        json_schema_extra=doc("the digest realm of Asterisk's challenges", "Asterisk's `asterisk`"),
    )
    domain: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$",
        description="a domain is a DNS name or an IP address (letters a-z A-Z, digits, '.', '-')",
        json_schema_extra=doc("the SIP domain provisioned phones register to (a DNS name, say)", "`pbx_address`"),
    )
    bind: str = Field(
        "0.0.0.0",
        description="bind is an IP address (0.0.0.0: every address)",
        json_schema_extra=doc("the address Asterisk listens at for SIP (UDP)"),
    )
    port: Number = Field(
        5060,
        ge=1,
        le=65535,
        description="the SIP port",
        json_schema_extra=doc("the port Asterisk listens at for SIP (UDP)"),
    )
    rtp_start: Number = Field(
        10000,
        ge=1024,
        le=65534,
        description="the first RTP port",
        json_schema_extra=doc("the first port of the RTP range (opened in the NixOS firewall)"),
    )
    rtp_end: Number = Field(
        20000,
        ge=1025,
        le=65535,
        description="the last RTP port",
        json_schema_extra=doc("the last port of the RTP range"),
    )

    @field_validator("bind")
    @classmethod
    def _ip(cls, value: str) -> str:
        _ip_address(value, "0.0.0.0")
        return value


class TestNumbers(Strict):
    """Numbers every phone can dial to check itself."""

    hello_world: Extension = Field("100", json_schema_extra=doc("plays hello-world"))
    echo: Extension = Field("101", json_schema_extra=doc("the echo test: you hear yourself"))


class Provisioning(Strict):
    """How snom phones (those with mac and model) get their settings from the PBX."""

    web_user: str = Field(
        "admin",
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="a web user takes only letters a-z A-Z, digits, '_', '.', '-', 1 to 32 characters",
        json_schema_extra=doc(
            "the user of a provisioned phone's web interface (its password is derived from the event secret)"
        ),
    )
    http_port: Number = Field(
        8088,
        ge=1,
        le=65535,
        description="the provisioning HTTP port",
        json_schema_extra=doc("the port of televoc's provisioning server, open to the phone network only"),
    )
    keepalive_interval: Number = Field(
        30,
        ge=0,
        le=3600,
        description="the NAT keepalive interval in seconds, 0 for none",
        json_schema_extra=doc("seconds between a provisioned phone's NAT keepalives"),
    )


class Security(Strict):
    """How the PBX bans sources that keep failing (fail2ban): wrong SIP passwords, unknown
    accounts, requests for MACs the provisioning server does not know."""

    ban_after: Number = Field(
        5,
        ge=1,
        le=100,
        description="ban_after is the number of failures (1 to 100) after which a source is banned",
        json_schema_extra=doc(
            "failures (wrong SIP password, unknown account, guessed MAC) after which a source is banned from the "
            "PBX (a source the provisioning server refuses for sweeping MACs is banned at once)"
        ),
    )
    find_seconds: Number = Field(
        600,
        ge=10,
        le=86400,
        description="find_seconds is the window (10 to 86400 seconds) in which failures count",
        json_schema_extra=doc("the window in which those failures count, in seconds"),
    )
    ban_seconds: Number = Field(
        3600,
        ge=5,
        le=604800,
        description="ban_seconds is how long (5 seconds to a week) a source stays banned",
        json_schema_extra=doc("how long a banned source stays banned, in seconds"),
    )


HOST_RULE = "a registrar is a host name or IP address, optionally with :port (e.g. sip.example.org:5060)"


class Trunk(Strict):
    """`trunk:` in event.yml: the event's account at an upstream SIP network. Its password is
    not here: it lives in the trunk secret file (docs/trunks-and-venues.md)."""

    registrar: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}(:[0-9]{1,5})?$",
        description=HOST_RULE,
        json_schema_extra=doc("the upstream's registrar, `host` or `host:port`"),
    )
    username: str = Field(
        pattern=r"^[A-Za-z0-9_.+-]{1,64}$",
        description="a trunk username is 1 to 64 letters, digits or '_ . + -' (what the upstream's operators gave you)",
        json_schema_extra=doc("the event's account at the upstream"),
    )
    block: str = Field(
        pattern=r"^[0-9]{1,10}$",
        coerce_numbers_to_str=True,
        description="a number block is the digits the upstream puts before every extension of the event (e.g. 6000)",
        json_schema_extra=doc("the number block: `block` + an extension reaches that phone or group from outside"),
    )
    dial_out_prefix: str = Field(
        "0",
        pattern=r"^[0-9]{1,3}$",
        coerce_numbers_to_str=True,
        description="the dial-out prefix is 1 to 3 digits a phone dials before an outside number (e.g. '0', in quotes)",
        json_schema_extra=doc("what a phone dials before an outside number"),
    )
    dial_out: Literal["all"] | tuple[Target, ...] = Field(
        (),
        description="dial_out is 'all' or a list of the phones and groups whose phones may call out",
        json_schema_extra=doc("`all`, or the phones and groups (every phone in them) that may call out", "none may"),
    )
    sources: tuple[str, ...] = Field(
        (),
        description="sources are the IP addresses or networks the upstream sends calls from (default: the registrar)",
        json_schema_extra=doc(
            "the IP addresses or networks the upstream's calls and their media come from: the only ones, "
            "with the phone network and the other venues, that reach SIP and RTP",
            "the registrar's address",
        ),
    )
    secret_file: str | None = Field(
        None,
        description="secret_file is the path of the trunk's password file",
        json_schema_extra=doc(
            "the file with the trunk's password (its first line); `$TELEVOC_TRUNK_SECRET_FILE` overrides it",
            "`~/.config/televoc/<name>.trunk.secret`",
        ),
    )
    venue: str | None = Field(
        None,
        description="venue names the venue whose PBX registers the trunk",
        json_schema_extra=doc("with venues: the venue whose PBX registers the trunk", "required with venues"),
    )

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for source in value:
            try:
                ipaddress.ip_network(source, strict=False)
            except ValueError:
                raise ValueError(
                    f"{source!r} is not an IP address or network: write one like 192.0.2.10 or 192.0.2.0/28"
                ) from None
        return value

    @model_validator(mode="after")
    def _sources_needed(self) -> Trunk:
        if not self.sources:
            try:
                ipaddress.ip_address(self.host)
            except ValueError:
                raise ValueError(
                    f"the registrar {self.host!r} is a name, and calls from the upstream are taken only from "
                    "known addresses: add sources: [the upstream's IP addresses] (ask its operators)"
                ) from None
        return self

    @property
    def host(self) -> str:
        return self.registrar.rsplit(":", 1)[0] if ":" in self.registrar else self.registrar


def _prefixes(value):
    """numbers: "2" or ["2", "3"] (YAML may read 2 as a number: taken as its digits)."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


class Venue(Strict):
    """One venue under `venues:` in event.yml: its own PBX, its own numbers."""

    numbers: Annotated[tuple[Annotated[str, Field(pattern=r"^[0-9]{1,5}$")], ...], BeforeValidator(_prefixes)] = Field(
        min_length=1,
        description="numbers are the prefixes (1 to 5 digits) of this venue's numbers, e.g. '2' or ['2', '3']",
        json_schema_extra=doc(
            "the prefixes of the venue's numbers: every extension and group number begins with one of them"
        ),
    )
    address: str = Field(
        description="address is the IP address the other venues' PBXes reach this one at",
        json_schema_extra=doc("the address the other venues' PBXes reach this one's at"),
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        _ip_address(value, "10.80.0.1")
        return value


RANGE_RULE = "a range's first and last number are 2 to 10 digits each (write one with a leading 0 in quotes)"
CLAIM_CODE_RULE = (
    "a claim code is what a participant dials before the token: '*' and 1 to 9 digits (e.g. '*23', in "
    "quotes), or 2 to 10 digits"
)


class NumberRange(Strict):
    """A range of numbers under `self_service:`, from `first` to `last`, both included. Its
    numbers all have the length of `first` and `last` (checked across the keys, in
    selfservice.py, where the problem can name the range and its line)."""

    first: Extension = Field(description=RANGE_RULE, json_schema_extra=doc("the range's first number"))
    last: Extension = Field(
        description=RANGE_RULE,
        json_schema_extra=doc("the range's last number: as many digits as `first`, not below it"),
    )

    @property
    def length(self) -> int:
        return len(self.first)

    def __contains__(self, number: object) -> bool:
        """A number is in the range when it has the range's length and lies between its ends
        (numbers of one length compare as their digits do)."""
        return isinstance(number, str) and len(number) == self.length and self.first <= number <= self.last

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


class CallLog(Strict):
    """`call_log:` in event.yml: Asterisk writes every call into a database on the PBX
    (docs/call-log.md). Off unless the crew turns it on: who called whom is personal data."""

    enabled: StrictBool = Field(
        False,
        json_schema_extra=doc(
            "`true`: every call (who called whom, when, how long, how it ended) is written to a "
            "database on the PBX, exported and wiped at teardown"
        ),
    )


class Board(Strict):
    """`board:` in event.yml: the crew's live buildup board, a page behind a crew login in the
    same web application as the registration page (docs/board.md)."""

    enabled: StrictBool = Field(
        True, json_schema_extra=doc("`false` turns the board off (its password file is then not needed)")
    )
    port: Number = Field(
        8080,
        ge=1,
        le=65535,
        description="board.port is the web application's TCP port (1 to 65535)",
        json_schema_extra=doc(
            "the TCP port of the web application that serves the board (`http://<pbx_address>:8080/board`), "
            "open to the phone network only; with self-service it is `self_service.page_port` (leave this out)",
            "8080",
        ),
    )
    password_file: str | None = Field(
        None,
        description="board.password_file is the path of the crew's password file",
        json_schema_extra=doc(
            "where the crew's password is (`$TELEVOC_BOARD_SECRET_FILE` overrides it; write it with "
            "`python -m roles.event board-password`); relative to the event directory",
            "`~/.config/televoc/<name>.board.secret`",
        ),
    )


class SelfService(Strict):
    """`self_service:` in event.yml: participants bring their own phones, get a temporary
    number, and claim the number they want (docs/self-service.md). First step: declared and
    validated; the database, the page and the claim by dialling come later."""

    enabled: StrictBool = Field(
        True,
        json_schema_extra=doc(
            "`false` turns self-service off and keeps its ranges reserved: no crew number may take them"
        ),
    )
    claimable: NumberRange = Field(
        json_schema_extra=doc("the numbers participants may claim (`first` and `last`, below)")
    )
    temporary: NumberRange = Field(
        json_schema_extra=doc("the numbers a phone televoc does not know gets until it claims one (below)")
    )
    claim_code: str = Field(
        "*23",
        pattern=r"^(\*[0-9]{1,9}|[0-9]{2,10})$",
        description=CLAIM_CODE_RULE,
        json_schema_extra=doc("what a participant dials before the token to claim a number: `*23` + `123456`"),
    )
    token_digits: Number = Field(
        6,
        ge=6,
        le=12,
        description="token_digits is the number of digits (6 to 12) of a claim token",
        json_schema_extra=doc("the digits of a claim token (random, single-use)"),
    )
    token_minutes: Number = Field(
        30,
        ge=5,
        le=1440,
        description="token_minutes is how long (5 to 1440 minutes) a claim token can be dialled",
        json_schema_extra=doc("minutes a claim token can be dialled after the page gave it"),
    )
    claim_days: Number | None = Field(
        None,
        ge=1,
        le=60,
        description="claim_days is how long (1 to 60 days) a claim lasts",
        json_schema_extra=doc("days a claimed number stays the participant's", "until teardown"),
    )
    info_desk: Target = Field(
        description="info_desk names a phone or a group (its name, not its number)",
        json_schema_extra=doc("the phone or group participants call for help: a temporary number may call it"),
    )
    temporary_may_call: tuple[Target, ...] = Field(
        (),
        description="temporary_may_call names phones and groups (their names, not their numbers)",
        json_schema_extra=doc(
            "more phones and groups a temporary number may call (besides the info desk, the claim code and "
            "the test numbers), e.g. first aid",
            "none",
        ),
    )
    in_directory: StrictBool = Field(
        False,
        json_schema_extra=doc(
            "whether a claimed number appears in the directory unless its participant chooses otherwise on the page"
        ),
    )
    page_port: Number = Field(
        8080,
        ge=1,
        le=65535,
        description="page_port is the registration page's TCP port (1 to 65535)",
        json_schema_extra=doc(
            "the TCP port of the registration page (`http://<pbx_address>:8080/`), open to the phone network only"
        ),
    )
    venue: str | None = Field(
        None,
        description="venue names the venue whose PBX serves self-service",
        json_schema_extra=doc(
            "with venues: the venue whose PBX serves self-service (both ranges among its numbers)",
            "required with venues",
        ),
    )


OUTSIDE_NUMBER_RULE = (
    "an outside number is digits, optionally after a '+', in groups of digits separated by one space, "
    "'-' or '/' (e.g. '+49 30 1234567', in quotes), at most 30 characters"
)
DIAL_RULE = "dial is the digits a phone of the event dials for the outside number: 2 to 20 digits, in quotes"


def _outside_number(value):
    """Taken as written, so it must be text: YAML reads +4930123 and 112 as numbers (a '+' or a
    leading 0 would be lost without a word)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise PydanticCustomError(
            "outside_number",
            "YAML reads it as the number {value}, but an outside number is printed as written: "
            'write it in quotes, e.g. number: "+49 30 1234567"',
            {"value": value},
        )
    return value


class OutsideNumber(Strict):
    """One entry of `outside_numbers:` in event.yml: a number outside the event (the venue's
    reception, a taxi) listed in the directory and its exports; it is no phone."""

    name: DisplayName = Field(json_schema_extra=doc("its name in the directory (e.g. `Taxi`)"))
    number: Annotated[
        str,
        BeforeValidator(_outside_number),
        Field(min_length=2, max_length=30, pattern=r"^\+?[0-9]+([ /-][0-9]+)*$", description=OUTSIDE_NUMBER_RULE),
    ] = Field(json_schema_extra=doc('the number, printed as written (e.g. `"+49 30 1234567"`)'))
    dial: str | None = Field(
        None,
        pattern=r"^[0-9]{2,20}$",
        coerce_numbers_to_str=True,
        description=DIAL_RULE,
        json_schema_extra=doc(
            'what a phone of the event dials for it, with the trunk\'s `dial_out_prefix` (e.g. `"0030123456"`): '
            "only with it is the number in the phones' own directories (snom, Yealink)",
            "none: listed for people only",
        ),
    )
    location: Location | None = Field(None, json_schema_extra=doc("where it is, for the directory"))

    @property
    def tel(self) -> str:
        """The number without its separators: '+49 30 1234-567' -> '+49301234567'."""
        return re.sub(r"[ /-]", "", self.number)


ANNOUNCEMENT_MAX_SECONDS = 600
AUDIO_FILE_RULE = (
    "file is an audio file inside the event directory, written relative to it (e.g. "
    "announcements/programme.wav): wav, flac or ogg, at most "
    f"{ANNOUNCEMENT_MAX_SECONDS // 60} minutes"
)


class Announcement(Strict):
    """One entry of `announcements:` in event.yml: a number that plays an audio file of the
    event directory, then hangs up (docs/routing.md, 'Announcements')."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description=NAME_RULE.replace("it becomes the SIP account, which is ASCII", "it names the file on the PBX"),
        json_schema_extra=doc("the announcement's name (names its converted file on the PBX)"),
    )
    number: Extension = Field(json_schema_extra=doc("the number that plays it"))
    file: str = Field(
        pattern=r"^[^/\x00-\x1f][^\x00-\x1f]{0,199}$",
        description=AUDIO_FILE_RULE,
        json_schema_extra=doc(
            "the audio file, relative to the event directory (wav, flac or ogg; converted with sox to what "
            "Asterisk plays: 8 kHz mono 16-bit)"
        ),
    )
    display_name: DisplayName | None = Field(None, json_schema_extra=doc("its name in the directory", "the name"))
    in_directory: StrictBool = Field(True, json_schema_extra=doc("`false` leaves it out of the directory"))


class Event(Strict):
    """`event.yml`: settings that hold for the whole event."""

    name: str = Field(
        pattern=EVENT_NAME_PATTERN,
        description=EVENT_NAME_RULE,
        json_schema_extra=doc("the event's name; names the secret file"),
    )
    network: str = Field(
        description="the phones' network is an IP network",
        json_schema_extra=doc(
            "the phones' network, e.g. `10.23.0.0/24`: accounts work only from "
            "there (endpoint `permit`), Asterisk's `local_net`, provisioning "
            "served only there"
        ),
    )
    pbx_address: str | None = Field(
        None,
        description="pbx_address is the PBX's IP address in the phone network",
        json_schema_extra=doc(
            "the PBX's address in the phone network, where provisioned phones reach it",
            "required when a phone has a `mac`",
        ),
    )
    sip: Sip = Field(Sip(), json_schema_extra=doc("how Asterisk listens for the phones"))
    provisioning: Provisioning = Field(
        Provisioning(),
        json_schema_extra=doc("how snom phones (those with `mac` and `model`) get their settings from the PBX"),
    )
    security: Security = Field(
        Security(), json_schema_extra=doc("how the PBX bans sources that keep failing (fail2ban)")
    )
    test_numbers: TestNumbers = Field(
        TestNumbers(), json_schema_extra=doc("numbers every phone can dial to check itself")
    )
    ring_timeout: Number = Field(
        DEFAULT_RING_TIMEOUT,
        ge=5,
        le=300,
        description="the seconds a call rings",
        json_schema_extra=doc("seconds a call rings before giving up (a group's default timeout too)"),
    )
    pickup_code: str = Field(
        "*8",
        pattern=r"^\*?[0-9]{1,9}$",
        description="a pickup code is what a phone dials to answer a call ringing in its pickup "
        "group: '*' and digits (e.g. '*8', in quotes), or 2 to 10 digits",
        json_schema_extra=doc("what a phone dials to answer a call ringing in its pickup group"),
    )
    secret_file: str | None = Field(
        None,
        description="secret_file is the path of the event secret",
        json_schema_extra=doc(
            "where the event secret is (`$TELEVOC_SECRET_FILE` overrides it); relative to the event directory",
            "`~/.config/televoc/<name>.secret`",
        ),
    )
    trunk: Trunk | None = Field(
        None, json_schema_extra=doc("the event's account at an upstream network (docs/trunks-and-venues.md)", "none")
    )
    venues: dict[Annotated[str, Field(pattern=EVENT_NAME_PATTERN)], Venue] = Field(
        {}, json_schema_extra=doc("several venues, one PBX each, by name (docs/trunks-and-venues.md)", "one PBX")
    )
    self_service: SelfService | None = Field(
        None,
        json_schema_extra=doc(
            "participants' own phones: temporary numbers and claimed numbers (docs/self-service.md)", "off"
        ),
    )
    board: Board | None = Field(
        None,
        json_schema_extra=doc(
            "the crew's live buildup board: every phone's state by location, behind a crew login (docs/board.md)",
            "off",
        ),
    )
    call_log: CallLog = Field(
        CallLog(),
        json_schema_extra=doc("a record of every call on the PBX, for the crew's statistics (docs/call-log.md)", "off"),
    )
    announcements: tuple[Announcement, ...] = Field(
        (),
        json_schema_extra=doc(
            "numbers that play an audio file of the event directory (docs/routing.md, 'Announcements')", "none"
        ),
    )
    outside_numbers: tuple[OutsideNumber, ...] = Field(
        (),
        json_schema_extra=doc(
            "numbers outside the event listed in the directory and its exports (docs/routing.md, 'Outside numbers')",
            "none",
        ),
    )

    @field_validator("network")
    @classmethod
    def _network(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IP network: write the network address and prefix length, e.g. 10.23.0.0/24"
            ) from None

    @field_validator("pbx_address")
    @classmethod
    def _pbx_address(cls, value: str | None) -> str | None:
        if value is not None:
            _ip_address(value, "10.23.0.2")
        return value


class Forward(Strict):
    """Where calls go that a phone or group does not take: each key names a phone or group."""

    always: Target | None = Field(
        None,
        description=TARGET_RULE,
        json_schema_extra=doc("takes every call, at once (the phone does not ring; takes no other case)"),
    )
    no_answer: Target | None = Field(
        None,
        description=TARGET_RULE,
        json_schema_extra=doc(
            "takes the call when nobody answered within `no_answer_after` (phones) or the group's `timeout`"
        ),
    )
    no_answer_after: Number | None = Field(
        None,
        ge=1,
        le=300,
        description="no_answer_after is the seconds (1 to 300) a phone rings before its no_answer forward",
        json_schema_extra=doc("phones: seconds the phone rings before its `no_answer` forward", "`ring_timeout`"),
    )
    busy: Target | None = Field(
        None,
        description=TARGET_RULE,
        json_schema_extra=doc(
            "takes the call when the phone answers 486 Busy (snom: DND, or busy without call waiting)"
        ),
    )
    unavailable: Target | None = Field(
        None,
        description=TARGET_RULE,
        json_schema_extra=doc("takes the call when the phone is not registered or does not answer qualify: at once"),
    )

    def targets(self) -> list[tuple[str, str]]:
        """(kind, target) for each forward set, in the order they can happen."""
        return [(k, getattr(self, k)) for k in ("always", "busy", "unavailable", "no_answer") if getattr(self, k)]


def ring_seconds(ring_timeout: int, timeout: int | None = None, forward: Forward | None = None) -> int:
    """How long a number rings before it gives up, or its no_answer forward takes the call: a
    group's own `timeout`; a phone's no_answer_after (with a no_answer forward); else the
    event's `ring_timeout`. (The one place that decides it: the checks, the groups of the
    model and the dialplan's routes all ask here.)"""
    if timeout:
        return timeout
    if forward is not None and forward.no_answer and forward.no_answer_after:
        return forward.no_answer_after
    return ring_timeout


def _member(value):
    """A member is written as its name alone (rings at once) or as a mapping."""
    return {"name": value} if isinstance(value, str) else value


class Member(Strict):
    """One member of a group: a phone or another group."""

    name: Target = Field(json_schema_extra=doc("the phone or group, by name"))
    delay: Number = Field(
        0,
        ge=0,
        le=300,
        description="a delay is the seconds (0 to 300) before the member rings",
        json_schema_extra=doc("seconds before the member rings"),
    )
    paused: StrictBool = Field(False, json_schema_extra=doc("a paused member does not ring"))


class GroupEntry(Strict):
    """One entry of `groups.yml`, as written."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description=GROUP_NAME_RULE,
        json_schema_extra=doc("the group's name (phones and groups share names and numbers)"),
    )
    number: Extension = Field(json_schema_extra=doc("the number that rings the group"))
    display_name: DisplayName | None = Field(None, json_schema_extra=doc("its name in the directory", "the name"))
    short: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{0,11}$",
        description=SHORT_RULE,
        json_schema_extra=doc(
            "shown before the caller's name on the phones it rings: `[Info] Alice`", "the display name, cut to 12"
        ),
    )
    timeout: Number | None = Field(
        None,
        ge=5,
        le=300,
        description="a group's timeout is the seconds (5 to 300) it rings before it gives up",
        json_schema_extra=doc(
            "seconds the group rings before it gives up (or its `no_answer` forward takes the call)", "`ring_timeout`"
        ),
    )
    members: list[Annotated[Member, BeforeValidator(_member)]] = Field(
        min_length=1,
        json_schema_extra=doc(
            "phones and groups: `- saal1` rings at once, `- {name: saal2, delay: 10}` 10 s later (below)"
        ),
    )
    forward: Forward | None = Field(
        None,
        json_schema_extra=doc(
            "where calls go that the group does not take (below; `no_answer_after` is the group's `timeout`)", "none"
        ),
    )
    location: Location | None = Field(None, json_schema_extra=doc("where the group answers, for the directory"))
    in_directory: StrictBool = Field(True, json_schema_extra=doc("`false` leaves the group out of the directory"))


class PhoneEntry(Strict):
    """One entry of `phones.yml`, as written."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description=NAME_RULE,
        json_schema_extra=doc("the SIP account (also the endpoint, auth and aor name)"),
    )
    extension: Extension = Field(json_schema_extra=doc("the phone's number; write it quoted if it starts with 0"))
    display_name: DisplayName | None = Field(None, json_schema_extra=doc("shown as caller ID", "the name"))
    password: str | None = Field(
        None,
        description=PASSWORD_RULE,
        json_schema_extra=doc(
            "the SIP password (docs/event.md, 'Passwords')", "derived from the event secret, the same on every run"
        ),
    )
    contact: str | None = Field(
        None,
        pattern=r"^sips?:[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
        description="a contact is a SIP URI, sip:user@host or sip:user@host:port",
        json_schema_extra=doc("a static contact, for a client that cannot register", "none: the phone registers"),
    )
    mac: str | None = Field(
        None,
        description="a MAC is 12 hex digits",
        json_schema_extra=doc(
            'with `model`: televoc provisions the phone (write it quoted, e.g. `"00:04:13:2a:bc:de"`)'
        ),
    )
    model: str | None = Field(
        None,
        pattern=r"^snom[A-Za-z0-9]+$",
        description="a model is 'snom' and its number",
        json_schema_extra=doc("with `mac`: the phone's model, e.g. `snom320`"),
    )
    ringer: Ringer = Field("Ringer1", json_schema_extra=doc("how a provisioned phone rings for direct calls"))
    group_ringer: Ringer | None = Field(
        None,
        json_schema_extra=doc("how it rings for calls through a group (docs/routing.md, 'Quiet ring')", "`ringer`"),
    )
    loud_from: tuple[Target, ...] = Field(
        (),
        json_schema_extra=doc(
            "phones and groups whose calls ring with `loud_ringer` (a silent lecture hall still rings for the "
            "backoffice)",
            "none",
        ),
    )
    loud_ringer: Ringer = Field("Ringer1", json_schema_extra=doc("how it rings for calls from `loud_from`"))
    pickup: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,29}$",
        description=PICKUP_RULE,
        json_schema_extra=doc(
            "a pickup group: phones with the same one answer each other's ringing calls with `pickup_code`", "none"
        ),
    )
    forward: Forward | None = Field(
        None, json_schema_extra=doc("where calls go that the phone does not take (below)", "none")
    )
    location: Location | None = Field(
        None, json_schema_extra=doc("where the phone is, for the directory (e.g. `Hall A, lectern`)")
    )
    in_directory: StrictBool = Field(True, json_schema_extra=doc("`false` leaves the phone out of the directory"))
    address: str | None = Field(
        None,
        pattern=r"^[0-9.]+(:[0-9]{1,5})?$",
        description="an address is the phone's IPv4 address, optionally with :port",
        json_schema_extra=doc("the phone's address, for adopt.py and a factory reset at teardown"),
    )
    web_password_before: str | None = Field(
        None,
        description=PASSWORD_CHARS_RULE,
        json_schema_extra=doc(
            "the phone's web password from before the event (a second-hand phone), for adopt.py; not judged",
            "none (factory fresh)",
        ),
    )
    base: str | None = Field(
        None,
        pattern=NAME_PATTERN,
        description="base names a base station of dect.yml (its name)",
        json_schema_extra=doc(
            "makes the phone a DECT handset of this base of `dect.yml` (the primary, in a multicell system), "
            "instead of `mac` and `model` (docs/dect.md)",
            "none: a desk phone",
        ),
    )
    slot: Number | None = Field(
        None,
        ge=1,
        le=max(k.lines for k in BASE_MODELS.values()),
        description="a slot is the handset's account on its base, a whole number from 1 to the base's lines",
        json_schema_extra=doc(
            "with `base`: the handset's account on the base, at most its lines ("
            + ", ".join(f"{m}: {k.lines}" for m, k in BASE_MODELS.items())
            + "); the handset subscribes with the slot as access code of 4 digits (slot 7: `0007`)",
            "required with `base`",
        ),
    )
    ipei: str | None = Field(
        None,
        description=IPEI_RULE,
        json_schema_extra=doc(
            "with `base`: the handset's IPEI, when the crew knows it: the base then takes only this handset "
            'on the account (`"02156 0123457 0"`)',
            "none: bound by access code",
        ),
    )

    @field_validator("password", "web_password_before")
    @classmethod
    def _password_chars(cls, value: str | None) -> str | None:
        if value is None:
            return value
        bad = re.search(r"[;\\\s\x00-\x1f\"]", value)
        if bad:
            char = {" ": "a space", "\t": "a tab", "\n": "a line break"}.get(bad.group(), repr(bad.group()))
            raise ValueError(f"has {char}, but {PASSWORD_CHARS_RULE}: choose another")
        return value

    @field_validator("mac", mode="before")
    @classmethod
    def _mac(cls, value):
        """'00:04:13:2A:BC:DE' -> '0004132abcde' (one validator: it runs for every phone)."""
        return _mac(value)

    @field_validator("ipei")
    @classmethod
    def _ipei(cls, value: str | None) -> str | None:
        if value is not None:
            why = ipei_problem(value)
            if why is not None:
                raise ValueError(why)
        return value


BASE_NAME_RULE = NAME_RULE.replace("it becomes the SIP account, which is ASCII", "handsets name it with base")


class BaseEntry(Strict):
    """One entry of `dect.yml`, as written: a DECT base station."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description=BASE_NAME_RULE,
        json_schema_extra=doc("the base's name: its handsets name it with `base`"),
    )
    model: str = Field(
        description=MODELS_RULE,
        json_schema_extra=doc("the base's model: " + ", ".join(f"`{m}`" for m in BASE_MODELS)),
    )
    mac: str = Field(
        description="a MAC is 12 hex digits",
        json_schema_extra=doc('its MAC, on its label (write it quoted, e.g. `"00:04:13:6a:bc:de"`)'),
    )
    location: Location | None = Field(None, json_schema_extra=doc("where the base hangs (e.g. `Hall A, ceiling`)"))
    primary: str | None = Field(
        None,
        pattern=NAME_PATTERN,
        description="primary names another base of dect.yml, the primary of this base's multicell system",
        json_schema_extra=doc(
            "in a multicell system: the base that holds the accounts (the primary, data master); this "
            "base then holds none and its handsets name the primary",
            "none: the base is a primary, or a single cell",
        ),
    )

    @field_validator("mac", mode="before")
    @classmethod
    def _mac(cls, value):
        return _mac(value)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        """Taken as written, or refused: a near miss ('M700', 'snomm700') is named, an M500 says why."""
        if value in BASE_MODELS:
            return value
        known = {m.lower(): m for m in (*BASE_MODELS, *REFUSED_MODELS)}
        key = value.lower().replace(" ", "")
        meant = known.get(key) or known.get("snom" + key)
        if meant in REFUSED_MODELS:
            raise ValueError(f"{value!r} is refused: {REFUSED_MODELS[meant]}")
        fix = f"write '{meant}'" if meant else "televoc provisions no other base yet"
        raise ValueError(f"{value!r} is no base televoc knows: {MODELS_RULE}: {fix}")


SERVICE_NAME_RULE = NAME_RULE.replace(
    "it becomes the SIP account, which is ASCII", "it names the paging group, intercom or room in the dialplan"
)
PIN_RULE = 'a PIN is 4 to 10 digits, taken exactly as written (write it in quotes: "0815")'
MEMBERS_RULE = "a paging group, intercom or callers list names phones and groups (their names, not their numbers)"


def _named(value):
    """A member of a service is a name: 1600 could be a phone's name or a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise PydanticCustomError(
            "target_number",
            "is the number {value}, but {rule}: write the name of the phone or group (e.g. backoffice)",
            {"value": value, "rule": MEMBERS_RULE},
        )
    return value


Named = Annotated[str, BeforeValidator(_named), Field(pattern=NAME_PATTERN, description=MEMBERS_RULE)]


class PagingEntry(Strict):
    """One entry under `paging:` in services.yml: a number that puts the caller's voice on the
    speaker of every member phone at once, one-way (Asterisk's Page())."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description=SERVICE_NAME_RULE,
        json_schema_extra=doc("the paging group's name (names of services.yml are their own: no phone's or group's)"),
    )
    number: Extension = Field(json_schema_extra=doc("the number a phone dials to page"))
    display_name: DisplayName | None = Field(
        None, json_schema_extra=doc("its name in the directory and the dialplan's comments", "the name")
    )
    members: tuple[Named, ...] = Field(
        min_length=1,
        json_schema_extra=doc(
            "the phones and groups (every phone in them, paused ones too; forwards do not apply) whose speakers "
            "the page reaches"
        ),
    )
    callers: tuple[Named, ...] = Field(
        (),
        json_schema_extra=doc(
            "the phones and groups (every phone in them) that may page; anyone else hears 403",
            "every phone of the event (never a call from the trunk)",
        ),
    )
    in_directory: StrictBool = Field(
        False,
        json_schema_extra=doc(
            "`true` lists it in the directory and every export, like a phone (anyone may look it up; only "
            "`callers` may page)"
        ),
    )


class IntercomEntry(Strict):
    """One entry under `intercom:` in services.yml: two phones that call each other on the
    speaker, both ways, with one number."""

    name: str = Field(pattern=NAME_PATTERN, description=SERVICE_NAME_RULE, json_schema_extra=doc("the intercom's name"))
    number: Extension = Field(
        json_schema_extra=doc("the number either phone dials to be heard at once on the other's speaker")
    )
    phones: tuple[Named, Named] = Field(
        description="an intercom joins two phones (their names): phones: [backoffice, stage]",
        json_schema_extra=doc("the two phones, by name: each reaches the other with `number`; no other phone may"),
    )
    display_name: DisplayName | None = Field(None, json_schema_extra=doc("its name in the directory", "the name"))
    in_directory: StrictBool = Field(
        False,
        json_schema_extra=doc("`true` lists it in the directory and every export (only its two phones may dial it)"),
    )


class ConferenceEntry(Strict):
    """One entry under `conferences:` in services.yml: a conference room (Asterisk's ConfBridge)."""

    name: str = Field(pattern=NAME_PATTERN, description=SERVICE_NAME_RULE, json_schema_extra=doc("the room's name"))
    number: Extension = Field(json_schema_extra=doc("the number that joins the room"))
    display_name: DisplayName | None = Field(
        None, json_schema_extra=doc("its name in the directory and the dialplan's comments", "the name")
    )
    in_directory: StrictBool = Field(
        True,
        json_schema_extra=doc("`false` leaves the room out of the directory (its PIN is never in the directory)"),
    )
    pin: str | None = Field(
        None,
        pattern=r"^[0-9]{4,10}$",
        description=PIN_RULE,
        json_schema_extra=doc(
            "the PIN a caller keys in (then #) before joining; three wrong ones end the call. An access code "
            "shared with the participants, kept on the PBX outside the Nix store like the SIP passwords "
            "(docs/threat-model.md), never a password",
            "none: anyone who dials the number joins",
        ),
    )

    @field_validator("pin", mode="before")
    @classmethod
    def _pin(cls, value):
        """A PIN is text: 4711 (a YAML number) is refused, since YAML drops a leading 0 of others."""
        if isinstance(value, int) and not isinstance(value, bool):
            raise PydanticCustomError(
                "pin_number",
                "YAML reads {value} as a number, but {rule}: write '{value}' in quotes",
                {"value": value, "rule": PIN_RULE},
            )
        return value


class Paging(BaseModel):
    """A paging group as it is deployed: the phones it pages, who may page."""

    model_config = ConfigDict(frozen=True)

    name: str
    number: str
    display_name: str
    phones: tuple[tuple[str, str], ...]  # (name, extension), by extension
    callers: tuple[str, ...] | None = None  # extensions that may page; None: every phone
    in_directory: bool = False


class Intercom(BaseModel):
    """An intercom as it is deployed: its two phones, (name, extension) each."""

    model_config = ConfigDict(frozen=True)

    name: str
    number: str
    ends: tuple[tuple[str, str], tuple[str, str]]
    display_name: str
    in_directory: bool = False


class Conference(BaseModel):
    """A conference room as it is deployed."""

    model_config = ConfigDict(frozen=True)

    name: str
    number: str
    display_name: str
    pin: str | None = Field(None, repr=False)
    in_directory: bool = True


class Services(BaseModel):
    """services.yml resolved: paging groups, intercoms, conference rooms."""

    model_config = ConfigDict(frozen=True)

    paging: tuple[Paging, ...] = ()
    intercoms: tuple[Intercom, ...] = ()
    conferences: tuple[Conference, ...] = ()


class DectBase(BaseModel):
    """A DECT base station as it is deployed: its web password settled (derived)."""

    model_config = ConfigDict(frozen=True)

    name: str
    model: str
    mac: str
    location: str | None = None
    primary: str | None = None  # None: it holds the accounts of its handsets
    web_password: str = Field(repr=False)

    @property
    def holds_accounts(self) -> bool:
        """Only a primary (or a single cell) holds accounts; a secondary takes them from it."""
        return self.primary is None


class Account(BaseModel):
    """A phone as it is deployed: the passwords are settled (given or derived). The one view
    of a phone that renderers and operations take; its repr shows no password."""

    model_config = ConfigDict(frozen=True)

    name: str
    extension: str
    display_name: str
    password: str = Field(repr=False)
    contact: str | None = None
    mac: str | None = None
    model: str | None = None
    ringer: str = "Ringer1"
    group_ringer: str | None = None
    loud_from: tuple[str, ...] = ()
    loud_ringer: str = "Ringer1"
    pickup: str | None = None
    forward: Forward | None = None
    location: str | None = None
    in_directory: bool = True
    address: str | None = None
    # the phone's web password before televoc manages it (second-hand phone), for adopt
    web_password_before: str | None = Field(None, repr=False)
    # the web password televoc sets on provisioned phones for the event (derived)
    event_web_password: str | None = Field(None, repr=False)
    # a DECT handset: its base (dect.yml), its slot (account) there, its IPEI when known
    base: str | None = None
    slot: int | None = None
    ipei: str | None = None

    @property
    def provisioned(self) -> bool:
        return self.mac is not None


class Group(BaseModel):
    """A group as it is deployed (validated: its members and targets exist, no cycle)."""

    model_config = ConfigDict(frozen=True)

    name: str
    number: str
    display_name: str
    short: str
    timeout: int
    members: tuple[Member, ...]
    forward: Forward | None = None
    location: str | None = None
    in_directory: bool = True


class TrunkAccount(BaseModel):
    """The trunk as it is deployed: its password read from the trunk secret file, and the
    phones that may call out (resolved from dial_out)."""

    model_config = ConfigDict(frozen=True)

    trunk: Trunk
    password: str = Field(repr=False)
    callers: tuple[str, ...]  # extensions of the phones that may call out


class Peer(BaseModel):
    """Another venue's PBX, as this venue's PBX peers with it."""

    model_config = ConfigDict(frozen=True)

    name: str
    address: str
    numbers: tuple[str, ...]
    password: str = Field(repr=False)  # shared by the two PBXes, derived from the event secret


class DialOutVia(BaseModel):
    """A venue without the trunk: its phones call out over the peering to the PBX of the
    trunk's venue, which sends the call out (and checks again who may)."""

    model_config = ConfigDict(frozen=True)

    venue: str  # the venue whose PBX registers the trunk
    prefix: str  # trunk.dial_out_prefix
    callers: tuple[str, ...]  # the extensions of this venue's phones that may call out


class VenueView(BaseModel):
    """The venue a Directory is cut for (venue_directory): its name and numbers, its peers,
    and the other venues' phones and groups (name -> number, for forwards to them)."""

    model_config = ConfigDict(frozen=True)

    name: str
    numbers: tuple[str, ...]
    peers: tuple[Peer, ...]
    remote: tuple[tuple[str, str], ...] = ()
    loud: tuple[tuple[str, tuple[str, ...]], ...] = ()  # extension -> loud callers (whole event)
    dial_out: DialOutVia | None = None  # the trunk is at another venue


class AnnouncementAudio(BaseModel):
    """An announcement as it is deployed: its file converted to what Asterisk plays (8 kHz
    mono 16-bit wav), checked and measured."""

    model_config = ConfigDict(frozen=True)

    name: str
    number: str
    display_name: str
    in_directory: bool = True
    seconds: float  # how long it plays
    source: str  # the file, relative to the event directory
    audio: bytes = Field(repr=False)


class Directory(BaseModel):
    """The validated event directory: what every renderer takes. With venues, each PBX gets
    the Directory of its venue (roles.event.venue_directory): its own phones and groups."""

    model_config = ConfigDict(frozen=True)

    event: Event
    accounts: tuple[Account, ...]
    groups: tuple[Group, ...] = ()
    trunk: TrunkAccount | None = None
    venue: VenueView | None = None
    bases: tuple[DectBase, ...] = ()  # DECT base stations (dect.yml)
    announcements: tuple[AnnouncementAudio, ...] = ()  # this PBX's (with venues: its venue's)
    services: Services = Services()  # paging, intercoms, conference rooms (services.yml)
    # the crew's password for the board (event.yml board:), read from its file
    board_password: str | None = Field(None, repr=False)
    # (peer_key, password) for each pair of venues (roles/event/venues.py)
    peer_passwords: tuple[tuple[str, str], ...] = Field((), repr=False)

    @property
    def provisioned(self) -> tuple[Account, ...]:
        return tuple(a for a in self.accounts if a.provisioned)

    def handsets(self, base: str) -> tuple[Account, ...]:
        """The handsets whose accounts base `base` holds, by slot."""
        return tuple(sorted((a for a in self.accounts if a.base == base), key=lambda a: a.slot or 0))

    def emptied(self) -> Directory:
        """The event with nothing of its own: no phone, group, trunk or other venue (what a
        teardown leaves the PBX serving)."""
        return Directory(event=self.event, accounts=(), groups=(), trunk=None, venue=None, bases=(), announcements=())

    def __repr__(self) -> str:  # never print passwords by accident
        bases = f", bases={len(self.bases)}" if self.bases else ""
        return f"Directory(event={self.event.name!r}, accounts={len(self.accounts)}{bases})"

    __str__ = __repr__
