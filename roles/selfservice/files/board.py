"""televoc's buildup board: the crew's live view of every phone, behind a crew login.

A Flask blueprint of the registration page's web application (page.py registers it with
--board; without self-service the application serves the board alone). Its settings and the
directory's phones come from one JSON file the deploy ships beside it (board.json: number,
name, location, provisioned; no secret):

    page.py ... --board board.py --board-config board.json --asterisk /path/bin/asterisk \\
        --board-module roles.shared.pbxcli=board-pbxcli.py ...

What it shows, for every phone of the directory, grouped by its location: its state (ready:
registered and answering Asterisk's qualify; not answering; registered, qualify not answered
yet; never seen; gone since a time), its contact address, user agent and round-trip time,
whether televoc provisioned it and when it last fetched its settings (the provisioning
server's state file); the counts per location; what needs attention first; the trunk's and
the other venues' state; claimed numbers counted apart. With the call log on (event.yml
call_log:), the crew's statistics too: calls and answered, calls per hour, per location, the
numbers never reached (roles/calllog/stats.py over export.py's rows, both shipped beside it:
Asterisk's database, read-only, at most once per CALLS_CACHE seconds).

How it reads the PBX: the verification's own read (roles/shared/pbxcli.py, shipped beside
this file: state_commands, parse_state), its commands side by side, one read for all phones,
kept CACHE seconds so that any number of crew browsers cost one read. Asterisk's HTTP and
manager interfaces stay off. The page reloads itself every REFRESH seconds (a meta refresh:
no JavaScript).

The crew's login: one password for the crew, kept hashed (scrypt) in a file outside the Nix
store that only root and the asterisk user read; checked against it at each login (a new
password from a deploy counts at once). Attempts are limited per source (LOGIN_LIMIT), and a
wrong password is logged with its source (WRONG_PASSWORD_LOG, never the password) for the
page's fail2ban jail. The session cookie is signed, HttpOnly, SameSite=Strict, and lasts
SESSION_HOURS; a restart of the page logs the crew out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Blueprint, Flask

if __package__:
    from roles.calllog import export as calllogexport
    from roles.calllog import stats as callstats
    from roles.shared import pbxcli
else:  # run from the Nix store: load_modules() puts the shipped parsers in place first
    pbxcli = None  # type: ignore[assignment]
    callstats = None  # type: ignore[assignment]
    calllogexport = None  # type: ignore[assignment]

WRONG_PASSWORD_LOG = "televoc-page: crew login failed from {source}"
LOGIN_LIMIT = (10, 600.0)  # login attempts per source, per seconds
SESSION_HOURS = 12
READ_TIMEOUT = 10  # seconds for Asterisk to answer one listing
SEEN_SAVE_SECONDS = 30  # when each phone was last seen, kept on disk at most this old (a restart)
ATTENTION_SHOWN = 100  # rows in "needs attention first" (the rest: counted)
CALLS_CACHE = 30  # seconds one read of the call log serves (its statistics change slowly)
HOURS_SHOWN = 12  # the last hours with calls in "calls per hour"
NEVER_SHOWN = 20  # numbers in "never reached" (the rest: counted)
# Up to this many phones the board lists every phone; above, one location at a time (?location=
# NAME; ?all=1 lists all): 10,000 phones are 3 MB of HTML, every 5 s, on a smartphone.
ALL_ROWS_UP_TO = 400

# A phone's state, most urgent first (the order of "needs attention first").
GONE = "gone"
SILENT = "not answering"
NO_ACCOUNT = "no account"
NEVER = "never seen"
WAITING = "qualifying"
READY = "ready"
UNKNOWN = "unknown"  # Asterisk could not be read
ORDER = (GONE, SILENT, NO_ACCOUNT, NEVER, WAITING, UNKNOWN, READY)
LABELS = {
    GONE: "not registered any more",
    SILENT: "registered, not answering qualify",
    NO_ACCOUNT: "Asterisk has no account for it",
    NEVER: "never seen",
    WAITING: "registered, qualify not answered yet",
    UNKNOWN: "unknown: Asterisk could not be read",
    READY: "registered and ready",
}
ASTERISK_READY = "Avail"  # what the verification counts as ready (roles/asterisk/report.py)


@dataclass(frozen=True)
class Phone:
    """A phone of the directory, as board.json lists it."""

    name: str
    number: str
    display: str = ""
    location: str = ""
    provisioned: bool = False
    mac: str | None = None


@dataclass(frozen=True)
class Row:
    """A phone on the board: its state and what Asterisk and the provisioning server say."""

    phone: Phone
    state: str
    since: float | None = None  # when it entered this state (gone: when last seen), if the board saw it
    contact: str = ""
    user_agent: str = ""
    rtt_ms: float | None = None
    fetched: float | None = None  # when the phone last fetched its settings (provisioned phones)

    @property
    def label(self) -> str:
        return LABELS[self.state]


@dataclass(frozen=True)
class Location:
    name: str
    rows: tuple[Row, ...]
    counts: dict[str, int]

    @property
    def ready(self) -> int:
        return self.counts.get(READY, 0)


@dataclass(frozen=True)
class Other:
    """The trunk or another venue's PBX: what it is, how it is, whether that is fine."""

    name: str
    text: str
    ok: bool


@dataclass(frozen=True)
class View:
    """Everything the page shows, worked out from one read."""

    locations: tuple[Location, ...]
    attention: tuple[Row, ...]
    counts: dict[str, int]
    total: int
    running: bool
    read_at: float
    error: str | None = None
    others: tuple[Other, ...] = ()
    claimed: int | None = None  # claimed numbers registered (None: no self-service here)

    @property
    def ready(self) -> int:
        return self.counts.get(READY, 0)

    @property
    def attention_more(self) -> int:
        return self.total - self.ready - len(self.attention)


def phones_of(config: dict) -> tuple[Phone, ...]:
    return tuple(Phone(**p) for p in config.get("phones", []))


def classify(in_asterisk: bool, statuses: Iterable[str], last_seen: float | None) -> str:
    """A phone's state from its aor's contacts' statuses (the verification's rule: ready
    when a contact answers qualify) and when the board last saw it registered."""
    statuses = list(statuses)
    if ASTERISK_READY in statuses:
        return READY
    if "Unavail" in statuses:
        return SILENT
    if statuses:
        return WAITING  # Unknown, Created, NonQual: registered a moment ago
    if not in_asterisk:
        return NO_ACCOUNT
    return NEVER if last_seen is None else GONE


@dataclass
class Memory:
    """What the board remembers between reads: when each phone was last seen registered (kept
    on disk too, so that a restart of the page still knows who is gone), and since when it is
    in its state (since the page started)."""

    last_seen: dict[str, float] = field(default_factory=dict)
    state: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    reads: int = 0

    def note(self, name: str, state: str, now: float, registered: bool) -> float | None:
        """Remember this read of phone `name`; returns since when it is in `state` (None: since
        before the board's first read, when that was not GONE)."""
        if registered:
            self.last_seen[name] = now
        before = self.state.get(name)
        if before is not None and before[0] == state:
            since = before[1]
        else:
            since = None if self.reads == 0 else now
        self.state[name] = (state, since)
        return since


def build_view(
    config: dict,
    phones: tuple[Phone, ...],
    state: Any,
    memory: Memory,
    fetches: dict[str, dict],
    now: float,
    error: str | None = None,
) -> View:
    """The board for one read: `state` a pbxcli.PbxState (None: not read, `error` says why),
    `fetches` the provisioning server's fetches by MAC. Updates `memory`. Linear in phones."""
    rows: list[Row] = []
    read = state is not None and state.running
    for phone in phones:
        fetched = fetches.get(phone.mac or "", {}).get("last") if phone.provisioned else None
        if not read:
            rows.append(Row(phone, UNKNOWN, fetched=fetched))
            continue
        contacts = state.contacts_of(phone.name)
        kind = classify(phone.name in state.aors, (c.status for c in contacts), memory.last_seen.get(phone.name))
        since = memory.note(phone.name, kind, now, bool(contacts))
        if kind == GONE:
            since = memory.last_seen.get(phone.name)
        best = next((c for c in contacts if c.status == ASTERISK_READY), contacts[0] if contacts else None)
        rows.append(
            Row(
                phone,
                kind,
                since,
                contact=best.uri if best else "",
                user_agent=(best.user_agent or "") if best else "",
                rtt_ms=best.rtt_ms if best else None,
                fetched=fetched,
            )
        )
    if read:
        memory.reads += 1
    by_location: dict[str, list[Row]] = {}
    for row in rows:
        by_location.setdefault(row.phone.location or "(no location)", []).append(row)
    locations = tuple(
        Location(name, tuple(sorted(group, key=_urgency)), _counts(group))
        for name, group in sorted(by_location.items())
    )
    urgent = sorted((r for r in rows if r.state != READY), key=_urgency)
    others: list[Other] = []
    claimed = None
    if read:
        others = _others(config, state)
        claimed = _claimed(config, state)
    return View(
        locations=locations,
        attention=tuple(urgent[:ATTENTION_SHOWN]),
        counts=_counts(rows),
        total=len(rows),
        running=read,
        read_at=now,
        error=error if error else (None if read else "Asterisk is not running"),
        others=tuple(others),
        claimed=claimed,
    )


def _urgency(row: Row) -> tuple[int, float, str]:
    """Most urgent state first; within it the longest gone first, then by number."""
    return (ORDER.index(row.state), row.since if row.since is not None else 0.0, row.phone.number)


def _counts(rows: Iterable[Row]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return {state: counts[state] for state in ORDER if state in counts}


def _others(config: dict, state: Any) -> list[Other]:
    """The trunk's registration and the other venues' PBXes (their qualify)."""
    found = []
    if config.get("trunk"):
        name, label = config["trunk"]
        status = state.outbound.get(name)
        answers = {c.status for c in state.contacts_of(name)}
        silent = "Unavail" in answers and ASTERISK_READY not in answers
        if status is None:
            found.append(Other(f"trunk {label}", "Asterisk has no registration for it", False))
        else:
            text = status + ("; the upstream does not answer OPTIONS" if silent else "")
            found.append(Other(f"trunk {label}", text, status == "Registered" and not silent))
    for aor, venue in config.get("peers", []):
        statuses = [c.status for c in state.contacts_of(aor)]
        if ASTERISK_READY in statuses:
            rtt = next(c.rtt_ms for c in state.contacts_of(aor) if c.status == ASTERISK_READY)
            found.append(Other(f"venue {venue}", "answers" + (f" ({rtt:.1f} ms)" if rtt is not None else ""), True))
        else:
            found.append(
                Other(f"venue {venue}", f"does not answer ({statuses[0] if statuses else 'no contact'})", False)
            )
    return found


def _claimed(config: dict, state: Any) -> int | None:
    """How many claimed numbers are registered (pbxcli.claimed_registered, as the verification
    counts them); None without self-service here."""
    if not config.get("claimable"):
        return None
    return len(pbxcli.claimed_registered(state, tuple(config["claimable"])))


# --- the crew's password -------------------------------------------------------------------


def check_password(hashed: str, password: str) -> bool:
    """Whether `password` is the one `hashed` ("scrypt:N:r:p:salt:key", hex) was made of."""
    try:
        kind, n, r, p, salt, key = hashed.strip().split(":")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=64 * 2**20, dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(key))


# --- reading the PBX -----------------------------------------------------------------------


class Live:
    """The PBX's live state, read at most once per `cache` seconds whoever asks (a lock: a
    request that comes while a read runs waits for it and takes its result)."""

    def __init__(
        self,
        config: dict,
        asterisk: str = "asterisk",
        clock: Callable[[], float] = time.time,
        run: Callable[[list[str]], str] | None = None,
    ):
        self.config, self.clock = config, clock
        self.phones = phones_of(config)
        self.cli = [asterisk, "-C", config.get("etc", "/etc/asterisk/asterisk.conf"), "-rx"]
        self.run = run or self._run
        self.memory = Memory(last_seen=load_seen(config.get("seen_file")))
        self.lock = threading.Lock()
        self.view: View | None = None
        self.reads = 0
        self.saved_at: float | None = None

    def _run(self, argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=READ_TIMEOUT, check=False)
        return done.stdout + done.stderr

    def read_state(self):
        """The verification's read (pbxcli.state_commands), its commands side by side, parsed
        by pbxcli.parse_state: (PbxState, None) or (None, why not)."""
        aors = pbxcli.listed_aors(len(self.phones), bool(self.config.get("claimable")))
        commands = pbxcli.state_commands(aors)
        try:
            with ThreadPoolExecutor(len(commands)) as pool:
                answers = list(pool.map(lambda c: self.run([*self.cli, c]), commands))
        except (OSError, subprocess.SubprocessError) as e:
            return None, f"Asterisk's CLI could not be run: {e}"
        lines: list[str] = []
        for command, answer in zip(commands, answers, strict=True):
            lines.append(pbxcli.SECTION_MARK + command)
            lines += answer.splitlines()
        try:
            return pbxcli.parse_state(lines), None
        except ValueError as e:
            return None, f"Asterisk's answer could not be read: {e}"

    def fetches(self) -> dict[str, dict]:
        path = self.config.get("provisioning_state")
        if not path:
            return {}
        try:
            with open(path, encoding="utf-8") as f:
                fetches = json.load(f).get("fetches", {})
            return fetches if isinstance(fetches, dict) else {}
        except (OSError, ValueError, AttributeError):
            return {}

    def current(self) -> View:
        with self.lock:
            now = self.clock()
            if self.view is None or now - self.view.read_at >= self.config.get("cache_seconds", 3):
                state, error = self.read_state()
                self.reads += 1
                before = set(self.memory.last_seen)
                self.view = build_view(self.config, self.phones, state, self.memory, self.fetches(), now, error)
                new = set(self.memory.last_seen) != before
                if new or self.saved_at is None or now - self.saved_at >= SEEN_SAVE_SECONDS:
                    save_seen(self.config.get("seen_file"), self.memory.last_seen)
                    self.saved_at = now
            return self.view


@dataclass(frozen=True)
class Calls:
    """The call log's statistics as the board shows them (one read of Asterisk's database).

    + per_hour: the last HOURS_SHOWN hours that had calls ("YYYY-MM-DD HH", calls), in order
    + per_location: (location, placed, received, answered), by location
    + never: (number, calls, where) of the numbers never reached, most calls first
    """

    read_at: float
    total: int = 0
    answered: int = 0
    per_hour: tuple[tuple[str, int], ...] = ()
    per_location: tuple[tuple[str, int, int, int], ...] = ()
    never: tuple[tuple[str, int, str], ...] = ()
    never_more: int = 0
    error: str | None = None


def calls_view(rows: list[dict[str, str]], where: dict[str, str], now: float) -> Calls:
    """The statistics of `rows` (callstats: merged, statistics), cut to what a small screen
    shows; `where`: number -> location. Linear in the rows."""
    stats = callstats.statistics(callstats.merged(rows), where)
    never = sorted(stats.never_reached, key=lambda n: (-stats.attempts[n], len(n), n))
    return Calls(
        read_at=now,
        total=stats.total,
        answered=stats.answered,
        per_hour=tuple(stats.per_hour.items())[-HOURS_SHOWN:],
        per_location=tuple((name, p.placed, p.received, p.answered) for name, p in stats.per_location.items()),
        never=tuple((n, stats.attempts[n], where.get(n, callstats.NOT_A_PHONE)) for n in never[:NEVER_SHOWN]),
        never_more=max(len(never) - NEVER_SHOWN, 0),
    )


class CallLog:
    """The call log's statistics, read at most once per CALLS_CACHE seconds whoever asks
    (None: the call log is off)."""

    def __init__(self, config: dict, clock: Callable[[], float] = time.time):
        log = config.get("call_log") or {}
        self.path, self.table, self.clock = log.get("db"), log.get("table", "calls"), clock
        self.where = {p["number"]: p.get("location") or p["name"] for p in config.get("phones", [])}
        self.lock = threading.Lock()
        self.calls: Calls | None = None

    def current(self) -> Calls | None:
        if not self.path:
            return None
        with self.lock:
            now = self.clock()
            if self.calls is None or now - self.calls.read_at >= CALLS_CACHE:
                try:
                    self.calls = calls_view(calllogexport.rows_of(self.path, self.table, check=False), self.where, now)
                except Exception as e:  # noqa: BLE001  # the board goes on; the section says why
                    self.calls = Calls(read_at=now, error=f"the call log could not be read: {e.__class__.__name__}")
            return self.calls


def load_seen(path: str | None) -> dict[str, float]:
    """When each phone was last seen registered, as the page kept it (nothing when unreadable)."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            seen = json.load(f)
        return {str(k): float(v) for k, v in seen.items()} if isinstance(seen, dict) else {}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def save_seen(path: str | None, seen: dict[str, float]) -> None:
    """Keep `seen` in `path` (written beside it, renamed: never half written); a failure to
    write leaves the board working, from memory."""
    if not path:
        return
    try:
        with open(path + ".new", "w", encoding="utf-8") as f:
            json.dump(seen, f)
        os.replace(path + ".new", path)
    except OSError:
        pass


# --- the web part --------------------------------------------------------------------------


def clock_text(t: float | None) -> str:
    return "" if t is None else time.strftime("%H:%M:%S", time.localtime(t))


def when_text(t: float | None, now: float) -> str:
    """'14:02:11 (3 min ago)'."""
    if t is None:
        return ""
    ago = max(0, int(now - t))
    span = f"{ago} s" if ago < 120 else (f"{ago // 60} min" if ago < 7200 else f"{ago // 3600} h")
    return f"{clock_text(t)} ({span} ago)"


def blueprint(
    config: dict,
    asterisk: str,
    log: Callable[[str], None],
    limiter: Any,
    source_of: Callable[[str | None], str],
    live: Live | None = None,
    calls: CallLog | None = None,
) -> Blueprint:
    """The board's routes (/board, /board/login, /board/logout). `limiter`: page.Limiter
    with a "crew_logins" limit; `source_of`: page.source_of (an IPv6 /64 counts as one)."""
    from flask import Blueprint, make_response, redirect, render_template, request, session, url_for
    from markupsafe import Markup

    bp = Blueprint("board", __name__)
    live = live or Live(config, asterisk)
    calls = calls or CallLog(config)
    refresh = int(config.get("refresh_seconds", 5))
    # The lists of the current read, rendered once per location shown, whoever asks (the
    # header, with each browser's own form token, is rendered per request).
    lists: dict[tuple[float, str | None], Markup] = {}
    lists_lock = threading.Lock()

    def shown_of(view: View) -> str | None:
        """Which phones the lists show: "all", one location's name, or None (the table only)."""
        wanted = request.args.get("location")
        if wanted is not None and any(loc.name == wanted for loc in view.locations):
            return wanted
        if request.args.get("all") or view.total <= ALL_ROWS_UP_TO:
            return "all"
        return None

    def lists_of(view: View, shown: str | None) -> Markup:
        with lists_lock:
            if any(at != view.read_at for at, _ in lists):
                lists.clear()
            key = (view.read_at, shown)
            if key not in lists:
                lists[key] = Markup(
                    render_template(
                        "board-body.html", view=view, shown=shown, clock=clock_text, when=when_text, now=view.read_at
                    )
                )
            return lists[key]

    def answer(template: str, status: int = 200, **values):  # the application adds its headers
        return make_response(render_template(template, **values), status)

    def crew() -> bool:
        since = session.get("crew")
        return isinstance(since, (int, float)) and time.time() - since < SESSION_HOURS * 3600

    @bp.get("/board")
    def board():
        if not crew():
            return redirect(url_for("board.login"))
        view = live.current()
        return answer(
            "board.html",
            view=view,
            body=lists_of(view, shown_of(view)),
            refresh=refresh,
            clock=clock_text,
            event=config.get("event", ""),
            promise=promise(config),
            calls=calls.current(),
        )

    @bp.get("/board/login")
    def login():
        if crew():
            return redirect(url_for("board.board"))
        return answer("board-login.html", event=config.get("event", ""))

    @bp.post("/board/login")
    def login_post():
        source = source_of(request.remote_addr)
        if not limiter.allowed("crew_logins", source):
            log(f"televoc-page: crew login refused, too many attempts from {source}")
            return answer("board-login.html", 429, error="Too many attempts: wait ten minutes.")
        limiter.count("crew_logins", source)
        try:
            with open(config["hash"], encoding="utf-8") as f:
                hashed = f.read()
        except OSError:
            return answer("board-login.html", 503, error="The board is starting: try again in a minute.")
        if not check_password(hashed, request.form.get("password", "")):
            log(WRONG_PASSWORD_LOG.format(source=source))
            return answer("board-login.html", 403, error="Wrong password.")
        session.clear()
        session.permanent = True
        session["crew"] = time.time()
        log(f"televoc-page: crew logged in from {source}")
        return redirect(url_for("board.board"))

    @bp.post("/board/logout")
    def logout():
        session.clear()
        return redirect(url_for("board.login"))

    return bp


def gone_within(config: dict) -> int:
    """Seconds within which a phone that unregisters shows gone: the cache, the page's
    reload, and 2 s for a browser to load the page on a busy PBX."""
    return int(config.get("refresh_seconds", 5)) + int(config.get("cache_seconds", 3)) + 2


def promise(config: dict) -> str:
    """What the page promises about how fresh it is."""
    refresh, cache = config.get("refresh_seconds", 5), config.get("cache_seconds", 3)
    qualify = config.get("qualify_seconds", 33)
    return (
        f"The page reloads itself every {refresh} s and shows the PBX at most {cache} s old: a phone that "
        f"unregisters (its SIP client stopped) shows gone within {gone_within(config)} s; one that falls silent "
        f"(cable or power cut) shows not answering within {qualify + gone_within(config)} s (Asterisk asks every "
        "phone every 30 s and waits 3 s) and gone when its registration expires."
    )


def register(
    app: Flask,
    config_path: str,
    asterisk: str,
    log: Callable[[str], None],
    limiter_class: Any,
    source_of: Callable[[str | None], str],
) -> None:
    """The board in `app` (page.py's create_app() or board_app()): its settings from `config_path`."""
    from datetime import timedelta

    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    app.config.update(PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))
    limiter = limiter_class({"crew_logins": LOGIN_LIMIT})
    app.register_blueprint(blueprint(config, asterisk, log, limiter, source_of))


def load_modules(pairs: Iterable[str]) -> None:
    """Load the parsers shipped beside this file under their own names ("module=path", in
    the order given: names and sections before pbxcli, which imports them)."""
    import importlib.util

    global pbxcli, callstats, calllogexport
    for pair in pairs:
        name, _, path = pair.partition("=")
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"televoc-page: no module {name} at {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    pbxcli = sys.modules["roles.shared.pbxcli"]
    callstats = sys.modules["roles.calllog.stats"]
    calllogexport = sys.modules["roles.calllog.export"]
