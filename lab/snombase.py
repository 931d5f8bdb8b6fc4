"""snombase: a simulated snom M-series DECT base, for lab tests.

    ip netns exec <lab.phones_netns> python -m lab.snombase --server URL --model snomM700 \
        --mac 0004136A0001 --ip 10.23.0.31                       # one boot: fetch, print, exit
    ... --statedir DIR --serve                                    # a base that runs (below)

What a base does at boot with a setting server URL without file name (snom's auto
provisioning; the shared notes, dect.md 1.1): GET <server>snomM700.htm, then
<server>snomM700-<MAC>.htm, each a <setting-files> list whose <file url="..."/> entries it
fetches in turn (at most MAX_FILES in all, depth MAX_DEPTH), merging each settings file
into what it has (snomsim's parse_settings_xml/merge_settings: an empty value clears; a
refused file changes nothing). Every request comes from --ip with the User-Agent a snom
base sends (the form the Wazo snom DECT plugin recognises: `Mozilla/4.0 (compatible; Snom
M700 05.20.0001 0004136a0001)`).

One boot prints one JSON object: {"fetched": [[url, status], ...], "settings": {"NAME.IDX":
value}}; status is the HTTP status, or "error: ..." for no answer. Exit 0 whatever the
server said: the test judges.

--serve: a base that runs (until SIGTERM, or MAX_RUNTIME). It boots as above, then registers
every active account from one SIP socket, <ip>:5060, as a base does for its handsets: at
idx N with user_active.N "on", user_name.N, user_pass.N (auth user user_pname.N), at the
server of subscr_sip_ua_data_server_id.N (user_host.<server>, default server 1). It
refreshes each registration at half its expiry, answers OPTIONS (qualify) 200 and INVITE
486, and answers a NOTIFY "Event: check-sync" 200, then reboots: unregisters every account,
boots (fetches) again and registers what it then holds. That is what the Wazo snom DECT
plugin relies on (it sends bases check-sync;reboot=true, to a handset account the base has
registered); whether a real base applies new accounts on check-sync without reboot is not
known (the notes, dect.md 1.5), so both forms reboot here. A base holding no active
account (a wiped one) registers nothing. SIGTERM: unregister (bounded), final state, exit 0.

State: <statedir>/<MAC>.json after every change: mac, ip, boots, fetched (the last boot's
[url, status] list), settings, registered (the account names registered now), registrations,
register_failures, last_register_error, options, notifies, last_notify_event, invites,
last_invite (its request line), seq, pid, time. Log: <statedir>/snombase-<MAC>.log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from .snomsim import _SourceHandler, merge_settings, parse_settings_xml
from .snomsip import Identity, SIPMessage, SnomSIPClient

FIRMWARE = "05.20.0001"
TIMEOUT = 5.0  # seconds per GET
MAX_FILES = 8  # files one boot fetches at most
MAX_DEPTH = 3  # <setting-files> lists within lists
SIP_PORT = 5060
MAX_RUNTIME = 3 * 3600  # --serve ends by itself after this (seconds)
SHUTDOWN_WAIT = 10.0  # seconds to unregister every account on SIGTERM
REGISTER_RETRY = 5.0  # seconds before a failed account is tried again
MAX_ACCOUNTS = 1000  # the most lines a snom base has (M700, M900)

log = logging.getLogger("snombase")


def user_agent(model: str, mac: str) -> str:
    """'snomM700', '0004136A0001' -> 'Mozilla/4.0 (compatible; Snom M700 05.20.0001 0004136a0001)'."""
    return f"Mozilla/4.0 (compatible; Snom {model.removeprefix('snom')} {FIRMWARE} {mac.lower()})"


def listed(text: bytes) -> list[str] | None:
    """The URLs of a <setting-files> list; None when `text` is no such list."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    if root.tag != "setting-files":
        return None
    return [f.get("url", "") for f in root.iter("file") if f.get("url")]


def fetch_all(opener, server: str, model: str, mac: str, settings: dict[str, str]) -> list[list]:
    """One boot's fetches from `server` (ending in '/'), merged into `settings`; [url, status] each."""
    agent = user_agent(model, mac)
    fetched: list[list] = []

    def fetch(url: str, depth: int) -> None:
        if len(fetched) >= MAX_FILES or depth > MAX_DEPTH:
            return
        request = urllib.request.Request(url, headers={"User-Agent": agent})
        try:
            with opener.open(request, timeout=TIMEOUT) as r:
                status, body = r.status, r.read(8_000_000)
        except urllib.error.HTTPError as e:
            fetched.append([url, e.code])
            return
        except (urllib.error.URLError, OSError) as e:
            fetched.append([url, f"error: {getattr(e, 'reason', e)}"])
            return
        fetched.append([url, status])
        urls = listed(body)
        if urls is not None:
            for inner in urls:
                fetch(inner, depth + 1)
            return
        try:
            merged = merge_settings(settings, parse_settings_xml(body))
            settings.clear()
            settings.update(merged)
        except ET.ParseError as e:
            fetched[-1][1] = f"invalid XML: {e}"

    for name in (f"{model}.htm", f"{model}-{mac.upper()}.htm"):
        fetch(server + name, 0)
    return fetched


def boot(server: str, model: str, mac: str, ip: str) -> dict:
    """What a base of `model` with `mac` at `ip` fetches from `server` (ending in '/')."""
    settings: dict[str, str] = {}
    fetched = fetch_all(urllib.request.build_opener(_SourceHandler(ip)), server, model, mac, settings)
    return {"fetched": fetched, "settings": settings}


def accounts(settings: dict[str, str]) -> dict[str, Identity]:
    """Account name -> what the base registers for it: every active idx with a name, a
    password and a server (user_host of its subscr_sip_ua_data_server_id, default 1)."""
    found: dict[str, Identity] = {}
    for idx in range(1, MAX_ACCOUNTS + 1):
        if settings.get(f"user_active.{idx}") != "on":
            continue
        user, password = settings.get(f"user_name.{idx}", ""), settings.get(f"user_pass.{idx}", "")
        server = settings.get(f"subscr_sip_ua_data_server_id.{idx}") or "1"
        hostport = settings.get(f"user_host.{server}", "")
        if not (user and password and hostport):
            continue
        host, _, port = hostport.partition(":")
        found[user] = Identity(
            host=host,
            port=int(port) if port.isdigit() else 5060,
            user=user,
            auth_user=settings.get(f"user_pname.{idx}") or user,
            password=password,
            display_name=settings.get(f"user_realname.{idx}", ""),
            expires=3600,
        )
    return found


class Base:
    """A running simulated base: one worker thread does boots, registrations and reboots, in
    the order they were asked for; the SIP receive thread answers requests."""

    def __init__(self, server: str, model: str, mac: str, ip: str, statedir: Path, deadline: float):
        self.server, self.model, self.mac, self.ip = server, model, mac.upper(), ip
        self.statefile = statedir / f"{self.mac}.json"
        self.deadline = deadline
        self.stop = threading.Event()
        self.lock = threading.RLock()
        self.actions: queue.Queue = queue.Queue()
        self.settings: dict[str, str] = {}
        self.registered: dict[str, Identity] = {}
        self.refresh_at: dict[str, float] = {}
        self.counts = dict.fromkeys(
            ("boots", "registrations", "register_failures", "options", "notifies", "invites"), 0
        )
        self.info: dict = {"fetched": [], "last_register_error": None, "last_notify_event": None, "last_invite": None}
        self.seq = 0
        self.opener = urllib.request.build_opener(_SourceHandler(ip))
        self.sip = SnomSIPClient(SIP_PORT, self._on_request, ip)
        self.call_ids: dict[str, tuple[str, str]] = {}  # user -> (Call-ID, tag): one dialog each
        self.worker = threading.Thread(target=self._run, name=f"base-{self.mac}", daemon=True)

    def start(self) -> None:
        self.sip.open()
        self.write_state()
        self.actions.put("boot")
        self.worker.start()

    def _run(self) -> None:
        for _ in range(10_000_000):  # bounded: ends at stop or at the deadline
            if self.stop.is_set() or time.monotonic() > self.deadline:
                break
            try:
                action = self.actions.get(timeout=0.2)
            except queue.Empty:
                action = None
            if self.stop.is_set():
                break
            try:
                if action == "reboot":
                    self._unregister_all(until=time.monotonic() + SHUTDOWN_WAIT)
                if action in ("boot", "reboot"):
                    self._boot()
                self._apply()
            except Exception:
                log.exception("%s: %s failed", self.mac, action)
        self._unregister_all(until=time.monotonic() + SHUTDOWN_WAIT)
        self.write_state()

    def _boot(self) -> None:
        with self.lock:
            settings = dict(self.settings)
        fetched = fetch_all(self.opener, self.server, self.model, self.mac, settings)
        with self.lock:
            self.settings = settings
            self.info["fetched"] = fetched
            self.counts["boots"] += 1
        log.info("%s boot: %s", self.mac, fetched)
        self.write_state()

    def _apply(self) -> None:
        """Registrations in line with the settings: gone or changed accounts unregistered,
        new ones registered, due ones refreshed (worker thread only)."""
        with self.lock:
            wanted = accounts(self.settings)
        now = time.monotonic()
        for user, ident in list(self.registered.items()):
            if wanted.get(user) != ident:
                self._transaction(ident, register=False)
        for user, ident in wanted.items():
            due = self.refresh_at.get(user)
            if (due is None and user not in self.registered) or (due is not None and now >= due):
                self._transaction(ident, register=True)

    def _use(self, ident: Identity) -> None:
        self.sip.use(ident)
        call_id, tag = self.call_ids.setdefault(ident.user, (self.sip.reg_call_id, self.sip.tagLibrary["register"]))
        self.sip.reg_call_id, self.sip.tagLibrary["register"] = call_id, tag

    def _transaction(self, ident: Identity, register: bool) -> None:
        self._use(ident)
        ok = self.sip.register() if register else self.sip.deregister()
        if not register and not ok and "Timeout" not in self.sip.last_error:  # a request came in between?
            ok = self.sip.deregister()
        with self.lock:
            if register and ok:
                self.registered[ident.user] = ident
                self.refresh_at[ident.user] = time.monotonic() + ident.expires / 2
                self.counts["registrations"] += 1
            elif register:
                self.registered.pop(ident.user, None)
                self.refresh_at[ident.user] = time.monotonic() + REGISTER_RETRY
                self.counts["register_failures"] += 1
                self.info["last_register_error"] = f"{ident.user}: {self.sip.last_error}"
            else:
                self.registered.pop(ident.user, None)
                self.refresh_at.pop(ident.user, None)
                self.call_ids.pop(ident.user, None)
        what = "REGISTER" if register else "unREGISTER"
        log.info("%s %s %s: %s", self.mac, what, ident.user, "200 OK" if ok else self.sip.last_error)
        self.write_state()

    def _unregister_all(self, until: float) -> None:
        for ident in list(self.registered.values()):
            if time.monotonic() > until:
                break
            self._transaction(ident, register=False)
        self.refresh_at.clear()

    def _on_request(self, method: str, message: SIPMessage) -> None:
        if method == "OPTIONS":
            with self.lock:
                self.counts["options"] += 1
            return
        if method == "INVITE":
            with self.lock:
                self.counts["invites"] += 1
                self.info["last_invite"] = message.raw.split(b"\r\n", 1)[0].decode("utf8", "replace")
            self.write_state()
            return
        event = str(message.headers.get("Event", ""))
        with self.lock:
            self.info["last_notify_event"] = event
            if event.split(";")[0].strip().lower() == "check-sync":
                self.counts["notifies"] += 1
        log.info("%s NOTIFY Event: %s", self.mac, event)
        self.write_state()
        if event.split(";")[0].strip().lower() == "check-sync":
            self.actions.put("reboot")

    def write_state(self) -> None:
        with self.lock:
            self.seq += 1
            data = {
                "mac": self.mac,
                "ip": self.ip,
                "settings": dict(sorted(self.settings.items())),
                "registered": sorted(self.registered),
                **self.counts,
                **self.info,
                "seq": self.seq,
                "pid": os.getpid(),
                "time": time.time(),
            }
            tmp = self.statefile.with_name(f".{self.statefile.name}.tmp")
            tmp.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(tmp, self.statefile)


def serve(server: str, model: str, mac: str, ip: str, statedir: Path, max_runtime: float) -> int:
    statedir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=statedir / f"snombase-{mac.upper()}.log",
        level=logging.INFO,
        format="%(asctime)s %(threadName)s %(message)s",
    )
    base = Base(server, model, mac, ip, statedir, time.monotonic() + max_runtime)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: base.stop.set())
    base.start()
    while not base.stop.wait(0.5) and time.monotonic() < base.deadline:
        pass
    base.stop.set()
    base.worker.join(SHUTDOWN_WAIT + 1)
    base.sip.close()
    log.info("%s stopped", base.mac)
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)  # the SIP receive thread is a daemon; do not wait for it


class Running:
    """A --serve base started in a lab's phone network (the test side):

    base = Running.start(lab, workdir, server, "snomM700", "0004136A0001", "10.23.0.31")
    base.wait(lambda s: len(s["registered"]) == 2, 30, "both accounts registered")
    base.stop()
    """

    def __init__(self, proc, statefile: Path):
        self.proc, self.statefile = proc, statefile

    @classmethod
    def start(cls, lab, workdir: Path, server: str, model: str, mac: str, ip: str) -> Running:
        workdir.mkdir(parents=True, exist_ok=True)
        statefile = workdir / f"{mac.upper()}.json"
        statefile.unlink(missing_ok=True)
        args = ["-m", "lab.snombase", "--server", server, "--model", model, "--mac", mac, "--ip", ip]
        out = open(workdir / f"snombase-{mac.upper()}.out", "ab")  # noqa: SIM115 (kept by the child)
        proc = lab.popen_phone_python([*args, "--serve", "--statedir", str(workdir)], stdout=out, stderr=out)
        out.close()
        return cls(proc, statefile)

    def state(self) -> dict:
        try:
            return json.loads(self.statefile.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def wait(self, predicate, timeout: float, what: str) -> dict:
        """The state once `predicate(state)` holds; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.2) + 2):
            state = self.state()
            if state and predicate(state):
                return state
            if time.monotonic() > deadline or self.proc.poll() is not None:
                break
            time.sleep(0.2)
        shown = {k: v for k, v in self.state().items() if k != "settings"}  # they hold passwords
        raise AssertionError(f"base {self.statefile.stem}: not {what} within {timeout:.0f} s: {shown}")

    def stop(self) -> None:
        """SIGTERM (the base unregisters its accounts), then SIGKILL if it lingers; idempotent."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=SHUTDOWN_WAIT + 3)
        except Exception:  # noqa: BLE001 (subprocess.TimeoutExpired)
            self.proc.kill()
            self.proc.wait(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="the setting server URL, ending in /")
    parser.add_argument("--model", required=True)
    parser.add_argument("--mac", required=True)
    parser.add_argument("--ip", required=True)
    parser.add_argument("--serve", action="store_true", help="run: register, answer qualify and check-sync")
    parser.add_argument("--statedir", type=Path, help="with --serve: where <MAC>.json is written")
    parser.add_argument("--max-runtime", type=float, default=MAX_RUNTIME, help="with --serve: seconds, then exit")
    args = parser.parse_args(argv)
    if args.serve:
        if args.statedir is None:
            parser.error("--serve needs --statedir")
        return serve(args.server, args.model, args.mac, args.ip, args.statedir, args.max_runtime)
    print(json.dumps(boot(args.server, args.model, args.mac, args.ip)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
