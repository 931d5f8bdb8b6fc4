"""The deploy's plan kept between runs, sealed: a run whose inputs are all the same as the
last one's takes the plan that run rendered instead of rendering it again (roles/pbx.py).

    kept = kept(buildup, directory, where, control, event_dir)   # None: nothing is kept
    plan = kept.load()                                           # None: render, then
    kept.store(plan)

The inputs are everything the renderers are given or run with: the validated event (the
Directory, passwords settled, as JSON), the run's Where and what it tells the provisioning
server, the renderer's name, televoc's own code (every file under roles/, templates and
the files shipped to the PBX included), Python's and the rendering libraries' versions. A
plan holds every password, so it is sealed under the event secret (roles/shared/sealed.py);
with no usable event secret nothing is kept, nor with TELEVOC_PLAN_CACHE=off in the
environment (every run renders). The provisioning files are kept packed (PackedFiles):
a run that changes nothing never reads them. One file per event (with venues, per venue),
$XDG_CACHE_HOME/televoc/<event>[-<venue>].plan, replaced by the next plan made.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import sys
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from roles.event import Directory
from roles.event.secret import secret_path
from roles.event.strength_record import record_path, usable_secret
from roles.shared.sealed import Seal

ROLES = Path(__file__).parent


@cache
def code_digest() -> bytes:
    """sha256 of every file under roles/ (its path and bytes; not the bytecode caches), and
    of the versions of Python and of the libraries the renderers use (once per process)."""
    import jinja2
    import pydantic
    import yaml

    h = hashlib.sha256(f"{sys.version}|{jinja2.__version__}|{pydantic.VERSION}|{yaml.__version__}".encode())
    for path in sorted(p for p in ROLES.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(ROLES)).encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.digest()


class PackedFiles(Mapping[str, str]):
    """The provisioning files (name -> XML) of a kept plan, packed (zlib) and unpacked on
    first use: a run that changes nothing compares their digests only (the plan keeps those
    worked out), so it never unpacks them; 44 MB at 10,000 phones, 4 MB packed."""

    def __init__(self, files: Mapping[str, str]):
        self._names = tuple(files)
        self._packed: bytes | None = zlib.compress(pickle.dumps(dict(files), pickle.HIGHEST_PROTOCOL), 1)
        self._files: dict[str, str] | None = None

    def _unpacked(self) -> dict[str, str]:
        if self._files is None:
            assert self._packed is not None
            self._files, self._packed = pickle.loads(zlib.decompress(self._packed)), None
        return self._files

    def __getstate__(self):
        return (
            {"_names": self._names, "_packed": self._packed, "_files": None}
            if self._files is None
            else {
                "_names": self._names,
                "_packed": zlib.compress(pickle.dumps(self._files, pickle.HIGHEST_PROTOCOL), 1),
                "_files": None,
            }
        )

    def __getitem__(self, name: str) -> str:
        return self._unpacked()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names if self._files is None else name in self._files

    def unpacked(self) -> bool:
        return self._files is not None


def _packed(plan):
    """The plan as it is kept: its provisioning files packed (PackedFiles), every value the
    plan worked out (the files' digests) kept with it."""
    provisioning = plan.provisioning
    packed = dataclasses.replace(provisioning, files=PackedFiles(provisioning.files))
    packed.__dict__.update(
        {k: v for k, v in vars(provisioning).items() if k not in {f.name for f in dataclasses.fields(provisioning)}}
    )
    return dataclasses.replace(plan, provisioning=packed)


@dataclass(frozen=True)
class Kept:
    seal: Seal
    path: Path

    def load(self):
        return self.seal.load(self.path)

    def store(self, plan) -> None:
        try:
            self.seal.store(self.path, _packed(plan))
        except (OSError, TypeError, AttributeError, ValueError):  # not kept: the next run renders
            pass


def kept(render, directory: Directory, where, control: dict, event_dir: str | None) -> Kept | None:
    """Where the plan that `render(directory, where, control)` gives is kept, sealed under the
    event secret of `event_dir`; None without a usable secret, or when the event cannot be
    written as JSON (then every run renders)."""
    if event_dir is None or os.environ.get("TELEVOC_PLAN_CACHE") == "off":
        return None
    secret = usable_secret(secret_path(directory.event, Path(event_dir)))
    if secret is None:
        return None
    try:
        event = directory.model_dump_json().encode()
    except ValueError:  # e.g. an announcement's audio: bytes that are not UTF-8
        return None
    inputs = (render.__qualname__.encode(), repr(where).encode(), repr(control).encode(), code_digest(), event)
    name = directory.event.name + (f"-{directory.venue.name}" if directory.venue else "")  # a venue's PBX: its own
    return Kept(Seal.of(secret, b"televoc/plan", *inputs), record_path(name).with_suffix(".plan"))
