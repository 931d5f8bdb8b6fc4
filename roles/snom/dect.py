"""snom M-series DECT bases (M300, M400, M700, M900): their provisioning files. Pure: no host,
no I/O; the one place that knows snom's DECT file names and setting names.

A base asks the setting server for `snom<MODEL>.htm`, then `snom<MODEL>-<MAC>.htm`, and
follows the `<setting-files>` list in each (snom's auto provisioning with a URL that has no
file name; the same files the Wazo snom DECT plugin serves). televoc's model file lists
nothing; the per-MAC file lists the base's settings, `<MAC>.xml` (upper case, no separators,
like a desk phone's: a MAC is one device, so the names never meet). The settings are snom's
flat XML, as for desk phones:

- every base: the setting server, and its web interface locked with its own derived password
  (admin, and on newer firmware also the engineer and basic users);
- the primary of a multicell system (or a single cell) also holds the accounts: the SIP
  server, and per handset, at index `slot`, its account (`user_*`), the handset index bound to
  it (`subscr_sip_hs_idx` = slot), the access code the handset subscribes with
  (`subscr_dect_ac_code`: the slot in 4 digits) and, when the crew knows it, the handset's
  IPUI (`subscr_dect_ipui`: then only that handset takes the account). Every other slot up to
  the model's lines is switched off with its name and password emptied, so a handset removed
  from phones.yml leaves no account behind;
- a secondary base holds no account: it takes them from its primary over the multicell
  system, so its file carries no password but its own web password.

Setting names as the notes (dect.md 1.2, 1.3) found them in the Wazo templates and public
generators; snom's own documentation of `auto_dect_register`, `subscr_dect_ac_code` and
`subscr_dect_ipui` was not found: the lab cannot prove that a real base takes them
(docs/dect.md says how a crew checks it with one real base).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from roles.event import Account, DectBase, Directory
from roles.event.dectmodels import BASE_MODELS
from roles.event.ipei import ipui_hex
from roles.shared import names
from roles.shared.templating import render, without_gc

VENDOR = "snom"
SIP_SERVER = 1  # the one server block every account registers to


def model_file(model: str) -> str:
    """What every base of `model` asks for first: `snomM700.htm`."""
    return f"{model}.htm"


def mac_file(base: DectBase) -> str:
    """What the base asks for next: `snomM700-0004136A0001.htm`."""
    return f"{base.model}-{base.mac.upper()}.htm"


def settings_file(base: DectBase) -> str:
    """The base's settings, named like a desk phone's: `0004136A0001.xml`."""
    return f"{base.mac.upper()}.xml"


def setting_server(directory: Directory) -> str:
    """The URL without a file name that a base fetches its files under (DHCP option 66)."""
    event = directory.event
    return f"http://{event.pbx_address}:{event.provisioning.http_port}{names.PROVISIONING_URL_PATH}/"


def access_code(slot: int) -> str:
    """The access code a handset subscribes to slot `slot` with: the slot in 4 digits."""
    return f"{slot:04d}"


def _settings(purpose: str, rows: list[tuple[str, int, str]]) -> str:
    return render(__file__, "settings.xml.j2", purpose=purpose, settings=rows, tbook=None)


def _base_rows(directory: Directory, base: DectBase) -> list[tuple[str, int, str]]:
    password = escape(base.web_password)
    return [
        ("setting_server", 0, escape(setting_server(directory))),
        ("http_user", 0, escape(directory.event.provisioning.web_user)),
        ("http_pass", 0, password),
        ("http_engineer_pass", 0, password),
        ("http_basic_pass", 0, password),
    ]


def _server_rows(directory: Directory) -> list[tuple[str, int, str]]:
    event = directory.event
    return [
        ("srv_sip_server_alias", SIP_SERVER, escape(f"televoc {event.name}")),
        ("user_host", SIP_SERVER, escape(f"{event.sip.domain or event.pbx_address}:{event.sip.port}")),
        ("auto_dect_register", 0, "on"),
    ]


def _account_rows(handset: Account) -> list[tuple[str, int, str]]:
    slot = handset.slot
    if slot is None:  # the load refuses a handset without slot
        raise ValueError(f"handset {handset.name} has no slot")
    rows = [
        ("user_active", slot, "on"),
        ("user_realname", slot, escape(handset.display_name)),
        ("subscr_sip_line_name", slot, escape(handset.display_name)),
        ("user_name", slot, escape(handset.name)),
        ("user_pname", slot, escape(handset.name)),
        ("user_pass", slot, escape(handset.password)),
        ("subscr_sip_ua_data_server_id", slot, str(SIP_SERVER)),
        ("subscr_sip_hs_idx", slot, str(slot)),
        ("subscr_dect_ac_code", slot, access_code(slot)),
    ]
    if handset.ipei is not None:
        rows.append(("subscr_dect_ipui", slot, ipui_hex(handset.ipei)))
    return rows


def _off_rows(slot: int) -> list[tuple[str, int, str]]:
    return [("user_active", slot, "off"), ("user_name", slot, ""), ("user_pname", slot, ""), ("user_pass", slot, "")]


def render_model_file(model: str) -> str:
    """`snom<MODEL>.htm`: the same for every event, lists no file (nothing model-wide to set)."""
    return render(__file__, "setting-files.htm.j2", purpose=f"{model}: nothing model-wide", urls=[])


def render_mac_file(directory: Directory, base: DectBase) -> str:
    """`snom<MODEL>-<MAC>.htm`: points the base at its settings file."""
    url = setting_server(directory) + settings_file(base)
    return render(__file__, "setting-files.htm.j2", purpose=f"base {base.name}: its settings", urls=[escape(url)])


def render_base(directory: Directory, base: DectBase) -> str:
    """`<MAC>.xml`: a base's settings; a primary's (or single cell's) with its handsets' accounts."""
    event = directory.event.name
    rows = _base_rows(directory, base)
    if not base.holds_accounts:
        purpose = f"base {base.name} ({base.model}), event {event}: secondary of {base.primary}, holds no account"
        return _settings(escape(purpose).replace("--", "- -"), rows)
    handsets = {a.slot: a for a in directory.handsets(base.name)}
    rows += _server_rows(directory)
    for slot in range(1, BASE_MODELS[base.model].lines + 1):
        handset = handsets.get(slot)
        rows += _account_rows(handset) if handset is not None else _off_rows(slot)
    count = f"{len(handsets)} handset account{'' if len(handsets) == 1 else 's'}"
    purpose = f"base {base.name} ({base.model}), event {event}: {count}"
    return _settings(escape(purpose).replace("--", "- -"), rows)


def render_wiped_base(directory: Directory, base: DectBase) -> str:
    """`<MAC>.xml` at teardown: the event wiped from the base, as from a desk phone (its wiped
    profile): no setting server, no web password, no SIP server, and every slot up to the
    model's lines switched off with its name, password, access code and IPUI emptied. A base
    that fetched it holds none of the event's passwords."""
    rows = [
        ("setting_server", 0, ""),
        ("http_pass", 0, ""),
        ("http_engineer_pass", 0, ""),
        ("http_basic_pass", 0, ""),
        ("user_host", SIP_SERVER, ""),
    ]
    for slot in range(1, BASE_MODELS[base.model].lines + 1):
        rows += [
            *_off_rows(slot),
            ("user_realname", slot, ""),
            ("subscr_sip_line_name", slot, ""),
            ("subscr_dect_ac_code", slot, ""),
            ("subscr_dect_ipui", slot, ""),
        ]
    purpose = f"teardown of event {directory.event.name}: base {base.name} ({base.model}) wiped, every account off"
    return _settings(escape(purpose).replace("--", "- -"), rows)


@without_gc
def render_bases(directory: Directory, wiped: bool = False) -> dict[str, str]:
    """File name -> text of every file the snom bases of `directory` fetch: each model's file,
    each base's per-MAC file and its settings (`wiped`: the teardown's, render_wiped_base)."""
    files: dict[str, str] = {}
    for base in directory.bases:
        if BASE_MODELS[base.model].vendor != VENDOR:
            continue
        files.setdefault(model_file(base.model), render_model_file(base.model))
        files[mac_file(base)] = render_mac_file(directory, base)
        files[settings_file(base)] = render_wiped_base(directory, base) if wiped else render_base(directory, base)
    return files
