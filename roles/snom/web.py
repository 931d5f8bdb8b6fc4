"""Requests to phones' web interfaces, sent from the PBX with curl. Pure: no host, no I/O.

The PBX sits in the phone network, so it reaches phones the deploying laptop may not. Every
request of a run goes into one curl config file (credentials inside it, never on a command
line), and curl writes one line per request: "<HTTP status> <phone name>".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WebRequest:
    """GETs to one phone's web interface.

    + phone: the phone's name (labels curl's answer)
    + address: its IP (or IP:port); None when it is to be taken from its registration
    + paths: the paths to GET, in order
    + user, password: HTTP auth (Basic or Digest, as the phone asks); no password: none
    """

    phone: str
    address: str | None
    paths: tuple[str, ...]
    user: str = "admin"
    password: str | None = field(default=None, repr=False)


def _quoted(text: str) -> str:
    """A curl config string value (double quotes, backslash escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def curl_config(requests: Iterable[WebRequest]) -> str:
    """The curl config (`curl -K FILE`) for `requests`; every request has an address."""
    blocks = []
    for request in requests:
        if request.address is None:
            raise ValueError(f"{request.phone}: no address")
        for path in request.paths:
            lines = [f"url = {_quoted(f'http://{request.address}{path}')}", "output = /dev/null", "max-time = 5"]
            if request.password:
                lines += [f"user = {_quoted(f'{request.user}:{request.password}')}", "anyauth"]
            lines.append(f'write-out = "%{{http_code}} {request.phone}\\n"')
            blocks.append("\n".join(lines))
    return "\nnext\n".join(blocks) + "\n"


_REPLY = re.compile(r"^(\d{3}) (\S+)$")


@dataclass(frozen=True)
class Replies:
    """What the phones answered: those whose every request got a 2xx, and the others with
    what they got ("HTTP 401", "no answer")."""

    good: tuple[str, ...]
    bad: dict[str, str]


def parse_replies(lines: Iterable[str], phones: Iterable[str]) -> Replies:
    """curl's write-out lines -> Replies for `phones` (in their order). curl writes 000 when
    it got no HTTP answer at all (refused, timed out)."""
    codes: dict[str, list[str]] = {}
    for line in lines:
        match = _REPLY.match(line.strip())
        if match:
            codes.setdefault(match[2], []).append(match[1])
    good, bad = [], {}
    for phone in phones:
        answered = [c for c in codes.get(phone, []) if c != "000"]
        if answered and len(answered) == len(codes[phone]) and all(c.startswith("2") for c in answered):
            good.append(phone)
        elif not answered:
            bad[phone] = "no answer"
        else:
            bad[phone] = "HTTP " + ",".join(codes[phone])
    return Replies(tuple(good), bad)
