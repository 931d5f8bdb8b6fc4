"""An RTP end of a call: run by lab/media.py inside the lab's network namespace.

    python3 rtppeer.py MAX_SECONDS

Binds a free UDP port on 127.0.0.1 and prints it on the first line. Counts the datagrams it
receives, and the loud ones among them (audio someone speaks, not the silence a bridge sends
when nobody does); sends from the same port (so Asterisk's symmetric RTP keeps sending here)
a loud G.711 u-law tone, a packet every 20 ms, to where stdin says, and RFC 4733 DTMF events
(payload type 101):

    to HOST PORT      start sending audio to HOST:PORT (Asterisk's address from the SDP)
    dtmf DIGITS       send each digit as a telephone-event (then audio again)

When stdin closes (or MAX_SECONDS pass) it prints "received N loud L sent M" and exits.
"""

import os
import random
import select
import socket
import struct
import sys
import time

PCMU, EVENT = 0, 101
# u-law: 0x80 and 0x00 are the loudest samples, 0xFF and 0x7F silence; a byte's magnitude
# falls as its low 7 bits rise. A 400 Hz square wave at full scale:
TONE = bytes([0x80] * 10 + [0x00] * 10) * 8


def loud(payload: bytes) -> bool:
    """An audio packet that carries more than near silence."""
    return any((b & 0x7F) < 0x60 for b in payload[12:])


DTMF_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


class Sender:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.target: tuple[str, int] | None = None
        self.seq, self.ts, self.ssrc = random.randrange(65536), random.randrange(2**32), random.randrange(2**32)
        self.sent = 0
        self.pending: list[tuple[int, bool, bytes]] = []  # (payload type, marker, payload)

    def packet(self, pt: int, marker: bool, payload: bytes, ts: int) -> None:
        assert self.target is not None
        header = struct.pack(
            "!BBHII", 0x80, (0x80 if marker else 0) | pt, self.seq & 0xFFFF, ts & 0xFFFFFFFF, self.ssrc
        )
        self.sock.sendto(header + payload, self.target)
        self.seq += 1
        self.sent += 1

    def dtmf(self, digits: str) -> None:
        for d in digits:
            code = DTMF_CODES[d]
            for i in range(1, 8):  # 140 ms of the event, then its end three times
                self.pending.append((EVENT, i == 1, struct.pack("!BBH", code, 10, 160 * i)))
            for _ in range(3):
                self.pending.append((EVENT, False, struct.pack("!BBH", code, 0x80 | 10, 160 * 8)))
            self.pending += [(PCMU, False, b"")] * 5  # 100 ms of audio between digits

    def tick(self) -> None:
        if self.target is None:
            return
        if self.pending:
            pt, marker, payload = self.pending.pop(0)
            if pt == EVENT:
                self.packet(pt, marker, payload, self.ts)  # one timestamp for the whole event
                if payload[1] & 0x80 and not (self.pending and self.pending[0][0] == EVENT):
                    self.ts += 160 * 8
                return
        self.ts += 160
        self.packet(PCMU, False, TONE, self.ts)


def main() -> None:
    limit = float(sys.argv[1])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1], flush=True)
    sender = Sender(s)
    received = heard = 0
    buffered = b""
    deadline = time.monotonic() + limit
    next_tick = time.monotonic()
    while (now := time.monotonic()) < deadline:
        watched: list[socket.socket | int] = [s, 0]
        ready, _, _ = select.select(watched, [], [], max(0.0, min(next_tick - now, deadline - now)))
        if s in ready:
            data = s.recv(4096)
            received += 1
            if len(data) > 12 and data[1] & 0x7F == PCMU and loud(data):
                heard += 1
        if 0 in ready:
            chunk = os.read(0, 4096)
            if not chunk:
                break
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                words = line.decode().split()
                if words[:1] == ["to"]:
                    sender.target = (words[1], int(words[2]))
                elif words[:1] == ["dtmf"]:
                    sender.dtmf(words[1])
        if time.monotonic() >= next_tick:
            sender.tick()
            next_tick += 0.02
    print(f"received {received} loud {heard} sent {sender.sent}", flush=True)


if __name__ == "__main__":
    main()
