"""snomsim: simulated snom desk phones for lab tests (one process, a thread set per phone).

    ip netns exec <lab.netns> python -m lab.snomsim --statedir DIR --phones PHONES.json

Runs on the host's Python (with pyVoIP 1.6.8) inside the lab's network namespace; every
phone listens on 127.0.0.1 there (or on its own "ip" from 127.0.0.0/8, so that it can have
the ports of a real phone, 5060 and 80). PHONES.json lists the phones:
    [{"mac": "000413ABCDEF", "sip_port": 5101, "web_port": 8101,
      "setting_server": "http://127.0.0.1:8088/static/televoc/{mac}.xml" or null,
      "http_pass": null or "...", "ip": "127.0.0.1" (optional)}]
The test side is lab/snom.py (SnomFleet). What a phone does, as snom documents it:
  - boot: GET setting_server ({mac} -> the MAC in upper case, no separators), merge the
    snom XML (<settings><phone-settings><NAME idx="1" perm="R">value</NAME>...), an empty
    value clears a setting; 404 or no answer keeps the settings and counts a failure.
  - identity 1 registers when user_active.1 is "on" and user_name.1, user_host.1 and
    user_pass.1 are set; a change of identity 1 unregisters the old one, then registers.
  - SIP: answers OPTIONS 200 (qualify); NOTIFY "Event: check-sync" 200, then fetches the
    settings again (";reboot=true": unregister, fetch, register); INVITE 486 Busy Here,
    unless it carries `Alert-Info: ...;info=alert-autoanswer` and answer_after_policy is
    idle, always or not_busy (snom's intercom, "Intercom - Paging feature"): then 200 OK
    at once (no media; the phone has no call, so idle holds), counted as auto_answered.
  - web (HTTP Basic when http_pass is set, user http_user or "admin"):
    /dummy.htm?settings=save&NAME=VALUE..., /advanced_update.htm?reboot=Reboot and ?reset=Reset.
State: <statedir>/<MAC>.json after every change (see Phone.snapshot for the keys); settings
are a flat dict, identity settings keyed "NAME.IDX" ("user_name.1"), global ones "NAME".
Log: <statedir>/snomsim.log. SIGTERM/SIGINT: unregister (bounded), final state, exit 0.

pyVoIP 1.6.8 quirks handled here (SnomSIPClient):
  - `import pyVoIP.SIP` first fails (circular import): import pyVoIP.VoIP before it.
  - SIPMessage parses INVITE/ACK/BYE/CANCEL only (pyVoIP.SIPCompatibleMethods); OPTIONS and
    NOTIFY are dropped unanswered, so Asterisk shows the contact Unavail. We add both to
    that module-wide list (it also becomes the Allow header) and answer them ourselves.
  - A request that arrives while register()/deregister() waits for its response is taken
    as the response (one socket, one lock), and a stale response too: deregister() then
    fails and the request goes unanswered. TransactionSocket (pyVoIP's self.s) answers such
    requests and skips stale responses during our transactions.
  - register() retries at once in Timer threads, and after 3 failures stop()s the client
    (closing its socket) and calls fatalCallback; deregister() recurses on 500 without
    bound. Both are replaced by one bounded attempt of pyVoIP's own transaction
    (SIPClient.__register / __deregister); refresh and retry are the phone's job.
  - REGISTER has no display name, no separate auth user, URIs without the port, a new
    deterministic Call-ID (sha256 of a counter) per request, and digest without
    qop/opaque (Asterisk 22 accepts that). gen_first_response()/gen_register() are
    overridden: From/To with user_realname, auth user user_pname, qop=auth with cnonce.
  - The receive thread is a non-daemon Timer that polls the socket every 10 ms; our
    recv_loop waits in select() and runs in a daemon thread.
  - Not patched: pyVoIP.VoIP imports audioop, which Python 3.13 removed (3.11 warns).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import http.client
import http.server
import json
import logging
import os
import queue
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from .snom import normalize_mac
from .snomsip import Identity, SIPMessage, SnomSIPClient, pyVoIP  # imports pyVoIP in the right order

log = logging.getLogger("snomsim")
FETCH_TIMEOUT = 5.0  # seconds per GET of the settings
FETCH_ATTEMPTS = 3  # for an unreachable server; an HTTP error status is final at once
REGISTER_RETRY = 5.0  # seconds between attempts after a failed REGISTER
REGISTER_ATTEMPTS = 12  # then give up until the settings change or the phone reboots
SHUTDOWN_WAIT = 3.0  # seconds to unregister every phone on SIGTERM
MAX_RUNTIME = 6 * 3600  # the process ends by itself after this (seconds)


# --- settings (pure) ------------------------------------------------------------------


def parse_settings_xml(text: str | bytes) -> dict[str, str]:
    """snom XML settings -> {"NAME": value, "NAME.IDX": value}; "" means clear the setting."""
    root = ET.fromstring(text)
    blocks = [root] if root.tag == "phone-settings" else list(root.iter("phone-settings"))
    found: dict[str, str] = {}
    for block in blocks:
        for element in block:
            idx = element.get("idx")
            found[f"{element.tag}.{idx}" if idx else element.tag] = element.text or ""
    return found


def merge_settings(settings: dict[str, str], changes: dict[str, str]) -> dict[str, str]:
    """The settings after `changes` (an empty value removes the setting)."""
    merged = dict(settings)
    for name, value in changes.items():
        if value == "":
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def web_setting_name(name: str) -> str:
    """A web form name -> settings key: 'user_pass1' (snom's form) and 'user_pass.1' -> 'user_pass.1'."""
    m = re.fullmatch(r"(user_[a-z_]*[a-z])\.?(\d+)", name)
    return f"{m[1]}.{m[2]}" if m else name


def identity_of(settings: dict[str, str], idx: int = 1) -> Identity | None:
    """The identity a phone registers, or None (not active, or user, host or password unset)."""

    def get(name: str) -> str:
        return settings.get(f"{name}.{idx}", "")

    user, hostport, password = get("user_name"), get("user_host"), get("user_pass")
    if get("user_active") != "on" or not (user and hostport and password):
        return None
    host, _, port = hostport.partition(":")
    expiry = get("user_expiry")
    return Identity(
        host=host,
        port=int(port) if port.isdigit() else 5060,
        user=user,
        auth_user=get("user_pname") or user,
        password=password,
        display_name=get("user_realname"),
        expires=int(expiry) if expiry.isdigit() and int(expiry) >= 60 else 3600,
    )


# --- one phone ---------------------------------------------------------------------


class Phone:
    """A simulated snom phone: settings, SIP user agent, web interface, state file.

    Registration, fetches, reboots and resets run in the phone's worker thread, one at a
    time, in the order they were asked for (boot, NOTIFY, web).
    """

    def __init__(self, spec: dict, statedir: Path, stop: threading.Event, deadline: float):
        self.mac = normalize_mac(spec["mac"])
        self.sip_port, self.web_port = int(spec["sip_port"]), int(spec["web_port"])
        self.ip = spec.get("ip") or "127.0.0.1"
        self.statefile = statedir / f"{self.mac}.json"
        self.stop, self.deadline = stop, deadline
        self.settings: dict[str, str] = {}
        for name in ("setting_server", "http_pass"):
            if spec.get(name):
                self.settings[name] = str(spec[name])
        self.lock = threading.RLock()
        self.actions: queue.Queue = queue.Queue()
        self.counts = dict.fromkeys(
            (
                "fetches",
                "fetch_failures",
                "notifies",
                "other_notifies",
                "options",
                "invites",
                "auto_answered",
                "reboots",
                "resets",
                "registrations",
                "register_failures",
                "web_requests",
            ),
            0,
        )
        self.info: dict = {
            "last_fetch_status": None,
            "last_fetch_url": None,
            "last_notify_event": None,
            "last_register_error": None,
            "last_invite_alert_info": None,
        }
        self.registered = False
        self.registered_as: str | None = None
        self.current: Identity | None = None  # the identity in use (registered or trying)
        self.refresh_at: float | None = None
        self.retries_left = 0
        self.seq = 0
        self.sip = SnomSIPClient(self.sip_port, self._on_request, self.ip)
        self.sip.autoanswer = self._answers_by_itself
        self.opener = urllib.request.build_opener(_SourceHandler(self.ip))  # fetch from its own address
        self.web: WebServer | None = None
        self.worker = threading.Thread(target=self._run, name=f"phone-{self.mac}", daemon=True)

    def log(self, msg: str, *args) -> None:
        log.info(f"{self.mac} {msg}", *args)

    # --- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        self.sip.open()
        self.web = WebServer(self)
        self.web.daemon_threads = True
        threading.Thread(
            target=self.web.serve_forever, kwargs={"poll_interval": 0.25}, name=f"web-{self.mac}", daemon=True
        ).start()
        self.write_state()
        self.log("started: SIP %s:%s, web %s:%s", self.ip, self.sip_port, self.ip, self.web_port)
        self.actions.put("boot")
        self.worker.start()

    def _run(self) -> None:
        for _ in range(10_000_000):  # bounded: ends at stop or at the process deadline
            if self.stop.is_set() or time.monotonic() > self.deadline:
                break
            try:
                action = self.actions.get(timeout=0.2)
            except queue.Empty:
                action = None
            if self.stop.is_set():
                break
            try:
                self._do(action)
            except Exception:
                log.exception("%s: %s failed", self.mac, action)
        try:
            self._unregister()
        finally:
            self.write_state()

    def _do(self, action) -> None:
        if action == "boot":
            self._fetch()
        elif action in ("reboot", "check-sync-reboot"):
            self._unregister()
            self.current = None
            with self.lock:
                self.counts["reboots"] += 1
            self.log("reboot (%s)", action)
            self._fetch()
        elif action == "check-sync":
            self._fetch()
        elif action == "reset":
            self._unregister()
            self.current = None
            with self.lock:
                self.settings.clear()
                self.counts["resets"] += 1
            self.log("factory reset")
        # "apply" (web settings) and None (timer tick) only apply
        self._apply()
        if action is not None:
            self.write_state()

    def shutdown_wait(self, timeout: float) -> bool:
        self.worker.join(timeout)
        return not self.worker.is_alive()

    def close(self) -> None:
        if self.web:
            self.web.server_close()
        self.sip.close()

    # --- provisioning ---------------------------------------------------------------
    def _fetch(self) -> None:
        server = self.settings.get("setting_server")
        if not server:
            return
        url = server.replace("{mac}", self.mac)
        self.info["last_fetch_url"] = url
        status, body = None, b""
        for attempt in range(FETCH_ATTEMPTS):
            try:
                with self.opener.open(url, timeout=FETCH_TIMEOUT) as r:
                    status, body = r.status, r.read(1_000_000)
                break
            except urllib.error.HTTPError as e:
                status = e.code
                break
            except (urllib.error.URLError, OSError, ValueError) as e:
                status = f"error: {getattr(e, 'reason', e)}"
                if attempt + 1 < FETCH_ATTEMPTS and not self.stop.wait(1.0):
                    continue
                break
        changes = None
        if status == 200:
            try:
                changes = parse_settings_xml(body)
            except ET.ParseError as e:
                status = f"invalid XML: {e}"
        with self.lock:
            self.info["last_fetch_status"] = status
            if changes is None:
                self.counts["fetch_failures"] += 1
            else:
                self.counts["fetches"] += 1
                self.settings = merge_settings(self.settings, changes)
        self.log("fetch %s -> %s%s", url, status, f" ({len(changes)} settings)" if changes else "")
        self.write_state()

    # --- registration ---------------------------------------------------------------
    def _apply(self) -> None:
        """Bring the registration in line with the settings (worker thread only)."""
        with self.lock:
            want = identity_of(self.settings)
        now = time.monotonic()
        if want != self.current:
            self._unregister()
            self.current = want
            self.retries_left = REGISTER_ATTEMPTS
            if want:
                self._register()
        elif want and self.refresh_at is not None and now >= self.refresh_at:
            self.retries_left = max(self.retries_left, 1)
            self._register()

    def _register(self) -> None:
        ident = self.current
        assert ident is not None  # called only with an identity in use
        self.sip.use(ident)
        ok = self.sip.register()
        self.retries_left -= 1
        with self.lock:
            self.registered = ok
            self.registered_as = ident.user if ok else None
            if ok:
                self.counts["registrations"] += 1
                self.retries_left = REGISTER_ATTEMPTS
                self.refresh_at = time.monotonic() + ident.expires / 2
            else:
                self.counts["register_failures"] += 1
                self.info["last_register_error"] = self.sip.last_error
                retry = self.retries_left > 0
                self.refresh_at = time.monotonic() + REGISTER_RETRY if retry else None
        self.log("REGISTER %s@%s: %s", ident.user, ident.hostport, "200 OK" if ok else self.sip.last_error)
        self.write_state()

    def _unregister(self) -> None:
        if not self.registered or self.current is None:
            return
        ok = self.sip.deregister()
        if not ok and "Timeout" not in self.sip.last_error:  # a request came in between?
            ok = self.sip.deregister()
        with self.lock:
            self.registered, self.registered_as, self.refresh_at = False, None, None
            if not ok:
                self.info["last_register_error"] = self.sip.last_error
        self.log("unREGISTER %s: %s", self.current.user, "200 OK" if ok else self.sip.last_error)
        self.write_state()

    # --- SIP requests (receive thread) ---------------------------------------------
    def _answers_by_itself(self, message: SIPMessage) -> bool:
        """An intercom or page the phone's answer_after_policy lets it answer at once."""
        alert = str(message.headers.get("Alert-Info") or "")
        asked = any(p.strip() == "info=alert-autoanswer" for p in alert.split(";"))
        with self.lock:
            obeys = asked and self.settings.get("answer_after_policy") in ("idle", "always", "not_busy")
            if obeys:
                self.counts["auto_answered"] += 1
        return obeys

    def _on_request(self, method: str, message: SIPMessage) -> None:
        if method == "OPTIONS":
            with self.lock:
                self.counts["options"] += 1
            return  # not worth a state write every few seconds
        if method == "INVITE":
            with self.lock:
                self.counts["invites"] += 1
                self.info["last_invite_alert_info"] = message.headers.get("Alert-Info")
            self.write_state()
            return
        event = str(message.headers.get("Event", ""))
        name, *params = [p.strip() for p in event.split(";")]
        reboot = any(p.replace(" ", "").lower() == "reboot=true" for p in params)
        with self.lock:
            self.info["last_notify_event"] = event
            self.counts["notifies" if name.lower() == "check-sync" else "other_notifies"] += 1
        self.log("NOTIFY Event: %s\n%s", event, message.raw.decode("utf8", "replace").strip())
        self.write_state()
        if name.lower() == "check-sync":
            self.actions.put("check-sync-reboot" if reboot else "check-sync")

    # --- web (HTTP server threads) ------------------------------------------------------
    def web_authorized(self, header: str | None) -> bool:
        with self.lock:
            password = self.settings.get("http_pass")
            user = self.settings.get("http_user") or "admin"
        if not password:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:].strip(), validate=True).decode("utf8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(given.encode(), f"{user}:{password}".encode())

    def web_save(self, pairs: list[tuple[str, str]]) -> None:
        changes = {web_setting_name(k): v for k, v in pairs if k != "settings"}
        with self.lock:
            self.settings = merge_settings(self.settings, changes)
        self.log("web: saved %s", sorted(changes))
        self.write_state()
        self.actions.put("apply")

    # --- state --------------------------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            self.seq += 1
            return {
                "mac": self.mac,
                "ip": self.ip,
                "sip_port": self.sip_port,
                "web_port": self.web_port,
                "settings": dict(sorted(self.settings.items())),
                "identity": self.current.public() if self.current else None,
                "registered": self.registered,
                "registered_as": self.registered_as,
                **self.counts,
                **self.info,
                "seq": self.seq,
                "pid": os.getpid(),
                "time": time.time(),
            }

    def write_state(self) -> None:
        with self.lock:
            data = json.dumps(self.snapshot(), indent=1) + "\n"
            tmp = self.statefile.with_name(f".{self.statefile.name}.tmp")
            tmp.write_text(data)
            os.replace(tmp, self.statefile)


class _SourceHandler(urllib.request.HTTPHandler):
    """HTTP from the phone's own address, as a real phone's requests come from its IP."""

    def __init__(self, ip: str):
        super().__init__()
        self.ip = ip

    def http_open(self, req):
        return self.do_open(lambda host, **kw: http.client.HTTPConnection(host, source_address=(self.ip, 0), **kw), req)


class WebServer(http.server.ThreadingHTTPServer):
    """A phone's web interface; its handlers find the phone as server.phone."""

    def __init__(self, phone: Phone):
        super().__init__((phone.ip, phone.web_port), WebHandler)
        self.phone = phone


class WebHandler(http.server.BaseHTTPRequestHandler):
    server: WebServer
    server_version = "snom embedded"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        phone: Phone = self.server.phone
        with phone.lock:
            phone.counts["web_requests"] += 1
        if not phone.web_authorized(self.headers.get("Authorization")):
            return self._answer(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="snom"'})
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        args = dict(query)
        if url.path == "/dummy.htm" and args.get("settings") == "save":
            phone.web_save(query)
            return self._answer(200, "saved")
        if url.path == "/advanced_update.htm" and args.get("reboot") == "Reboot":
            phone.actions.put("reboot")
            return self._answer(200, "rebooting")
        if url.path == "/advanced_update.htm" and args.get("reset") == "Reset":
            phone.actions.put("reset")
            return self._answer(200, "resetting")
        return self._answer(404, "Not Found")

    def _answer(self, code: int, text: str, headers: dict | None = None) -> None:
        body = f"<html><body>{text}</body></html>\n".encode()
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        log.info("%s web: %s", self.server.phone.mac, fmt % args)


# --- the program ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.snomsim", description=__doc__.splitlines()[0])
    ap.add_argument("--statedir", type=Path, required=True)
    ap.add_argument("--phones", type=Path, required=True, help="JSON list of phones")
    ap.add_argument("--max-runtime", type=float, default=MAX_RUNTIME, help="seconds (then exit)")
    args = ap.parse_args(argv)
    args.statedir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=args.statedir / "snomsim.log", level=logging.INFO, format="%(asctime)s %(threadName)s %(message)s"
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = time.monotonic() + args.max_runtime
    phones = [Phone(spec, args.statedir, stop, deadline) for spec in json.loads(args.phones.read_text())]
    log.info("snomsim %s: %d phones, pyVoIP %s", os.getpid(), len(phones), pyVoIP.__version__)
    rc = 0
    try:
        for phone in phones:
            phone.start()
    except OSError as e:
        log.error("cannot start: %s", e)
        rc = 2
        stop.set()
    while not stop.wait(0.5) and time.monotonic() < deadline:
        pass
    stop.set()
    log.info("stopping: unregistering")
    end = time.monotonic() + SHUTDOWN_WAIT
    for phone in phones:
        if phone.worker.is_alive() and not phone.shutdown_wait(max(0.0, end - time.monotonic())):
            log.warning("%s: still busy after %.1f s, not unregistered", phone.mac, SHUTDOWN_WAIT)
    for phone in phones:
        phone.sip.NSD = False  # all receive loops end together (within 0.25 s)
        if phone.worker.ident is not None:  # started
            phone.write_state()
    for phone in phones:
        phone.close()
    log.info("stopped")
    logging.shutdown()
    sys.stdout.flush()
    os._exit(rc)  # the HTTP and SIP threads are daemons; do not wait for a stuck one


if __name__ == "__main__":
    sys.exit(main())
