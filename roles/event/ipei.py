"""A DECT handset's IPEI (International Portable Equipment Identity) in its standard form.

ETSI EN 300 175-6 (Annex C) writes an IPEI as its 16-bit manufacturer code (EMC) in 5 decimal
digits, its 20-bit serial number (PSN) in 7, and a check digit: `02156 0123457 0`. The check
digit is the sum of the 12 digits, each times its position (1 to 12), modulo 11; 10 is written
`*`. A base station wants the same identity as the handset's IPUI (type N) in hex: a `0`,
then EMC in 4 and PSN in 5 hex digits (`0086C1E241`). Pure functions, no I/O.
"""

from __future__ import annotations

import re

IPEI_RULE = (
    "an IPEI is written in its standard form: 5 digits, a space, 7 digits, a space and the check "
    "digit (0-9 or *), as on the handset's label, e.g. '02156 0123457 0'"
)
_STANDARD = re.compile(r"(\d{5}) (\d{7}) ([0-9*])")
_HEX = re.compile(r"0[0-9A-Fa-f]{9}")


def check_digit(twelve: str) -> str:
    """The check digit of the 12 digits of EMC and PSN."""
    total = sum(int(d) * i for i, d in enumerate(twelve, start=1)) % 11
    return "*" if total == 10 else str(total)


def standard(emc: int, psn: int) -> str:
    """The standard form of an IPEI: '02156 0123457 0'."""
    digits = f"{emc:05d}{psn:07d}"
    return f"{digits[:5]} {digits[5:]} {check_digit(digits)}"


def problem(value: str) -> str | None:
    """Why `value` is no IPEI in its standard form, with the fix; None when it is one."""
    match = _STANDARD.fullmatch(value)
    if match is None:
        if _HEX.fullmatch(value):
            emc, psn = int(value[1:5], 16), int(value[5:], 16)
            return (
                f"{value!r} looks like the hex IPUI a handset shows, but {IPEI_RULE}: "
                f"write '{standard(emc, psn)}' if that is the one"
            )
        return f"{value!r} does not fit: {IPEI_RULE}"
    code, serial, digit = match.groups()
    if int(code) > 0xFFFF or int(serial) > 0xFFFFF:
        part = "manufacturer code is above 65535" if int(code) > 0xFFFF else "serial is above 1048575"
        return f"{value!r}: its {part}, so it is no IPEI: copy it again from the handset's label"
    expected = check_digit(code + serial)
    if digit != expected:
        return (
            f"{value!r}: its check digit is {digit}, but {code} {serial} has the check digit {expected}: "
            "a digit is mistyped: copy it again from the handset's label"
        )
    return None


def ipui_hex(value: str) -> str:
    """The IPUI (type N) a snom base takes for an IPEI in standard form: '0' + EMC + PSN in hex,
    upper case, 10 digits."""
    match = _STANDARD.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is no IPEI in standard form")
    emc, psn = int(match.group(1)), int(match.group(2))
    return f"0{emc:04X}{psn:05X}"
