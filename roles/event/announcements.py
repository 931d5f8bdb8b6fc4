"""The announcements of event.yml: each audio file checked and converted with sox (a
maintained tool, run on the machine that loads the event) into what Asterisk plays, 8 kHz
mono 16-bit signed PCM in a wav file. A file that is missing, outside the event directory,
unreadable, empty, not audio sox can read, silent for lack of samples or longer than
ANNOUNCEMENT_MAX_SECONDS is refused, naming the file and the reason.

    audio = check_announcements(event, event_file, directory)   # [AnnouncementAudio], problems reported

The conversion is deterministic (no dither: `sox -D`), so the same file gives the same bytes
and a deploy uploads only what changed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .model import ANNOUNCEMENT_MAX_SECONDS, Announcement, AnnouncementAudio, Event
from .sources import SourceFile
from .venues import venue_of

SOX = "sox"
RATE = 8000  # what Asterisk's slin and wav formats play at (8 kHz)
SOX_TIMEOUT = 60  # seconds for one file (a 10-minute file converts in well under one)
INSTALL = "install it: apt-get install sox (./televoc installs it)"


def _minutes(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{seconds:.1f} s"


def _sox_error(stderr: str) -> str:
    """sox's own reason, without its prefix: 'sox FAIL formats: can't open input file ...'."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = lines[-1] if lines else "sox failed without a message"
    for prefix in ("sox FAIL formats: ", "sox FAIL ", "soxi FAIL formats: ", "sox: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def convert(path: Path) -> tuple[bytes, float]:
    """(the wav Asterisk plays, its length in seconds) of the audio file `path`; ValueError
    with the reason in words when sox cannot read it."""
    with tempfile.TemporaryDirectory(prefix="televoc-audio-") as tmp:
        out = Path(tmp) / "out.wav"
        # -D: no dither (dither is random: the same file would convert to other bytes);
        # -V1: only failures on stderr; remix -: every channel mixed into one
        argv = [SOX, "-V1", "-D", str(path), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer"]
        argv += ["-t", "wav", str(out), "remix", "-"]
        try:
            run = subprocess.run(argv, capture_output=True, text=True, timeout=SOX_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise ValueError(f"was not converted by sox within {SOX_TIMEOUT} s") from None
        if run.returncode != 0 or not out.is_file():
            raise ValueError(f"is no audio sox can read ({_sox_error(run.stderr)})")
        data = out.read_bytes()
    samples = (len(data) - 44) // 2  # a 16-bit mono wav: its 44-byte header, then the samples
    return data, max(samples, 0) / RATE


def _problem(path: Path, directory: Path) -> str | None:
    """Why `path` cannot be an announcement before sox reads it, or None."""
    try:
        inside = path.resolve().is_relative_to(directory.resolve())
    except OSError:
        inside = False
    if not inside:
        return "is outside the event directory: put the file into it (e.g. announcements/) and name it from there"
    if not path.exists():
        return "not found: put the file there, or correct the path (it is relative to the event directory)"
    if not path.is_file():
        return "is not a file: name an audio file"
    try:
        with open(path, "rb") as f:
            empty = not f.read(1)
    except OSError as e:
        return f"cannot be read ({e.strerror}): make it readable for whoever runs televoc"
    if empty:
        return "is empty (0 bytes): record or copy the announcement again"
    return None


def check_announcements(event: Event, event_file: SourceFile, directory: Path) -> list[AnnouncementAudio]:
    """Each announcement's file checked and converted (problems reported on `event_file`,
    at the entry's `file`); the numbers of announcements used twice are reported too."""
    if not event.announcements:
        return []
    seen: dict[str, int] = {}
    for i, a in enumerate(event.announcements):
        for key, value in (("name", a.name.lower()), ("number", a.number)):
            first = seen.setdefault(f"{key}:{value}", i)
            if first != i:
                line = event_file.line(("announcements", first, key))
                event_file.add(
                    ("announcements", i, key),
                    f"{getattr(a, key)!r} is also the {key} of announcement {first + 1} "
                    f"({event.announcements[first].name}), line {line}: give each announcement its own {key}",
                )
        if event.venues and venue_of(a.number, event.venues) is None:
            event_file.add(
                ("announcements", i, "number"),
                f"{a.number!r} starts with no venue's prefix: with venues, the venue whose prefix it starts "
                "with plays it: choose a number of a venue",
            )
    if shutil.which(SOX) is None:
        event_file.add(
            ("announcements",), f"sox is not installed on this machine, which converts announcements: {INSTALL}"
        )
        return []
    return [audio for i, a in enumerate(event.announcements) if (audio := _one(i, a, event_file, directory))]


def _one(index: int, a: Announcement, event_file: SourceFile, directory: Path) -> AnnouncementAudio | None:
    path = directory / a.file
    where = ("announcements", index, "file")
    why = _problem(path, directory)
    if why is None:
        try:
            audio, seconds = convert(path)
        except ValueError as e:
            why = f"{e}: give a wav, flac or ogg file"
        else:
            if seconds < 0.1:
                why = f"has no sound ({seconds:.2f} s of samples): record the announcement again"
            elif seconds > ANNOUNCEMENT_MAX_SECONDS:
                why = (
                    f"plays {_minutes(seconds)}, but an announcement is at most "
                    f"{ANNOUNCEMENT_MAX_SECONDS // 60} minutes: cut it"
                )
            else:
                return AnnouncementAudio(
                    name=a.name,
                    number=a.number,
                    display_name=a.display_name or a.name,
                    in_directory=a.in_directory,
                    seconds=round(seconds, 3),
                    source=a.file,
                    audio=audio,
                )
    event_file.add(where, f"{a.file!r} {why}")
    return None
