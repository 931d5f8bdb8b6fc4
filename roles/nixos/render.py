"""Pure renderer of the NixOS module that sets services.asterisk. No host, no I/O."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from roles.asterisk.render import SECRETS_PATH, SECURITY_LOG, AsteriskConfig
from roles.event import Directory
from roles.templating import render, without_gc

if TYPE_CHECKING:  # the snom role imports the asterisk role, which imports this module
    from roles.snom.render import ProvisioningService

# The provisioning server's code, next to the module on the server: `${./provisiond.py}`.
PROVISIOND_FILE = "provisiond.py"

_INDENT = " " * 8


def nix_indented_string(text: str, indent: str = _INDENT) -> str:
    """`text` as a Nix ''indented string'' that evaluates back to exactly `text`.

    Every non-empty line gets the same indentation, which Nix strips; `''` and `${` are
    escaped. Nix drops the whitespace before the closing quotes, and keeps a final newline.
    (Whole-text operations: a dialplan of 10,000 phones has 100,000 lines.)
    """
    if "\t" in text or "\r" in text or _TRAILING_BLANK.search(text):
        line = next(line for line in text.split("\n")
                    if "\t" in line or "\r" in line or line != line.rstrip())
        raise ValueError(f"config line {line!r}: no tabs, carriage returns or trailing blanks")
    if not _COLUMN_ONE.search(text):
        raise ValueError("config text needs a line that starts in column 1")
    escaped = text.replace("''", "'''").replace("${", "''${")
    body = _LINE_START.sub(indent, escaped)
    closing = indent[:-2] if text.endswith("\n") else ""
    return f"''\n{body}{closing}''"


_TRAILING_BLANK = re.compile(r" (?:\n|\Z)")  # a line ending in a blank, or only blanks
_COLUMN_ONE = re.compile(r"^\S", re.M)
_LINE_START = re.compile(r"^(?=.)", re.M)  # the start of each non-empty line


@without_gc
def render_module(
    directory: Directory,
    asterisk: AsteriskConfig,
    provisioning: "Optional[ProvisioningService]" = None,
    secrets_path: str = SECRETS_PATH,
    enable: bool = True,
) -> str:
    """The Nix module text; deterministic (files in name order). `enable=False` stops and
    disables Asterisk (teardown). With `provisioning`, the module runs televoc's provisioning
    server (PROVISIOND_FILE next to the module) and opens its port to the phone network only,
    with the rule the firewall's backend takes (iptables or nftables). fail2ban bans sources
    that keep failing (Asterisk's security log; the provisioning server's refusals) from every
    port, with the event's security settings."""
    sip = directory.event.sip
    return render(
        __file__,
        "etc/nixos/televoc/asterisk.nix.j2",
        event=directory.event,
        enable=enable,
        secrets_path=secrets_path,
        conf_files=[
            (name, nix_indented_string(asterisk.conf_files[name]))
            for name in sorted(asterisk.conf_files)
        ],
        sip_port=sip.port,
        provisioning=provisioning,
        provisiond=PROVISIOND_FILE,
        security=directory.event.security,
        security_log=SECURITY_LOG,
        network=directory.event.network,
        iptables="ip6tables" if ":" in directory.event.network else "iptables",
        nft_family="ip6" if ":" in directory.event.network else "ip",
        rtp_start=sip.rtp_start,
        rtp_end=sip.rtp_end,
    )
