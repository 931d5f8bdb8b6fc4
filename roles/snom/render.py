"""Pure renderers of snom provisioning files (XML settings). No host, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from roles import names
from roles.event import Account, Directory
from roles.templating import render

# Where the deploy publishes the provisioning files (root:televoc-provisioning 0750/0640).
PROVISIONING_DIR = "/var/lib/televoc-phones"
# snom 320/360/370/7xx have 12 identities, the 300 has 4; a phone ignores the ones it lacks.
IDENTITIES = 12
# The provisioning server's code, shipped next to televoc's NixOS module.
PROVISIOND = Path(__file__).resolve().parent / "files" / "provisiond.py"
# How long a fetched version stays on offer (a phone that reboots while applying it fetches
# again), and how many unknown MACs lock the server (see provisiond.py and README).
FETCH_WINDOW = 600
MAX_UNKNOWN_MACS = 32


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
    + window, max_unknown, prefix: see provisiond.py
    """

    bind: str
    port: int
    network: str
    files: str
    window: int = FETCH_WINDOW
    max_unknown: int = MAX_UNKNOWN_MACS
    prefix: str = names.PROVISIONING_URL_PATH
    service: str = names.PROVISIONING_SERVICE
    user: str = names.PROVISIONING_USER

    @property
    def state_path(self) -> str:
        return f"/var/lib/{self.service}/state.json"

    @property
    def log_path(self) -> str:
        return f"/var/log/{self.service}/access.log"


def provisioning_service(directory: Directory, files: str = PROVISIONING_DIR) -> ProvisioningService:
    event = directory.event
    return ProvisioningService(
        bind=event.pbx_address, port=event.provisioning.http_port, network=event.network, files=files
    )


def file_name(account: Account) -> str:
    """snom phones put their MAC in upper case, without separators, into {mac}."""
    return f"{account.mac.upper()}.xml"


def _other_identities_off() -> list[tuple[str, int, str]]:
    rows = []
    for idx in range(2, IDENTITIES + 1):
        rows += [("user_active", idx, "off"), ("user_name", idx, ""), ("user_pname", idx, ""),
                 ("user_pass", idx, ""), ("user_host", idx, "")]
    return rows


# The values that differ between phones: the template is rendered once per event with these
# placeholders and split there; each phone's file is the pieces joined with its own values
# (10,000 phones in a fraction of a second; see Skeleton).
_PER_PHONE = ("purpose", "realname", "name", "pass", "webpass", "ringer")


def _settings(directory: Directory, url: str) -> list[tuple[str, int, str]]:
    event = directory.event
    host = f"{event.sip.domain or event.pbx_address}:{event.sip.port}"
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
    ]


def _comment(text: str) -> str:
    """Text for an XML comment ('--' may not appear in one)."""
    return escape(text).replace("--", "- -")


def _xml(purpose: str, rows: list[tuple[str, int, str]]) -> str:
    settings = [(name, idx, value if value.startswith("@@") and value.endswith("@@") else escape(value))
                for name, idx, value in rows]
    return render(__file__, "settings.xml.j2", purpose=purpose, settings=settings)


class Skeleton:
    """The settings file of an event with its per-phone values left open, split once."""

    def __init__(self, text: str):
        self.parts = re.split(r"@@(" + "|".join(_PER_PHONE) + r")@@", text)

    def fill(self, values: dict[str, str]) -> str:
        parts = self.parts
        return "".join(parts[i] if i % 2 == 0 else values[parts[i]] for i in range(len(parts)))


def render_provisioning(directory: Directory) -> dict[str, str]:
    """File name -> snom XML for every phone with a MAC: identity 1 is the phone's account,
    identities 2..12 off, the web interface locked with the event's web password."""
    skeleton = Skeleton(_xml("@@purpose@@", _settings(directory, provisioning_url(directory))))
    event = directory.event.name
    return {
        file_name(a): skeleton.fill({
            "purpose": _comment(f"phone {a.name} ({a.model}), event {event}"),
            "realname": escape(a.display_name), "name": escape(a.name), "pass": escape(a.password),
            "webpass": escape(a.event_web_password), "ringer": escape(a.ringer),
        })
        for a in directory.provisioned
    }


def render_wipe(directory: Directory) -> dict[str, str]:
    """File name -> snom XML that wipes the event from the phone (teardown)."""
    return {
        file_name(a): text
        for text in [_xml(_comment(f"teardown of event {directory.event.name}: identities off, passwords cleared"),
                          _wiped())]
        for a in directory.provisioned
    }
