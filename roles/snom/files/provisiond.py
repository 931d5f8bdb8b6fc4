"""televoc-provisiond: serves snom phones their settings, only while they need them.

    python3 provisiond.py --bind 10.23.0.2 --port 8088 --files /var/lib/televoc-phones \
        --state /var/lib/televoc-provisioning/state.json --log /var/log/televoc-provisioning/access.log

Runs on the PBX as its own unprivileged user (a systemd service of televoc's NixOS module);
Python's standard library only. What it does, and why (docs/threat-model.md):

- GET <prefix>/<MAC>.xml (MAC: 12 upper-case hex digits, as a snom puts it into {mac})
  answers the file <MAC>.xml of --files, which the deploy writes ("armed"), root-owned and
  readable by this service's group only.
- One window per version: once a version of a file has been fetched, it is served again
  for --window seconds, to the same address only (a phone that reboots while applying it
  fetches again), then refused ("fetched already") until the deploy publishes a new version
  (a changed setting) or re-arms the phone. A phone's credentials are on offer from the deploy that arms them
  until the phone has fetched them, not for the whole event.
- Sweep guard, per source: every request for a MAC that has no file is counted for its
  source; a source that asked for --max-unknown-per-source different unknown MACs within
  --source-window seconds is a sweeper: that request and every later one of that source for
  a MAC file is refused ("refused 403 sweeping ...", which fail2ban's sweep jail bans from
  every port at once) until the deploy unlocks; every other source keeps being served.
- Sweep guard, global (many addresses): once --max-unknown different unknown MACs were asked
  for since the last unlock, whoever asked, the server is locked: it refuses every request
  for a MAC file, armed ones too. Guessing MACs yields at most --max-unknown guesses per
  unlock, whatever the number of addresses the guesser uses. The crew lifts the lock on the
  PBX with one command, `touch <--unlock-file>` (root only: the file lies in this service's
  state directory), or with a deploy (televoc_provisioning_unlock); the lock's log line says
  so. The lock, the sweepers and their sources are reported by every deploy.
- Self-service (--claimsdb and --selfservice-db given, and the deploy published the phone
  template TEMPORARY_TEMPLATE in --files): a MAC without a file of its own is a participant's
  snom. Past the same guards (a sweeper or the lock is refused), it counts toward its
  source's unknown MACs (the per-source guard holds: a phone asks for one MAC, a sweeper
  for many), but not toward the global lock: every participant's phone is such a MAC. The
  database (claimsdb.phone_account) gives the phone its claim, bound to its MAC by dialling
  the token, else its temporary number (the same MAC always the same number); the template
  filled with that account is served like a phone's file (one window per version, to the
  first source only). A full temporary range is refused and logged, and counts toward the
  global lock like any unknown MAC.
- GET <prefix>/directory.xml answers the file directory.xml of --files: the event's phone
  directory (a SnomIPPhoneDirectory, names and numbers; what a phone's directory key shows
  when the directory is too long for the phones' own); GET <prefix>/directory-yealink.xml the
  same entries as Yealink's remote phone book (for Yealink phones the crew sets up), alike.
  They hold no secret, so they are served to every source the firewall lets in (the phone
  network), again and again, even while the server is locked (the lock guards the phones'
  credentials; a sweep gains nothing from the directory, and the phones keep their directory
  key). Their fetches are logged with their source like every request; they are never
  counted as unknown MACs and change no state.
- DECT bases (snom M300/M400/M700/M900) ask for three files: GET <prefix>/snomM700.htm (the
  model's file: a <setting-files> list, the same for every event, no secret) is served like
  the directory, to every source, locked or not; GET <prefix>/snomM700-<MAC>.htm (the base's
  list, naming its settings <MAC>.xml: a URL, no secret) is guarded like a MAC file (a
  sweeper or the lock is refused; a MAC without that file counts as an unknown MAC, as for
  <MAC>.xml) but served again and again (no window: it holds nothing to steal); the base's
  <MAC>.xml (with a primary's every handset account: the most valuable file served) is a
  MAC file like a desk phone's, with the same window, first-source rule and guards.
- The deploy steers it through control.json in --files: {"unlock": TOKEN, "rearm": {MAC:
  TOKEN}}; a token it has not seen before lifts the lock and forgives every source refused
  for sweeping (the crew's deliberate reset), or opens a new window for a MAC. The unlock
  file (--unlock-file, read and removed within a second) lifts the global lock only: the
  sweepers stay refused and each source's count goes on.
- Every request is logged, one line, with its source address: what was served and which
  version, or why it was refused. The state file (what was fetched, when, from where; the
  unknown MACs, also per source; the sweepers; the lock) is what the deploy reads.
- Only GET; no listing of --files, no other path; 5 s per connection; at most
  --max-connections at once.

The same file answers one question for fail2ban's SIP jail (its ignorecommand, run per
failure): is an address the one a declared DECT base last fetched its own settings from?

    python3 provisiond.py spared --files /var/lib/televoc-phones \
        --state /var/lib/televoc-provisioning/state.json 10.23.0.41

A declared base is a MAC whose base list (snomM700-<MAC>.htm) the deploy published in
--files; the state says which address fetched that MAC's <MAC>.xml last. Exit 0: spared;
1: not spared, and also whenever the files or the state cannot be read (fail closed: a
jail that cannot tell bans). Reads only: a listing of --files and the state file.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CONTROL_FILE = "control.json"
DIRECTORY_FILE = "directory.xml"
YEALINK_DIRECTORY_FILE = "directory-yealink.xml"
DIRECTORIES = (DIRECTORY_FILE, YEALINK_DIRECTORY_FILE)
STATE_VERSION = 1
BASE_LIST = r"(?P<model>snomM[0-9]{3})-(?P<mac>[0-9A-F]{12})\.htm"  # a DECT base's list of its settings
MAX_SOURCES = 4096  # sources whose unknown MACs are followed at once (see Provisioning._asked)
# Self-service: the settings file of a participant's snom, its account left open (the deploy
# writes it beside the phones' files; names.TEMPORARY_TEMPLATE).
TEMPORARY_TEMPLATE = "selfservice-phone.xml"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    log: str  # the log line's text after the time stamp
    notice: str = ""  # a line logged before it (the lock: what happened, how the crew lifts it)


def span(seconds: float) -> str:
    """A window for the log: '24 h', '10 min', '90 s'."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


class Provisioning:
    """The decisions, without sockets: request(path, source, now) -> Answer.

    + read_file: name -> bytes or None (the armed files)
    + state: the persisted state (dict), changed in place; `dirty` says it changed
    + max_unknown: the global ceiling (different unknown MACs since the last unlock)
    + per_source, source_window: a source that asked for `per_source` different unknown MACs
      within `source_window` seconds is refused as a sweeper
    + unlock_hint: how the crew lifts the global lock on the PBX (for the lock's log line)
    + accounts: MAC -> the account self-service gives that phone ({"kind", "number",
      "sip_password", "name", "freed"}; raises with a sentence when it gives none), or None:
      no self-service
    """

    def __init__(
        self,
        read_file: Callable[[str], bytes | None],
        state: dict,
        window: float = 600,
        max_unknown: int = 128,
        prefix: str = "/televoc",
        per_source: int = 8,
        source_window: float = 86400,
        unlock_hint: str = "touch /var/lib/televoc-provisioning/unlock",
        accounts: Callable[[str], dict] | None = None,
    ):
        self.read_file = read_file
        self.accounts = accounts
        self.path = re.compile(rf"^{re.escape(prefix)}/(?P<mac>[0-9A-F]{{12}})\.xml$")
        self.directories = {f"{prefix}/{name}": name for name in DIRECTORIES}
        # DECT bases: the model's file (no MAC, no secret) and the base's list (names a MAC)
        self.model_path = re.compile(rf"^{re.escape(prefix)}/(?P<model>snomM[0-9]{{3}})\.htm$")
        self.base_path = re.compile(rf"^{re.escape(prefix)}/{BASE_LIST}$")
        self.state = state
        self.window = window
        self.max_unknown = max_unknown
        self.per_source = per_source
        self.source_window = source_window
        self.unlock_hint = unlock_hint
        self.dirty = False  # the state changed since it was saved
        self.urgent = False  # ... in a way that must be saved at once (a fetch, the lock)
        state.setdefault("version", STATE_VERSION)
        state.setdefault("fetches", {})  # MAC -> {"version", "first", "last", "source", "count"}
        state.setdefault("unknown", {})  # MAC -> {"first", "last", "source", "count"} since unlock
        if "asked" not in state:  # a state of before the per-source guard: its unknown MACs count
            asked: dict = {}
            for mac, entry in state["unknown"].items():
                if isinstance(entry, dict) and isinstance(entry.get("source"), str):
                    asked.setdefault(entry["source"], {})[mac] = entry.get("first", 0)
            state["asked"] = asked
        # source -> {MAC: when first asked}: the unknown MACs each source asked for within
        # source_window (older ones are dropped; kept across the crew's unlock)
        state.setdefault("sweepers", {})  # source -> {"since", "macs"}: refused until the deploy unlocks
        state.setdefault("refused", {})  # source -> count of refused requests (all kinds)
        state.setdefault("locked", None)  # {"since", "reason"} or None
        state.setdefault("unlock_token", None)
        state.setdefault("crew_unlock", None)  # the last unlock file seen (its token)
        state.setdefault("rearm_tokens", {})  # MAC -> the last re-arm token seen

    def _refuse(self, status: int, source: str, why: str, notice: str = "") -> Answer:
        refused = self.state["refused"]
        refused[source] = refused.get(source, 0) + 1
        self.dirty = True
        return Answer(status, b"", f"refused {status} {why} from {source}", notice)

    def control(self, control: dict, now: float) -> list[str]:
        """Apply what the deploy asks for in control.json; the log texts of what changed."""
        logs = []
        token = control.get("unlock")
        if isinstance(token, str) and token != self.state["unlock_token"]:
            was_locked = self.state["locked"] is not None
            sweepers = sorted(self.state["sweepers"])
            self.state.update(unlock_token=token, locked=None, unknown={}, asked={}, sweepers={})
            forgiven = f"; no longer refused for sweeping: {_shown(sweepers)}" if sweepers else ""
            logs.append(f"unlocked by the deploy{'' if was_locked else ' (was not locked)'}{forgiven}")
        rearm = control.get("rearm")
        for mac, token in rearm.items() if isinstance(rearm, dict) else ():
            if isinstance(token, str) and self.state["rearm_tokens"].get(mac) != token:
                self.state["rearm_tokens"][mac] = token
                self.state["fetches"].pop(mac, None)
                logs.append(f"re-armed {mac[:12]!r} by the deploy")
        if logs:
            self.dirty = self.urgent = True
        return logs

    def crew_unlock(self, token: str | None, now: float) -> list[str]:
        """The crew's unlock file on the PBX (`token`: what tells one file from the next, None:
        no file): lifts the global lock and forgets the unknown MACs it counted; the sources
        refused for sweeping stay refused, and each source's count goes on."""
        if token is None or token == self.state["crew_unlock"]:
            return []
        was_locked = self.state["locked"] is not None
        self.state.update(crew_unlock=token, locked=None, unknown={})
        sweepers = sorted(self.state["sweepers"])
        still = f"; still refused for sweeping: {_shown(sweepers)}" if sweepers else ""
        self.dirty = self.urgent = True
        return [f"unlocked by the crew on the PBX (the unlock file){'' if was_locked else ' (was not locked)'}{still}"]

    def request(self, method: str, path: str, source: str, now: float) -> Answer:
        if method != "GET":
            return self._refuse(405, source, f"method {method[:16]!r}")
        directory = self.directories.get(path)
        if directory is not None:
            return self._directory(directory, source)
        model = self.model_path.match(path)
        if model:
            return self._public(f"{model['model']}.htm", source)
        match = self.path.match(path) or self.base_path.match(path)
        if not match:
            return self._refuse(404, source, f"path {path[:80]!r}")
        mac = match["mac"]
        sweeper = self.state["sweepers"].get(source)
        if sweeper is not None:  # before the lock: fail2ban's sweep jail bans these lines
            return self._sweeping(source, mac, sweeper)
        locked = self.state["locked"]
        if locked is not None:
            return self._refuse(403, source, f"locked ({locked['reason']}): {mac}")
        if match.re is self.base_path:
            return self._base_list(f"{match['model']}-{mac}.htm", mac, source, now)
        data = self.read_file(f"{mac}.xml")
        given = ""
        if data is None:
            template = self.read_file(TEMPORARY_TEMPLATE) if self.accounts is not None else None
            if template is None:
                return self._unknown(mac, source, now)
            participant = self._participant(template, mac, source, now)
            if isinstance(participant, Answer):
                return participant
            data, given = participant
        version = hashlib.sha256(data).hexdigest()[:16]
        fetch = self.state["fetches"].get(mac)
        if fetch is not None and fetch["version"] == version:
            if source != fetch["source"]:
                return self._refuse(403, source, f"fetched already by {fetch['source']}: {mac} version {version}")
            if now > fetch["first"] + self.window:
                return self._refuse(410, source, f"fetched already, window over: {mac} version {version}")
            fetch.update(last=now, count=fetch["count"] + 1)
        else:
            self.state["fetches"][mac] = {"version": version, "first": now, "last": now, "source": source, "count": 1}
        self.dirty = self.urgent = True
        return Answer(200, data, f"served {mac} version {version} to {source}{given}")

    def _participant(self, template: bytes, mac: str, source: str, now: float) -> Answer | tuple[bytes, str]:
        """A participant's snom (no file of its own): counted toward its source's unknown MACs,
        then given its claim or temporary number (the file, and what the log line adds)."""
        mine = self._asked(source, mac, now)
        if mine >= self.per_source:
            sweeper = self.state["sweepers"][source] = {"since": now, "macs": mine}
            self.urgent = True
            return self._sweeping(source, mac, sweeper)
        assert self.accounts is not None  # only called with self-service
        try:
            account = self.accounts(mac)
        except Exception as e:  # a full range, no database yet: an unknown MAC, and why
            return self._unknown(mac, source, now, why=str(e)[:200])
        number = str(account["number"])
        filled = template.decode("utf-8")
        for slot, value in (("name", number), ("pass", str(account["sip_password"])), ("realname", account["name"])):
            filled = filled.replace(f"@@{slot}@@", _xml_text(str(value)))
        freed = f", temporary number {account['freed']} freed" if account.get("freed") else ""
        self.dirty = True
        return filled.encode("utf-8"), f" ({account['kind']} number {number}{freed})"

    def _directory(self, name: str, source: str) -> Answer:
        """The phone directory: to anyone who reaches the port, locked or not (no secret)."""
        return self._public(name, source)

    def _public(self, name: str, source: str) -> Answer:
        """A file without secret (the directory, a base model's file): to anyone who reaches
        the port, locked or not, again and again; not published: a refused path."""
        data = self.read_file(name)
        if data is None:
            return self._refuse(404, source, f"{name} is not published")
        version = hashlib.sha256(data).hexdigest()[:16]
        return Answer(200, data, f"served {name} version {version} to {source}")

    def _base_list(self, name: str, mac: str, source: str, now: float) -> Answer:
        """A base's list of its settings (a URL, no secret), past the sweep guards: served
        again and again while published; a MAC without it counts as an unknown MAC."""
        data = self.read_file(name)
        if data is None:
            return self._unknown(mac, source, now)
        version = hashlib.sha256(data).hexdigest()[:16]
        return Answer(200, data, f"served {name} version {version} to {source}")

    def _sweeping(self, source: str, mac: str, sweeper: dict) -> Answer:
        why = f"{sweeper['macs']} unknown MACs within {span(self.source_window)}, refused until unlocked"
        return self._refuse(403, source, f"sweeping ({why}): {mac}")

    def _asked(self, source: str, mac: str, now: float) -> int:
        """Record that `source` asked for the unknown `mac`; how many different unknown MACs it
        asked for within source_window. At most MAX_SOURCES sources are followed (the firewall
        lets only the phone network in; beyond, the one quiet for longest is forgotten)."""
        asked = self.state["asked"]
        if source not in asked and len(asked) >= MAX_SOURCES:
            for gone in [
                s for s, macs in asked.items() if not any(now - t < self.source_window for t in macs.values())
            ]:
                del asked[gone]
            if len(asked) >= MAX_SOURCES:
                del asked[min(asked, key=lambda s: max(asked[s].values(), default=0))]
        mine = asked.setdefault(source, {})
        for old in [m for m, t in mine.items() if now - t >= self.source_window]:
            del mine[old]
        mine.setdefault(mac, now)
        return len(mine)

    def _unknown(self, mac: str, source: str, now: float, why: str = "") -> Answer:
        unknown = self.state["unknown"]
        entry = unknown.setdefault(mac, {"first": now, "source": source, "count": 0})
        entry.update(last=now, count=entry["count"] + 1)
        mine = self._asked(source, mac, now)
        notice = ""
        if len(unknown) >= self.max_unknown:
            sources = sorted({u["source"] for u in unknown.values()})
            reason = f"{len(unknown)} unknown MACs asked for by {_shown(sources)}"
            self.state["locked"] = {"since": now, "reason": reason}
            self.urgent = True
            notice = (
                f"LOCKED: {reason}: every phone is refused its settings until the crew lifts the lock "
                f"on the PBX: {self.unlock_hint} (or deploys with --data televoc_provisioning_unlock=true)"
            )
        if mine >= self.per_source:
            sweeper = self.state["sweepers"][source] = {"since": now, "macs": mine}
            self.urgent = True
            answer = self._sweeping(source, mac, sweeper)
            return Answer(answer.status, answer.body, answer.log, notice)
        because = f" ({why})" if why else ""
        if notice:
            return self._refuse(
                404, source, f"unknown MAC {mac}{because}; LOCKED: {self.state['locked']['reason']}", notice
            )
        return self._refuse(404, source, f"unknown MAC {mac}{because}")


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shown(sources: list[str]) -> str:
    return ", ".join(sources[:5]) + (f" and {len(sources) - 5} more" if len(sources) > 5 else "")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        address,
        files: str,
        state_path: str,
        log_path: str,
        window: float,
        max_unknown: int,
        max_connections: int,
        prefix: str,
        per_source: int = 8,
        source_window: float = 86400,
        unlock_file: str | None = None,
        claimsdb: str | None = None,
        selfservice_db: str | None = None,
    ):
        self.files, self.state_path, self.log_path = files, state_path, log_path
        self.claimsdb = load_module(claimsdb) if claimsdb and selfservice_db else None
        self.selfservice_db = selfservice_db
        if self.claimsdb is not None:  # a journal SQLite makes is the database's group's (Asterisk reads it)
            os.umask(0o007)
        # The crew's unlock file: in this service's state directory, which only root and this
        # service may write (never anything the phone network reaches).
        self.unlock_file = unlock_file or os.path.join(os.path.dirname(os.path.abspath(state_path)), "unlock")
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(max_connections)
        self.last_write = 0.0
        self.log_file = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.core = Provisioning(
            self.read_file,
            load_state(state_path),
            window,
            max_unknown,
            prefix,
            per_source=per_source,
            source_window=source_window,
            unlock_hint=f"touch {self.unlock_file}",
            accounts=self.account if self.claimsdb is not None else None,
        )
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, Handler)

    def read_file(self, name: str) -> bytes | None:
        try:
            # a directory of 10,000 entries: ~1 MB; a DECT base's settings with 1000 handset
            # accounts: ~0.6 MB (a phone's: a few kB)
            with open(os.path.join(self.files, name), "rb") as f:
                return f.read(16_000_000 if name in DIRECTORIES else 4_000_000)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def account(self, mac: str) -> dict:
        """The self-service account of the snom `mac` (claimsdb.phone_account), from a
        connection of its own: a database made after the server started is found."""
        assert self.claimsdb is not None and self.selfservice_db is not None
        if not os.path.exists(self.selfservice_db):
            raise LookupError("no self-service database yet")
        conn = self.claimsdb.connect(self.selfservice_db)
        try:
            return self.claimsdb.phone_account(conn, mac)
        finally:
            conn.close()

    def control(self) -> dict:
        data = self.read_file(CONTROL_FILE)
        try:
            control = json.loads(data) if data else {}
        except ValueError:
            return {}
        return control if isinstance(control, dict) else {}

    def crew_unlock(self) -> str | None:
        """The unlock file's token (its modification time and inode: each `touch` makes a new one),
        None without a file. The file is removed once read; one that cannot be removed unlocks
        once per `touch`."""
        try:
            found = os.stat(self.unlock_file)
        except OSError:
            return None
        try:
            os.remove(self.unlock_file)
        except OSError:
            pass
        return f"{found.st_mtime_ns}-{found.st_ino}"

    def steered(self, now: float) -> None:
        """What the deploy (control.json) and the crew (the unlock file) ask for, logged."""
        for text in [*self.core.control(self.control(), now), *self.core.crew_unlock(self.crew_unlock(), now)]:
            self.log(text)

    def log(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = f"{stamp} televoc-provisioning: {text}\n"
        self.log_file.write(line)

    def handle(self, method: str, path: str, source: str) -> Answer:
        with self.lock:
            now = time.time()
            self.steered(now)
            answer = self.core.request(method, path, source, now)
            if answer.notice:
                self.log(answer.notice)
            self.log(answer.log)
            if self.core.urgent or (self.core.dirty and now - self.last_write >= 1.0):
                save_state(self.state_path, self.core.state)
                self.core.dirty = self.core.urgent = False
                self.last_write = now
            return answer

    def service_actions(self):  # serve_forever calls this every poll: the deploy's control
        with self.lock:  # file (it waits for the state to show it), the crew's unlock file,
            self.steered(time.time())  # what is left to save
            if self.core.dirty:
                save_state(self.state_path, self.core.state)
                self.core.dirty = self.core.urgent = False
                self.last_write = time.time()

    def server_close(self):
        super().server_close()
        self.service_actions()
        self.log_file.close()

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):  # too many at once: close at once
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server
    timeout = 5
    server_version = "televoc"
    sys_version = ""

    def _answer(self, method: str) -> None:
        source = self.client_address[0]
        if source.startswith("::ffff:"):
            source = source[7:]
        answer = self.server.handle(method, self.path, source)
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/xml" if answer.status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        if answer.body:
            self.wfile.write(answer.body)
        self.close_connection = True

    def do_GET(self):  # noqa: N802 (http.server's names)
        self._answer("GET")

    def __getattr__(self, name):  # every other method: logged and refused
        if name.startswith("do_"):
            return lambda: self._answer(name[3:])
        raise AttributeError(name)

    def log_message(self, format, *args):  # the server logs every request itself
        pass


def load_module(path: str):
    """claimsdb.py from `path` (shipped beside the module: the database's own functions)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("claimsdb", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"televoc-provisioning: no claimsdb.py at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_state(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else {}
    except (FileNotFoundError, ValueError):
        return {}


def save_state(path: str, state: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, sort_keys=True)
    os.replace(tmp, path)


def base_fetched_from(source: str, files: list[str], state: dict) -> bool:
    """Whether `source` is the address a declared DECT base (a MAC whose base list is among
    `files`, the names published) last fetched its own settings file from (`state`)."""
    fetches = state.get("fetches")
    if not isinstance(fetches, dict):
        return False
    for name in files:
        match = re.fullmatch(BASE_LIST, name)
        fetch = fetches.get(match["mac"]) if match else None
        if isinstance(fetch, dict) and fetch.get("source") == source:
            return True
    return False


def spared(argv: list[str]) -> int:
    """`spared --files DIR --state FILE ADDRESS`: 0 when ADDRESS is where a declared DECT base
    last fetched its settings, else 1; 1 too when DIR or FILE cannot be read (fail closed)."""
    parser = argparse.ArgumentParser(prog="provisiond.py spared")
    parser.add_argument("--files", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("address")
    args = parser.parse_args(argv)
    try:
        names = os.listdir(args.files)
        with open(args.state, encoding="utf-8") as f:
            state = json.load(f)
        return 0 if isinstance(state, dict) and base_fetched_from(args.address, names, state) else 1
    except (OSError, ValueError) as e:  # unreadable: not spared
        print(f"not spared, cannot read: {type(e).__name__}", file=sys.stderr)
        return 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["spared"]:
        return spared(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--files", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--window", type=float, default=600)
    parser.add_argument("--max-unknown", type=int, default=128)
    parser.add_argument("--max-unknown-per-source", type=int, default=8)
    parser.add_argument("--source-window", type=float, default=86400)
    parser.add_argument("--unlock-file", default=None, help="default: unlock beside --state")
    parser.add_argument("--max-connections", type=int, default=64)
    parser.add_argument("--prefix", default="/televoc")
    parser.add_argument("--claimsdb", default=None, help="self-service: claimsdb.py, the database's code")
    parser.add_argument("--selfservice-db", default=None, help="self-service: the database")
    args = parser.parse_args(argv)
    server = Server(
        (args.bind, args.port),
        args.files,
        args.state,
        args.log,
        args.window,
        args.max_unknown,
        args.max_connections,
        args.prefix,
        per_source=args.max_unknown_per_source,
        source_window=args.source_window,
        unlock_file=args.unlock_file,
        claimsdb=args.claimsdb,
        selfservice_db=args.selfservice_db,
    )
    server.log(f"listening on {args.bind}:{args.port}, serving {args.files}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # systemd's stop: save, then exit
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
