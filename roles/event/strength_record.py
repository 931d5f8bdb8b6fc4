"""The record of passwords already judged strong, so that a check judges only the passwords
that are new: zxcvbn takes about 2 ms a password, 20 s for 10,000 phones whose passwords the
crew wrote, on every run; a phone whose password, names and the judge's rules are unchanged
since it was judged strong is not judged again.

What it holds: one HMAC-SHA256 per phone whose password was judged strong, under a key derived
from the event secret and from the judge's rules (zxcvbn's version, the threshold, how much of
a password it reads: strength.rules()), over the password and everything zxcvbn was given
with it (the phone's name, extension and display name, the event's name). Without the event
secret an entry cannot be tested against a guess, and a changed password, name, threshold or
zxcvbn gives another MAC: judged again. No password and no unkeyed hash of one is in it.

Where: $XDG_CACHE_HOME/televoc/<event>.strength (default ~/.cache/televoc), on the crew's
machine, mode 0600, outside the event directory and so outside git. A record that cannot be
read, or is not exactly what save() writes, is ignored: every password is judged. An event
with no usable secret (none, or one televoc would refuse) has no record: every password is
judged on every run, as before.

When: after every check. A refused check adds the passwords it judged strong and drops
nothing (fixing one weak password of 10,000 does not judge the other 9,999 again, and a
phones.yml that cannot be read does not empty the record); an accepted check writes exactly
the passwords of this phones.yml, so a password removed or changed leaves the record.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
import tempfile
from pathlib import Path

from . import strength
from .secret import MIN_SECRET_LENGTH

HEADER = "televoc strength record 1"
# A record larger than this is no record save() wrote (10,000 phones: 650 kB): ignored.
_MAX_BYTES = 8_000_000
_ENTRIES = re.compile(r"(?:[0-9a-f]{64}\n)*")


def record_path(event_name: str) -> Path:
    """$XDG_CACHE_HOME/televoc/<event>.strength, or ~/.cache/televoc/<event>.strength."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    if not base.is_absolute():  # the XDG rule: a relative path is ignored
        base = Path.home() / ".cache"
    return base / "televoc" / f"{event_name}.strength"


def usable_secret(path: Path) -> str | None:
    """The event secret at `path` if televoc would accept it (a file private to its owner, at
    least 32 characters); None otherwise, without a word (secret.read_secret reports it where
    the secret is needed)."""
    try:
        if not path.is_file() or stat.S_IMODE(path.stat().st_mode) & 0o077:
            return None
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return value if len(value) >= MIN_SECRET_LENGTH else None


class StrengthRecord:
    """The passwords judged strong before (their MACs), and those judged strong in this run.

    + secret: the event secret (the key's root)
    + path: the record file

    .. code:: python

        record = StrengthRecord.open(secret, record_path("bench-10000"))
        if not record.known(password, inputs):
            ...judge; if strong: record.add(password, inputs)
        record.save(accepted=True)
    """

    def __init__(self, secret: str, path: Path, known: frozenset[bytes]):
        self.path = path
        key = hmac.new(secret.encode(), b"televoc/strength-record/" + strength.rules().encode(), hashlib.sha256)
        self._mac = hmac.new(key.digest(), digestmod=hashlib.sha256)
        self._known = known
        self._used: set[bytes] = set()

    @classmethod
    def open(cls, secret: str, path: Path) -> StrengthRecord:
        """The record at `path` under `secret`; an empty one when it is missing or not exactly
        what save() writes (never trusted in part)."""
        return cls(secret, path, _read(path))

    def mac(self, password: str, inputs: list[str]) -> bytes:
        """HMAC-SHA256 over the password and what zxcvbn is given with it, each prefixed with its
        length (so that no two lists of fields give the same message)."""
        mac = self._mac.copy()
        mac.update("".join([f"{len(v)}:{v}" for v in (password, *inputs)]).encode("utf-8", "surrogatepass"))
        return mac.digest()

    def known(self, password: str, inputs: list[str]) -> bool:
        """Was `password` judged strong for these inputs under the same rules and secret?"""
        digest = self.mac(password, inputs)
        if digest in self._known:
            self._used.add(digest)
            return True
        return False

    def add(self, password: str, inputs: list[str]) -> None:
        """`password` was judged strong for these inputs in this run."""
        self._used.add(self.mac(password, inputs))

    def save(self, accepted: bool) -> None:
        """Write the record, when it changes: after an `accepted` check the MACs of this run's
        strong passwords (judged now or known), else those added to the ones known before.
        Atomically (a new file of mode 0600 renamed over the old), in a directory created with
        mode 0700. A record that cannot be written is left as it was (the next check judges
        more)."""
        entries = self._used if accepted else self._known | self._used
        if entries == self._known:
            return
        try:
            if not entries:
                self.path.unlink(missing_ok=True)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            text = HEADER + "\n" + "".join(d.hex() + "\n" for d in sorted(entries))
            # O_EXCL, mode 0600, a name nobody else picked: never another's file, never wider
            fd, new = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.write(text)
                os.replace(new, self.path)
            except BaseException:
                Path(new).unlink(missing_ok=True)
                raise
        except OSError:
            return


def _read(path: Path) -> frozenset[bytes]:
    try:
        if path.stat().st_size > _MAX_BYTES:
            return frozenset()
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return frozenset()
    head, _, body = text.partition("\n")
    if head != HEADER or not _ENTRIES.fullmatch(body):
        return frozenset()
    return frozenset(bytes.fromhex(e) for e in body.split("\n")[:-1])
