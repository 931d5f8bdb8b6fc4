"""Calls with media for the services' lab tests (paging, intercom, conference rooms).

SIPp carries the SIP (lab/callee.py: a Callee answers, a Dial calls); the media of each
party is an RtpPeer (lab/rtppeer.py, in the lab's namespace) whose port the party's SDP
names. Once the SDP of the other side is known (the INVITE a callee got, the 200 OK a caller
got), the peer sends to Asterisk from that same port (the endpoints have rtp_symmetric, so
Asterisk keeps sending there) and counts what it receives:

    peer = RtpPeer.start(lab, seconds=30)
    call = Dial.start(lab, "boss", password, "1800", 5301, rtp_port=peer.port, dtmf=True)
    peer.send_to(answer_sdp(call))       # once the 200 OK is there
    peer.dtmf("0815#")
    peer.finish()                        # -> Counts(received=..., sent=...)
"""

from __future__ import annotations

import re
import select
import subprocess
import sys
from dataclasses import dataclass

from .callee import Dial, Message
from .lab import Lab
from .machine import IP, LAB_DIR


@dataclass(frozen=True)
class Counts:
    received: int  # RTP datagrams that reached the party's port
    loud: int  # of them, u-law audio louder than near silence: someone spoke
    sent: int


def sdp_address(message: Message) -> tuple[str, int] | None:
    """(host, port) of the audio in a message's SDP (c= and m=audio), or None."""
    host = re.search(r"^c=IN IP4 (\S+)", message.text, re.M)
    port = re.search(r"^m=audio (\d+)", message.text, re.M)
    return (host[1], int(port[1])) if host and port else None


def answer_sdp(call: Dial) -> tuple[str, int] | None:
    """Asterisk's media address from the 200 OK a caller got."""
    ok = call.first(200)
    return sdp_address(ok) if ok is not None else None


class RtpPeer:
    """lab/rtppeer.py running in the lab's namespace (bounded by `seconds`)."""

    def __init__(self, proc: subprocess.Popen, port: int):
        self.proc, self.port = proc, port
        self.counts: Counts | None = None

    @classmethod
    def start(cls, lab: Lab, seconds: float = 60) -> RtpPeer:
        proc = subprocess.Popen(
            [IP, "netns", "exec", lab.netns, sys.executable, str(LAB_DIR / "rtppeer.py"), str(seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        if not ready:
            proc.kill()
            raise RuntimeError("rtppeer.py did not start")
        return cls(proc, int(proc.stdout.readline()))

    def _say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def send_to(self, address: tuple[str, int] | None) -> None:
        assert address is not None, "no SDP to send to"
        self._say(f"to {address[0]} {address[1]}")

    def dtmf(self, digits: str) -> None:
        self._say(f"dtmf {digits}")

    def finish(self) -> Counts:
        """Stop it; what it received and sent."""
        if self.counts is None:
            try:
                out, _ = self.proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate(timeout=5)
            m = re.search(r"received (\d+) loud (\d+) sent (\d+)", out or "")
            self.counts = Counts(int(m[1]), int(m[2]), int(m[3])) if m else Counts(0, 0, 0)
        return self.counts
