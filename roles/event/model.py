"""The event directory as a typed model.

Everything an event crew writes in YAML is checked here, field by field, before any host is
touched. Cross-entry rules (duplicates, collisions, passwords) live in `load.py`, which knows the
file names needed for a helpful message.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from roles.names import RESERVED_NAMES, RESERVED_PREFIX

# A name Asterisk can take as a section name, a dial string (PJSIP/<name>) and a SIP user part.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
MIN_PASSWORD_LENGTH = 12
# YAML keys that were renamed: old -> new (a directory with the old key gets this hint).
RENAMED_KEYS = {"web_password": "web_password_before"}


def _digits(value):
    """Extensions may be written as YAML numbers (1001) or strings ("0100")."""
    if isinstance(value, bool):
        return value  # let the str check reject it
    if isinstance(value, int):
        return str(value)
    return value


Extension = Annotated[str, BeforeValidator(_digits), Field(pattern=r"^[0-9]{2,10}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sip(Strict):
    """How Asterisk listens for the phones."""

    # digest realm of the challenges (Asterisk's default: "asterisk")
    realm: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    # the SIP domain phones register to (snom user_host); default: pbx_address
    domain: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
    bind: str = "0.0.0.0"
    port: int = Field(5060, ge=1, le=65535)
    rtp_start: int = Field(10000, ge=1024, le=65534)
    rtp_end: int = Field(20000, ge=1025, le=65535)

    @field_validator("bind")
    @classmethod
    def _ip(cls, value: str) -> str:
        ipaddress.ip_address(value)
        return value


class TestNumbers(Strict):
    """Numbers every phone can dial to check itself."""

    hello_world: Extension = "100"
    echo: Extension = "101"


class Provisioning(Strict):
    """How snom phones (those with mac and model) get their settings from the PBX."""

    http_port: int = Field(8088, ge=1, le=65535)
    web_user: str = Field("admin", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    keepalive_interval: int = Field(30, ge=0, le=3600)


class Event(Strict):
    """`event.yml`: settings that hold for the whole event."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    network: str
    pbx_address: Optional[str] = None
    sip: Sip = Sip()
    provisioning: Provisioning = Provisioning()
    test_numbers: TestNumbers = TestNumbers()
    ring_timeout: int = Field(20, ge=5, le=300)
    secret_file: Optional[str] = None

    @field_validator("network")
    @classmethod
    def _network(cls, value: str) -> str:
        return str(ipaddress.ip_network(value, strict=False))

    @field_validator("pbx_address")
    @classmethod
    def _pbx_address(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            ipaddress.ip_address(value)
        return value


class PhoneEntry(Strict):
    """One entry of `phones.yml`, as written."""

    name: str = Field(pattern=NAME_PATTERN)
    extension: Extension
    display_name: Optional[str] = Field(None, pattern=r'^[^"<>;\\\x00-\x1f]{1,40}$')
    password: Optional[str] = None
    contact: Optional[str] = Field(
        None, pattern=r"^sips?:[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?$"
    )
    mac: Optional[str] = None
    model: Optional[str] = Field(None, pattern=r"^snom[A-Za-z0-9]+$")
    ringer: str = Field("Ringer1", pattern=r"^(Ringer([1-9]|10)|Silent)$")
    address: Optional[str] = Field(None, pattern=r"^[0-9.]+(:[0-9]{1,5})?$")
    # the phone's web password before the event (a second-hand phone), for adopt.py
    web_password_before: Optional[str] = None

    @field_validator("password", "web_password_before")
    @classmethod
    def _password_chars(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return value
        if re.search(r"[;\\\s\x00-\x1f\"]", value):
            raise ValueError("must not contain spaces, quotes, ';' or '\\' (Asterisk config syntax)")
        return value

    @field_validator("mac", mode="before")
    @classmethod
    def _mac_is_text(cls, value):
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError("YAML read this MAC as a number: write it in quotes, e.g. '00:04:13:2a:bc:de'")
        return value

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return value
        digits = re.sub(r"[:.-]", "", value).lower()
        if not re.fullmatch(r"[0-9a-f]{12}", digits):
            raise ValueError("must be 12 hex digits, e.g. 00:04:13:2a:bc:de")
        return digits


class Account(BaseModel):
    """A phone as it is deployed: the passwords are settled (given or derived). The one view
    of a phone that renderers and operations take; its repr shows no password."""

    model_config = ConfigDict(frozen=True)

    name: str
    extension: str
    display_name: str
    password: str = Field(repr=False)
    contact: Optional[str] = None
    mac: Optional[str] = None
    model: Optional[str] = None
    ringer: str = "Ringer1"
    address: Optional[str] = None
    # the phone's web password before televoc manages it (second-hand phone), for adopt
    web_password_before: Optional[str] = Field(None, repr=False)
    # the web password televoc sets on provisioned phones for the event (derived)
    event_web_password: Optional[str] = Field(None, repr=False)

    @property
    def provisioned(self) -> bool:
        return self.mac is not None


class Directory(BaseModel):
    """The validated event directory: what every renderer takes."""

    model_config = ConfigDict(frozen=True)

    event: Event
    accounts: tuple[Account, ...]

    @property
    def provisioned(self) -> tuple[Account, ...]:
        return tuple(a for a in self.accounts if a.provisioned)

    def without_phones(self) -> "Directory":
        """The event with no phone at all (teardown applies it)."""
        return Directory(event=self.event, accounts=())

    def __repr__(self) -> str:  # never print passwords by accident
        return f"Directory(event={self.event.name!r}, accounts={len(self.accounts)})"

    __str__ = __repr__
