"""Phones for the routing tests, each a SIPp process, measured by its message trace.

    bob = Callee.start(lab, "saal1", password, 5071, mode="ring")   # registered, rings
    call = Dial.start(lab, "backoffice", password, "1100", 5090)     # calls the group
    call.wait(timeout=30)
    bob.invites()[0].time, bob.invites()[0].header("Alert-Info")
    bob.stop()

A Callee registers (lab/sipp/register-csv.xml) and answers every request that is not
part of that call with lab/sipp/callee.xml: OPTIONS 200 (Asterisk's qualify sees it
Avail), an INVITE 180 and then, by `mode`: "ring" (until CANCEL), "busy" (486), "answer" (200
after `answer_after` seconds). A Dial calls a number with lab/sipp/dial.xml. Both run
with -trace_msg: every message sent or received, with the time SIPp stamped on it, is what
the tests read (`messages()`); nothing here asks Asterisk what it did.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .lab import CHROOT_ENV, Lab
from .sip import LAB_DIR, PBX, SIPP_DIR
from .wait import wait_for

INSIDE = "/tmp/televoc-lab/routing"  # in the chroot
# A trace entry's first line: "----...---- 2026-11-27T00:30:51.186451Z" (SIPp 3.7, UTC)
_ENTRY = re.compile(r"^-{10,} (?P<stamp>\d{4}-\d\d-\d\dT[\d:.]+Z)\s*$", re.M)


@dataclass(frozen=True)
class Message:
    time: float  # seconds since the epoch, as SIPp stamped it
    received: bool
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def method(self) -> str | None:
        """INVITE, CANCEL, ... for a request; None for a response."""
        word = self.first_line.split(" ", 1)[0]
        return None if word.startswith("SIP/") else word

    @property
    def status(self) -> int | None:
        parts = self.first_line.split(" ")
        return int(parts[1]) if parts[0].startswith("SIP/") and len(parts) > 1 and parts[1].isdigit() else None

    def header(self, name: str) -> str | None:
        match = re.search(rf"^{re.escape(name)}\s*:\s*(.*?)\s*$", self.text, re.M | re.I)
        return match[1] if match else None

    @property
    def cseq_method(self) -> str:
        return (self.header("CSeq") or " ").split()[-1]


def parse_trace(text: str) -> list[Message]:
    """SIPp's -trace_msg file: one Message per entry."""
    out = []
    starts = list(_ENTRY.finditer(text))
    for i, m in enumerate(starts):
        body = text[m.end() : starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        lines = body.strip("\n").split("\n")
        if not lines:
            continue
        direction = lines[0]
        message = "\n".join(lines[1:]).strip("\n")
        stamp = datetime.fromisoformat(m["stamp"].replace("Z", "+00:00")).timestamp()
        out.append(Message(stamp, "received" in direction, message.replace("\r", "")))
    return out


class _Sipp:
    """A SIPp process in the lab's namespace, its trace in the chroot."""

    def __init__(self, lab: Lab, proc: subprocess.Popen, trace: str, files: list[str]):
        self.lab, self.proc, self.trace, self.files = lab, proc, trace, files

    @staticmethod
    def _write(lab: Lab, name: str, text: str) -> str:
        folder = lab.root / INSIDE.lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
        return f"{INSIDE}/{name}"

    @classmethod
    def _popen(cls, lab: Lab, argv: list[str], token: str) -> tuple[subprocess.Popen, str]:
        trace = f"{INSIDE}/{token}.trace"
        log = open(lab.root / f"{INSIDE.lstrip('/')}/{token}.out", "ab")  # noqa: SIM115 (kept by the child)
        proc = subprocess.Popen(
            lab._inside([*argv, "-nostdin", "-trace_msg", "-message_file", trace]),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=CHROOT_ENV,
            start_new_session=True,
        )
        log.close()
        return proc, trace

    def messages(self) -> list[Message]:
        path = self.lab.root / self.trace.lstrip("/")
        return parse_trace(path.read_text(errors="replace")) if path.exists() else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class Callee(_Sipp):
    @classmethod
    def start(
        cls,
        lab: Lab,
        name: str,
        password: str,
        port: int,
        mode: str = "ring",
        answer_after: float = 0,
        rtp_port: int | None = None,
    ) -> Callee:
        """`rtp_port`: the port its answer's SDP names (an RtpPeer's, lab/media.py); else SIPp's
        own media port."""
        token = f"{name}-{port}-{secrets.token_hex(3)}"
        wait_ms, then = {
            "ring": (600_000, "answer"),
            "busy": (100, "busy"),
            "answer": (int(answer_after * 1000) or 1, "answer"),
        }[mode]
        scenario = (LAB_DIR / "sipp/callee.xml").read_text().replace("@WAIT_MS@", str(wait_ms)).replace("@THEN@", then)
        if rtp_port is not None:
            scenario = scenario.replace("m=audio [media_port]", f"m=audio {rtp_port}")
        ooc = cls._write(lab, f"{token}-callee.xml", scenario)
        users = cls._write(lab, f"{token}.csv", f"SEQUENTIAL\n{name};{password}\n")
        argv = [
            "sipp",
            PBX,
            "-sf",
            f"{SIPP_DIR}/register-csv.xml",
            "-oocsf",
            ooc,
            "-inf",
            users,
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            "1",
            "-l",
            "1",
            "-mp",
            str(port + 1000),
        ]
        proc, trace = cls._popen(lab, argv, token)
        return cls(lab, proc, trace, [ooc, users])

    @classmethod
    def started(cls, lab: Lab, name: str, password: str, port: int, how: str) -> Callee:
        """`how`: "ring", "busy", or "answer:<seconds>"."""
        mode, _, after = how.partition(":")
        return cls.start(lab, name, password, port, mode=mode, answer_after=float(after or 0))

    def invites(self) -> list[Message]:
        return [m for m in self.messages() if m.received and m.method == "INVITE"]

    def cancels(self) -> list[Message]:
        return [m for m in self.messages() if m.received and m.method == "CANCEL"]

    def registered(self) -> bool:
        return any(m.received and m.status == 200 and m.cseq_method == "REGISTER" for m in self.messages())


@contextlib.contextmanager
def callees(phones: dict[str, tuple[Lab, str, int, str]], ready: Callable[[dict], bool], what: str):
    """Callees started for a test: name -> (lab, password, port, how); waits until
    ready(started) (e.g. each is Avail at its PBX), yields them, then stops them and hangs up
    every call left in their labs, so that the next test starts clean."""
    started: dict[str, Callee] = {}
    try:
        for name, (lab, password, port, how) in phones.items():
            started[name] = Callee.started(lab, name, password, port, how)
        wait_for(lambda: ready(started), 20, what)
        yield started
    finally:
        for callee in started.values():
            callee.stop()
        for lab in {id(lab): lab for lab, *_ in phones.values()}.values():
            lab.asterisk("channel request hangup all")


class Dial(_Sipp):
    @classmethod
    def start(
        cls,
        lab: Lab,
        name: str,
        password: str,
        number: str,
        port: int,
        hold: float = 2,
        timeout: float = 60,
        rtp_port: int | None = None,
        dtmf: bool = False,
    ) -> Dial:
        """`rtp_port`: the port its SDP names (an RtpPeer's, lab/media.py); `dtmf`: its SDP
        offers RFC 4733 telephone-events (payload type 101)."""
        token = f"dial-{name}-{port}-{secrets.token_hex(3)}"
        scenario = (LAB_DIR / "sipp/dial.xml").read_text().replace("@BYE_WAIT_MS@", str(int(hold * 1000)))
        if dtmf:
            scenario = scenario.replace("RTP/AVP 0 3 8\n", "RTP/AVP 0 3 8 101\n").replace(
                "a=rtpmap:8 PCMA/8000\n", "a=rtpmap:8 PCMA/8000\n      a=rtpmap:101 telephone-event/8000\n"
            )
        path = cls._write(lab, f"{token}.xml", scenario)
        argv = [
            "sipp",
            PBX,
            "-sf",
            path,
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            "1",
            "-s",
            number,
            "-au",
            name,
            "-ap",
            password,
            "-key",
            "caller",
            name,
            "-key",
            "rtp_port",
            str(rtp_port if rtp_port is not None else port + 1000),
            "-timeout",
            f"{int(timeout)}s",
            "-timeout_error",
        ]
        proc, trace = cls._popen(lab, argv, token)
        return cls(lab, proc, trace, [path])

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)

    def sent_invite(self) -> Message | None:
        """The INVITE with credentials (the one Asterisk acts on)."""
        invites = [m for m in self.messages() if not m.received and m.method == "INVITE"]
        return invites[-1] if invites else None

    def responses(self) -> list[Message]:
        """Responses to the INVITEs, without the first 401 (the challenge the scenario answers)."""
        out = [m for m in self.messages() if m.received and m.status and m.cseq_method == "INVITE"]
        first = next((i for i, m in enumerate(out) if m.status == 401), None)
        return out if first is None else out[:first] + out[first + 1 :]

    def first(self, status: int) -> Message | None:
        return next((m for m in self.responses() if m.status == status), None)

    def final(self) -> Message | None:
        return next((m for m in reversed(self.responses()) if m.status is not None and m.status >= 200), None)
