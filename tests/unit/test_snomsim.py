"""The snom simulator's SIP user agent (lab/snomsip.py, pyVoIP 1.6.8) against a scripted
registrar on the host's loopback (no lab, no root).

The registrar sends an OPTIONS and a NOTIFY in the middle of REGISTER transactions (what
Asterisk's qualify and check-sync can do) and a stale response before the real one, and
records the digest (auth user, qop=auth, opaque), the display name and Expires.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from dataclasses import dataclass, field

import pytest

from lab.snomsip import Identity, SnomSIPClient
from lab.wait import until

HOST = "127.0.0.1"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Exchange:
    """What the registrar saw: one entry per transaction (register, then deregister)."""

    results: dict[str, bool] = field(default_factory=dict)
    last_error: str = ""
    seen: list[str] = field(default_factory=list)  # requests the phone passed on to its owner
    digest_ok: list[bool] = field(default_factory=list)
    displayed: list[bool] = field(default_factory=list)
    expires: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # of the registrar thread


class FakeRegistrar:
    def __init__(self, exchange: Exchange, phone_port: int):
        self.x = exchange
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(3)
        self.port = self.sock.getsockname()[1]
        self.phone = (HOST, phone_port)

    def request(self, method: str, cseq: int, extra: str = "") -> bytes:
        return (
            f"{method} sip:saal9@{HOST}:{self.phone[1]} SIP/2.0\r\nVia: SIP/2.0/UDP {HOST}:{self.port};rport;"
            f"branch=z9hG4bK{method}{cseq}\r\nFrom: <sip:saal9@{HOST}>;tag=r{cseq}\r\n"
            f"To: <sip:saal9@{HOST}>\r\nCall-ID: fake-{method}-{cseq}\r\nCSeq: {cseq} {method}\r\n"
            f"{extra}Content-Length: 0\r\n\r\n"
        ).encode()

    @staticmethod
    def response(reg: str, code: str, cseq_shift: int = 0, extra: str = "") -> bytes:
        head = dict(re.findall(r"^(Via|From|To|Call-ID|CSeq): (.*?)\r$", reg, re.M))
        number = int(head["CSeq"].split()[0]) + cseq_shift
        return (
            f"SIP/2.0 {code}\r\nVia: {head['Via']}\r\nFrom: {head['From']}\r\nTo: {head['To']};tag=x\r\n"
            f"Call-ID: {head['Call-ID']}\r\nCSeq: {number} REGISTER\r\n{extra}Content-Length: 0\r\n\r\n"
        ).encode()

    def next_register(self) -> str:
        """The next REGISTER (skipping the phone's answers to OPTIONS and NOTIFY)."""
        for _ in range(5):
            message = self.sock.recv(8192).decode()
            if message.startswith("REGISTER"):
                return message
        raise RuntimeError("no REGISTER")

    def serve_one_transaction(self, tag: int) -> None:
        """REGISTER -> (OPTIONS to the phone) 401; REGISTER with auth -> (NOTIFY, stale 200) 200."""
        try:
            reg = self.next_register()
            self.sock.sendto(self.request("OPTIONS", tag), self.phone)
            challenge = 'WWW-Authenticate: Digest realm="asterisk",nonce="n1",opaque="o1",algorithm=MD5,qop="auth"\r\n'
            self.sock.sendto(self.response(reg, "401 Unauthorized", extra=challenge), self.phone)
            reg = self.next_register()
            auth = dict(re.findall(r'(\w+)="?([^",\r]*)"?', reg.split("Authorization: Digest ", 1)[1].split("\r\n")[0]))
            expected = md5(
                f"{md5('auth9:asterisk:pw9')}:n1:{auth.get('nc')}:{auth.get('cnonce')}:auth:"
                f"{md5('REGISTER:' + auth.get('uri', ''))}"
            )
            self.x.digest_ok.append(
                auth.get("username") == "auth9"
                and auth.get("response") == expected
                and auth.get("opaque") == "o1"
                and auth.get("uri") == f"sip:{HOST}:{self.port}"
            )
            self.x.displayed.append(f'From: "Saal \\"9\\"" <sip:saal9@{HOST}:{self.port}>' in reg)
            self.x.expires.append(re.search(r"^Expires: (\d+)", reg, re.M)[1])
            self.sock.sendto(self.request("NOTIFY", tag + 1, "Event: check-sync;reboot=true\r\n"), self.phone)
            self.sock.sendto(self.response(reg, "200 OK", cseq_shift=-1), self.phone)  # stale
            self.sock.sendto(self.response(reg, "200 OK"), self.phone)
        except Exception as e:  # noqa: BLE001 (reported by the tests)
            self.x.errors.append(f"{type(e).__name__}: {e}")


@pytest.fixture(scope="module")
def exchange() -> Exchange:
    """register() and deregister() of one identity against the fake registrar."""
    x = Exchange()
    phone_port = free_udp_port()
    registrar = FakeRegistrar(x, phone_port)
    phone = SnomSIPClient(phone_port, lambda method, message: x.seen.append(method), HOST)
    phone.open()
    try:
        phone.use(Identity(HOST, registrar.port, "saal9", "auth9", "pw9", 'Saal "9"', 120))
        for what, call in (("register", phone.register), ("deregister", phone.deregister)):
            server = threading.Thread(
                target=registrar.serve_one_transaction, args=(len(x.results) * 10 + 1,), daemon=True
            )
            server.start()
            x.results[what] = call()
            server.join(5)
            x.last_error = x.last_error or phone.last_error
        # the last NOTIFY may still be on its way to the phone's owner; a duplicate would follow it
        until(lambda: len(x.seen) >= 4, 2, step=0.05)
        until(lambda: len(x.seen) > 4, 0.3, step=0.05)
    finally:
        phone.close()
        registrar.sock.close()
    return x


def test_register_and_deregister_succeed_around_options_notify_and_a_stale_200(exchange):
    assert exchange.results == {"register": True, "deregister": True}, (
        f"{exchange.last_error or 'no error'}; registrar: {exchange.errors}"
    )


def test_digest_has_the_auth_user_qop_auth_and_the_opaque(exchange):
    assert exchange.digest_ok == [True, True], exchange.errors


def test_display_name_is_quoted_in_from(exchange):
    assert exchange.displayed == [True, True], exchange.errors


def test_expires_is_the_identitys_then_0(exchange):
    assert exchange.expires == ["120", "0"], exchange.errors


def test_each_options_and_notify_is_passed_on_once(exchange):
    assert sorted(exchange.seen) == ["NOTIFY", "NOTIFY", "OPTIONS", "OPTIONS"], exchange.errors
