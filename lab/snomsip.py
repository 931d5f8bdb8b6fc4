"""The SIP side of a simulated snom phone: pyVoIP 1.6.8's SIPClient, made into a desk
phone's user agent (see snomsim.py's docstring for the workarounds and why)."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import logging
import secrets
import select
import socket
import threading
import time
import types
import uuid
from collections.abc import Callable
from typing import cast

import pyVoIP
import pyVoIP.VoIP  # noqa: F401  (must come before pyVoIP.SIP: circular import in 1.6.8)
from pyVoIP.RTP import PayloadType, TransmitType
from pyVoIP.SIP import SIPClient, SIPMessage, SIPMessageType
from pyVoIP.util import acquired_lock_and_unblocked_socket

for _method in ("OPTIONS", "NOTIFY"):  # pyVoIP drops requests it does not know
    if _method not in pyVoIP.SIPCompatibleMethods:
        pyVoIP.SIPCompatibleMethods.append(_method)

log = logging.getLogger("snomsim")
USER_AGENT = f"snom320-SIP 8.7.5.35 (televoc snomsim, pyVoIP {pyVoIP.__version__})"
SIP_TIMEOUT = 2.0  # seconds to wait for each response of a REGISTER transaction
MAX_RUNTIME = 6 * 3600  # the receive loop ends by itself after this (seconds)


@dataclasses.dataclass(frozen=True)
class Identity:
    host: str
    port: int
    user: str
    auth_user: str
    password: str
    display_name: str
    expires: int

    @property
    def hostport(self) -> str:
        return self.host if self.port == 5060 else f"{self.host}:{self.port}"

    def public(self) -> dict:
        return {
            "user": self.user,
            "auth_user": self.auth_user,
            "registrar": f"{self.host}:{self.port}",
            "display_name": self.display_name,
            "expires": self.expires,
        }


# --- SIP: pyVoIP's SIPClient, made into a desk phone's user agent ---------------------


class SnomSIPClient(SIPClient):
    """pyVoIP's SIPClient on <ip>:<port>, for one identity at a time (see `use`).

    on_request(kind, message) is called for NOTIFY and INVITE after the answer was sent,
    from the receive thread or the registering thread: it must not block. An INVITE is
    answered 200 (without media) when autoanswer(message) says so, else 486.
    """

    def __init__(self, port: int, on_request, ip: str = "127.0.0.1"):
        super().__init__(
            "127.0.0.1",
            5060,
            "",
            "",
            cast(pyVoIP.VoIP.VoIPPhone, types.SimpleNamespace(_status=None)),  # stands in: only _status is set
            myIP=ip,
            myPort=port,
            fatalCallback=lambda *a: None,
        )
        self.register_timeout = SIP_TIMEOUT  # type: ignore[assignment]  # pyVoIP infers int from its 30; a float works
        self.on_request = on_request
        # whether to answer an INVITE at once (else 486); set by the phone (snomsim.py)
        self.autoanswer: Callable[[SIPMessage], bool] = lambda message: False
        self.identity: Identity | None = None
        self.reg_call_id = ""
        self.seen: collections.deque = collections.deque(maxlen=64)  # retransmissions
        self.last_cseq = 0
        self.last_error = ""
        self.thread: threading.Thread | None = None

    def open(self) -> None:
        """Bind the socket and start receiving (pyVoIP's start() without its REGISTER)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.myIP, self.myPort))
        self.s = self.out = cast(socket.socket, TransactionSocket(self, sock))  # stands in (duck-typed)
        self.NSD = True
        self.thread = threading.Thread(target=self.recv_loop, name=f"sip-{self.myPort}", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.NSD = False
        if self.thread:
            self.thread.join(timeout=1)  # recv_loop checks NSD every 0.25 s
        self._close_sockets()

    def recv_loop(self) -> None:
        """pyVoIP's loop, but waiting in select() instead of polling every 10 ms."""
        deadline = time.monotonic() + MAX_RUNTIME
        while self.NSD and time.monotonic() < deadline:
            if not select.select([self.s], [], [], 0.25)[0]:
                continue
            try:  # a REGISTER transaction may have taken the datagram meanwhile
                with acquired_lock_and_unblocked_socket(self.recvLock, self.s):
                    self.recv()
            except BlockingIOError:  # recv() finds nothing and raises this
                pass

    def use(self, identity: Identity) -> None:
        if identity != self.identity:
            self.identity = identity
            self.server, self.port = identity.host, identity.port
            self.username, self.password = identity.user, identity.password
            self.default_expires = identity.expires
            self.reg_call_id = f"{uuid.uuid4().hex}@{self.myIP}"
            self.tagLibrary["register"] = self.gen_tag()

    # one bounded attempt each, instead of pyVoIP's retrying register()/deregister()
    # (ignore: pyVoIP's private methods, name-mangled, which mypy does not resolve)
    def register(self) -> bool:
        return self._transaction(self._SIPClient__register, "REGISTER")  # type: ignore[attr-defined]

    def deregister(self) -> bool:
        return self._transaction(self._SIPClient__deregister, "unREGISTER")  # type: ignore[attr-defined]

    def _transaction(self, run, what: str) -> bool:
        self.last_error = ""
        try:
            with self.recvLock:
                sock = self.s
                assert isinstance(sock, TransactionSocket), "open() first"
                sock.in_transaction = True
                try:
                    ok = bool(run())
                finally:
                    sock.in_transaction = False
            if not ok:
                self.last_error = f"{what}: no 200 OK"
            return ok
        except Exception as e:  # pyVoIP raises InvalidAccountInfoError, TimeoutError, ...
            self.last_error = f"{what}: {type(e).__name__}: {e}"
            return False

    # requests and their answers
    def parse_message(self, message: SIPMessage) -> None:
        if message.type != SIPMessageType.MESSAGE:
            log.debug("port %s: stray response %s", self.myPort, message.heading)
            return
        method = message.method
        if method in ("OPTIONS", "NOTIFY"):
            self._reply(self.gen_ok(message), message)
            key = (message.headers.get("Call-ID"), message.headers["CSeq"]["check"], method)
            if key not in self.seen:  # not a retransmission
                self.seen.append(key)
                self._tell(method, message)
        elif method == "INVITE":
            if self.autoanswer(message):  # answered at once, as its answer_after_policy allows
                self.tagLibrary.setdefault(message.headers["Call-ID"], self.gen_tag())
                media = {self.myPort + 2: {0: PayloadType.PCMU}}  # nothing listens there: no media here
                self._reply(self.gen_answer(message, "1", media, TransmitType.SENDRECV), message)
            else:
                super().parse_message(message)  # no call callback: 486 Busy Here
            self._tell(method, message)
        elif method == "BYE":  # the end of a call it answered
            self._reply(self.gen_ok(message), message)
        elif method != "ACK":
            log.info("port %s: ignored %s", self.myPort, method)

    def _tell(self, method: str, message: SIPMessage) -> None:
        try:  # pyVoIP's receive loop would swallow the exception without a word
            self.on_request(method, message)
        except Exception:
            log.exception("port %s: handling %s failed", self.myPort, method)

    def _reply(self, text: str, request: SIPMessage) -> None:
        via = request.headers["Via"][0]
        host = via.get("received") or via["address"][0]
        port = via.get("rport") or via["address"][1]
        self.out.sendto(text.encode("utf8"), (host, int(port)))

    # REGISTER as a snom sends it
    def gen_call_id(self) -> str:
        return self.reg_call_id or f"{uuid.uuid4().hex}@{self.myIP}"

    def gen_first_response(self, deregister=False) -> str:
        return self._register_request(deregister, None)

    def gen_register(self, request: SIPMessage, deregister=False) -> str:
        return self._register_request(deregister, self._authorization(request))

    def _register_request(self, deregister: bool, authorization: str | None) -> str:
        ident = self.identity
        assert ident is not None, "use() an identity first"
        aor = f"sip:{ident.user}@{ident.hostport}"
        name = ident.display_name.replace("\\", "\\\\").replace('"', '\\"')
        lines = [
            f"REGISTER sip:{ident.hostport} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.myIP}:{self.myPort};branch={self.gen_branch()};rport",
            "Max-Forwards: 70",
            f'From: "{name}" <{aor}>;tag={self.tagLibrary["register"]}',
            f'To: "{name}" <{aor}>',
            f"Call-ID: {self.reg_call_id}",
            f"CSeq: {self._next_cseq()} REGISTER",
            f"Contact: <sip:{ident.user}@{self.myIP}:{self.myPort};transport=udp>"
            f';+sip.instance="<urn:uuid:{self.urnUUID}>"',
            f"Allow: {', '.join(pyVoIP.SIPCompatibleMethods)}",
            "Allow-Events: check-sync",
            f"User-Agent: {USER_AGENT}",
            f"Expires: {0 if deregister else ident.expires}",
        ]
        if authorization:
            lines.append(authorization)
        return "\r\n".join([*lines, "Content-Length: 0", "", ""])

    def _next_cseq(self) -> int:
        self.last_cseq = self.registerCounter.next()
        return self.last_cseq

    def _authorization(self, challenge: SIPMessage) -> str:
        ident, auth = self.identity, challenge.authentication
        assert ident is not None, "use() an identity first"
        uri = f"sip:{ident.hostport}"

        def md5(text: str) -> str:
            return hashlib.md5(text.encode("utf8")).hexdigest()

        ha1 = md5(f"{ident.auth_user}:{auth['realm']}:{ident.password}")
        ha2 = md5(f"REGISTER:{uri}")
        fields = [
            f'username="{ident.auth_user}"',
            f'realm="{auth["realm"]}"',
            f'nonce="{auth["nonce"]}"',
            f'uri="{uri}"',
            "algorithm=MD5",
        ]
        if "auth" in auth.get("qop", "").split(","):
            cnonce, nc = secrets.token_hex(8), "00000001"
            response = md5(f"{ha1}:{auth['nonce']}:{nc}:{cnonce}:auth:{ha2}")
            fields += [f'cnonce="{cnonce}"', f"nc={nc}", "qop=auth"]
        else:
            response = md5(f"{ha1}:{auth['nonce']}:{ha2}")
        fields.append(f'response="{response}"')
        if "opaque" in auth:
            fields.append(f'opaque="{auth["opaque"]}"')
        return "Authorization: Digest " + ",".join(fields)


class TransactionSocket:
    """The UDP socket as pyVoIP sees it. pyVoIP's REGISTER transactions take whatever
    self.s.recv() returns next as their response; during ours (in_transaction), recv()
    answers requests that come in between (qualify OPTIONS, NOTIFY) and skips stale
    responses, and returns only a response to the REGISTER just sent."""

    def __init__(self, client: SnomSIPClient, sock: socket.socket):
        self.client, self.sock, self.in_transaction = client, sock, False

    def __getattr__(self, name: str):  # sendto, setblocking, fileno (select), close
        return getattr(self.sock, name)

    def recv(self, size: int) -> bytes:
        if not self.in_transaction:
            return self.sock.recv(size)
        deadline = time.monotonic() + self.client.register_timeout
        for _ in range(64):
            raw = self.sock.recv(size)
            if self._is_the_response(raw):
                return raw
            ready = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not ready[0]:
                break
        raise TimeoutError("no response to this REGISTER")

    def _is_the_response(self, raw: bytes) -> bool:
        try:
            message = SIPMessage(raw)
        except Exception:  # pyVoIP cannot parse it
            if raw.startswith(b"SIP/2.0 "):
                return True  # let pyVoIP fail on it
            log.info("port %s: dropped %r", self.client.myPort, raw[:60])
            return False
        if message.type == SIPMessageType.MESSAGE:
            self.client.parse_message(message)
            return False
        if message.headers.get("CSeq", {}).get("check") != str(self.client.last_cseq):
            log.info("port %s: stale response %s", self.client.myPort, message.heading)
            return False
        return True
