"""A large remote answer sent back as one line: printable ASCII, gzip, base64.

pyinfra reads a command's output line by line, and each line costs it a queue hand-off between
greenlets: at 2000 registered phones Asterisk's state is about 8,000 lines and that hand-off
was most of what a rerun added to pyinfra's floor. Packed, the same answer is one line of about
a tenth of the bytes (it also travels faster over an event's slow uplink).

Only printable ASCII is packed (tab and newline kept): a byte that is not UTF-8 (a phone's user
agent, a damaged file) cannot break the run; televoc's own files are ASCII. gzip and base64 are
part of every NixOS system (`gzip`, `coreutils`) and of the lab's Debian root.

    command = packed.command("asterisk -rx 'pjsip show contacts'")
    lines = packed.lines(output)           # in the fact's process(): the lines, as printed
"""

from __future__ import annotations

import base64
import binascii
import zlib

from pyinfra.api.exceptions import FactProcessError

PRINTABLE = "LC_ALL=C tr -cd '\\11\\12\\40-\\176'"


def command(shell: str, printable: bool = True) -> str:
    """`shell`'s output (stdout and whatever it redirects), packed into one line; `printable`:
    only its printable ASCII (False: every byte, for a file read back as it is, lines(...,
    "utf-8"))."""
    return "{ " + shell + "; } | " + (PRINTABLE + " | " if printable else "") + "gzip -1 -c | base64 -w 0; echo"


def lines(output: list[str], encoding: str = "ascii") -> list[str]:
    """The lines the packed command printed (as pyinfra would have given them: no newlines).

    Raises FactProcessError, saying what is missing, when the answer is not a packed one (or
    not text in `encoding`)."""
    blob = "".join(line.strip() for line in output)
    if not blob:
        raise FactProcessError("the PBX sent an empty answer (are gzip and base64 installed there?)")
    try:
        text = zlib.decompress(base64.b64decode(blob, validate=True), wbits=31).decode(encoding)
    except (binascii.Error, zlib.error, UnicodeDecodeError) as e:
        raise FactProcessError(
            f"the PBX's answer is not gzip+base64 as expected ({e}); its first characters: {blob[:60]!r}"
        ) from e
    result = text.split("\n")
    if result and result[-1] == "":
        result.pop()
    return result
