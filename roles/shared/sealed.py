"""A value kept between runs on the crew's machine, sealed under the event secret.

    seal = Seal.of(secret, b"televoc/plan", inputs...)    # named and keyed by what made the value
    value = seal.load(path)                                # None: no file, another name, tampered
    seal.store(path, value)                                # 0600, written beside and renamed

What is kept may hold every password of the event (a rendered plan does), so it is never
kept in the clear: AES-256-GCM (the `cryptography` package, which paramiko brings) under a
key derived by HMAC-SHA256 from the event secret and every input, and the file is named by
another HMAC of the same. Without the event secret the file tells nothing, not even which
inputs made it, and a changed byte fails the authentication: it is never unpickled. With
the secret, the passwords derived from it are known anyway, and those the crew wrote are in
phones.yml on the same machine. Any input that differs (one byte of the event, of televoc's
code, of the run's settings) gives another name: the value is not found and is made again.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import os
import pickle
import secrets
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"televoc-sealed-1\n"
NONCE = 12


@dataclass(frozen=True)
class Seal:
    name: bytes  # HMAC(secret, inputs): which inputs the file holds the value of
    key: bytes  # the AES-256 key, HMAC(secret, inputs) under another label

    @classmethod
    def of(cls, secret: str, label: bytes, *inputs: bytes) -> Seal:
        h = hashlib.sha256()
        for part in inputs:  # each part's length first: no two splits of the bytes give one digest
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
        digest = h.digest()
        mac = lambda what: hmac.new(secret.encode(), label + what + digest, hashlib.sha256).digest()  # noqa: E731
        return cls(name=mac(b"/name/"), key=mac(b"/key/"))

    def load(self, path: Path) -> object | None:
        """The value sealed at `path` under this name and key; None when there is none (no
        file, another name, a file that does not authenticate)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            data = path.read_bytes()
        except OSError:
            return None
        head = len(MAGIC) + len(self.name)
        if data[:head] != MAGIC + self.name:
            return None
        try:
            plain = AESGCM(self.key).decrypt(data[head : head + NONCE], data[head + NONCE :], self.name)
        except (InvalidTag, ValueError):
            return None
        enabled = gc.isenabled()
        gc.disable()  # millions of objects at once: the collector would scan them again and again
        try:
            return pickle.loads(plain)
        finally:
            if enabled:
                gc.enable()

    def store(self, path: Path, value: object) -> None:
        """Seal `value` at `path` (mode 0600 in a 0700 directory; written beside, renamed)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(NONCE)
        sealed = AESGCM(self.key).encrypt(nonce, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), self.name)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        beside = path.with_name(f".{path.name}.{secrets.token_hex(8)}")  # two threads, two hosts: each its own
        fd = os.open(beside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + self.name + nonce + sealed)
            os.replace(beside, path)
        except BaseException:
            beside.unlink(missing_ok=True)
            raise
