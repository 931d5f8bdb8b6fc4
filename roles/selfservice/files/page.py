#!/usr/bin/env python3
"""televoc's registration page: participants claim a number on the event network.

A Flask application with Jinja templates (templates/ beside this file), served by waitress,
on the PBX, to the event network only (the firewall opens its port to it alone):

    page.py --db /var/lib/televoc-selfservice/claims.sqlite3 --bind 10.23.0.2 --port 8023 \\
        --claim-code '*23' --sip-server 10.23.0.2 --log /var/log/televoc-page/page.log

A participant picks a free number (or lets the page pick one), a name for the directory, in
or out of the directory, the kind of phone; the page answers once with a claim token (dialled
after the claim code from the phone), a release secret and, for a softphone or another SIP
client, its SIP credentials. A number is released with its release secret. Every write goes
through claimsdb (the same functions as the televoc-claims command): the page has no SQL.

Protections: Flask-WTF's CSRF tokens on every form; limits per source address (IPv6: per
/64), counted in this process (LIMITS); a wrong release secret is logged, without the
secret, in a line fail2ban reads (WRONG_SECRET_LOG); no password, secret or token is ever
logged, and the answers that carry one are not cached.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

if __package__:
    from . import claimsdb
else:  # run as a script on the PBX: main() loads claimsdb.py from --claimsdb (the Nix store keeps files apart)
    claimsdb = None  # type: ignore[assignment]

TEMPLATES = Path(__file__).parent / "templates"
# (events, seconds) per source: claims made; form posts of any kind; release attempts.
LIMITS: dict[str, tuple[int, float]] = {"claims": (5, 3600), "posts": (30, 600), "releases": (10, 3600)}
# What fail2ban's jail matches (the number, the source; never the secret given).
WRONG_SECRET_LOG = "televoc-page: wrong release secret for {number} from {source}"
KIND_LABELS = {"snom": "snom desk phone", "softphone": "softphone (an app)", "other": "another SIP phone"}
# Claiming by dialling the token (the dialplan's televoc-claim context, claimsdb.py's AGI): a
# snom desk phone, which has a temporary number, gets the token alone; every other kind of
# phone its SIP account to type in. False: every kind gets the SIP account.
CLAIM_BY_DIALLING = True
MAX_SOURCES = 100_000  # the limiter forgets sources that did nothing for a window beyond this


class Limiter:
    """Counts events per source in a sliding window; thread-safe, bounded in memory."""

    def __init__(self, limits: dict[str, tuple[int, float]], clock: Callable[[], float] = time.monotonic):
        self.limits, self.clock = limits, clock
        self.seen: dict[tuple[str, str], deque[float]] = {}
        self.lock = threading.Lock()

    def _events(self, what: str, source: str, now: float) -> deque[float]:
        events = self.seen.setdefault((what, source), deque())
        window = self.limits[what][1]
        while events and events[0] <= now - window:
            events.popleft()
        return events

    def allowed(self, what: str, source: str) -> bool:
        with self.lock:
            return len(self._events(what, source, self.clock())) < self.limits[what][0]

    def count(self, what: str, source: str) -> None:
        with self.lock:
            now = self.clock()
            self._events(what, source, now).append(now)
            if len(self.seen) > MAX_SOURCES:
                for key in [k for k, v in self.seen.items() if not v or v[-1] <= now - self.limits[k[0]][1]]:
                    del self.seen[key]


def source_of(address: str | None) -> str:
    """The source a limit counts: the address, or an IPv6 address's /64 (one host has many)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "?"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# What every answer of the application carries (base_app): never cached (a claim's token and
# passwords are shown once), no scripts, no framing, no referrer.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def base_app(templates: dict[str, str] | None = None) -> Flask:
    """The web application's Flask app, for the registration page and the crew's board alike:
    `templates` (name -> text, the PBX's one file of them; else the files in TEMPLATES), a
    secret per start (a restart voids the forms and sessions open), Strict and HttpOnly
    cookies, small requests, and SECURITY_HEADERS on every answer. CSRF protection is each
    application's own to add (the page limits posts before it checks their tokens)."""
    from flask import Flask
    from jinja2 import DictLoader

    app = Flask(__name__, template_folder=str(TEMPLATES))
    if templates is not None:
        app.jinja_loader = DictLoader(templates)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=3600,
        MAX_CONTENT_LENGTH=4096,
    )

    @app.after_request
    def hardened(response):
        response.headers.update(SECURITY_HEADERS)
        return response

    return app


def board_app(templates: dict[str, str] | None = None) -> Flask:
    """The web application without the registration page (self-service off): the crew's
    board alone (board.register adds it), `/` leading to it."""
    from flask import redirect
    from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

    app = base_app(templates)
    CSRFProtect(app)
    app.add_url_rule("/", "index", lambda: redirect("/board"))
    return app


def create_app(
    db: str,
    claim_code: str,
    sip_server: str | None = None,
    log: Callable[[str], None] | None = None,
    limits: dict[str, tuple[int, float]] | None = None,
    clock: Callable[[], float] = time.monotonic,
    templates: dict[str, str] | None = None,
) -> Flask:
    """The page for the database `db`; `log` takes each line (default: stderr); `templates`:
    name -> text (the PBX's one file of them), else the files in TEMPLATES."""
    # Imported here: main() opens its log before these (fail2ban's jail needs the file at once).
    from flask import abort, render_template, request
    from flask_wtf.csrf import CSRFError, CSRFProtect

    app = base_app(templates)
    limiter = Limiter(limits or LIMITS, clock)
    write = log or (lambda line: print(line, file=sys.stderr, flush=True))

    @app.before_request
    def limited():  # before the CSRF check: a flood costs no token check, no scrypt
        if request.method != "POST":
            return None
        source = source_of(request.remote_addr)
        if not limiter.allowed("posts", source):
            write(f"televoc-page: too many requests from {source}")
            return page("message.html", 429, title="Too many requests", text="Please wait a few minutes.")
        limiter.count("posts", source)
        return None

    CSRFProtect(app)

    def conn():
        if not os.path.exists(db):  # the deploy makes it after NixOS started the page
            abort(page("message.html", 503, title="Not yet", text="Self-service is starting: try again soon."))
        return claimsdb.connect(db)

    def page(template: str, status: int = 200, **values):
        return app.make_response((render_template(template, **values), status))

    def form(status: int = 200, error: str | None = None, **values):
        c = conn()
        conf = claimsdb.settings(c)
        free = free_numbers(conf, claimsdb.claimed(c))
        defaults = {"in_directory": conf.get("in_directory") == "1", "kind": "snom", "name": "", "number": ""}
        return page(
            "index.html",
            status,
            error=error,
            first=conf.get("claimable_first", "?"),
            last=conf.get("claimable_last", "?"),
            free=len(free),
            suggestions=sorted(secrets.SystemRandom().sample(free, min(5, len(free)))),
            kinds=KIND_LABELS,
            values={**defaults, **values},
        )

    @app.errorhandler(CSRFError)
    def csrf_refused(e):
        return page("message.html", 400, title="The form expired", text="Please reload the page and send it again.")

    @app.get("/")
    def index():
        return form()

    @app.post("/claim")
    def claim():
        source = source_of(request.remote_addr)
        number = request.form.get("number", "").strip()
        name = request.form.get("name", "").strip()
        kind = request.form.get("kind", "snom")
        in_directory = request.form.get("in_directory") == "yes"
        again = {"number": number, "name": name, "kind": kind, "in_directory": in_directory}
        if not limiter.allowed("claims", source):
            write(f"televoc-page: claim refused, {limiter.limits['claims'][0]} claims an hour from {source}")
            return page("message.html", 429, title="Too many claims", text="This address claimed enough for now.")
        c = conn()
        if not number:
            free = free_numbers(claimsdb.settings(c), claimsdb.claimed(c))
            if not free:
                return form(409, "Every number is taken.", **again)
            number = secrets.choice(free)
        try:
            given = claimsdb.claim(c, number, name or None, kind, in_directory, token=True)
        except claimsdb.Refused as e:
            return form(409, str(e), **again)
        limiter.count("claims", source)
        write(f"televoc-page: claimed {number} ({kind}) from {source}")
        sip = None
        if kind != "snom" or not CLAIM_BY_DIALLING:
            sip = {"server": sip_server or request.host.rsplit(":", 1)[0], "user": number}
        minutes = claimsdb.settings(c).get("token_minutes", "30")
        return page(
            "claimed.html",
            201,
            given=given,
            name=name,
            sip=sip,
            code=claim_code,
            minutes=minutes,
            dialling=CLAIM_BY_DIALLING and kind == "snom",
            switched=CLAIM_BY_DIALLING,
        )

    @app.post("/release")
    def release():
        source = source_of(request.remote_addr)
        number = request.form.get("number", "").strip()
        secret = request.form.get("secret", "").strip()
        if not limiter.allowed("releases", source):
            return page("message.html", 429, title="Too many attempts", text="Please wait an hour.")
        limiter.count("releases", source)
        if not (number.isdigit() and len(number) <= 12 and secret):
            return page("message.html", 400, title="Not released", text="Give the number and its release secret.")
        try:
            claimsdb.release(conn(), number, secret)
        except claimsdb.Refused:
            write(WRONG_SECRET_LOG.format(number=number, source=source))
            return page("message.html", 403, title="Not released", text=f"{number}: no claim with that secret.")
        write(f"televoc-page: released {number} from {source}")
        return page("message.html", 200, title="Released", text=f"{number} is free again.")

    return app


def free_numbers(conf: dict[str, str], claimed: set[str]) -> list[str]:
    """The claimable numbers nobody holds (the range has at most a few thousand)."""
    first, last = conf.get("claimable_first"), conf.get("claimable_last")
    if not first or not last:
        return []
    width = len(first)
    return [n for n in (f"{i:0{width}d}" for i in range(int(first), int(last) + 1)) if n not in claimed]


def file_log(path: str) -> Callable[[str], None]:
    """Each line with its time in UTC, to `path` (what fail2ban's jail reads)."""
    out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def write(line: str) -> None:
        out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}\n")

    return write


def load_claimsdb(path: str, name: str = "claimsdb"):
    """claimsdb.py from `path`: the same functions as the televoc-claims command (`name`:
    another module shipped beside the page, board.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"televoc-page: no {name}.py at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before it runs: a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", default="/var/lib/televoc-selfservice/claims.sqlite3")
    parser.add_argument("--claimsdb", default=None, help="claimsdb.py, the database's code (run as a script)")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--claim-code", default=None, help="none: no registration page (the board alone)")
    parser.add_argument("--sip-server", default=None, help="default: the address the page was asked at")
    parser.add_argument("--log", required=True)
    parser.add_argument("--templates", default=None, help="a JSON file: name -> template (default: templates/)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--board", default=None, help="board.py: serve the crew's board too")
    parser.add_argument("--board-config", default=None, help="the board's settings and phones (JSON)")
    parser.add_argument("--board-module", action="append", default=[], help="module=path: the board's parsers")
    parser.add_argument("--asterisk", default="asterisk", help="Asterisk's binary (the board reads the PBX with it)")
    args = parser.parse_args(argv)
    log = file_log(args.log)  # first: fail2ban's jail reads it from the start
    global claimsdb
    if claimsdb is None and args.claim_code:
        claimsdb = load_claimsdb(args.claimsdb or str(Path(__file__).with_name("claimsdb.py")))
    import waitress  # type: ignore[import-untyped]  # only to serve: the tests drive the app without it

    os.umask(0o027)
    templates = None
    if args.templates:
        with open(args.templates, encoding="utf-8") as f:
            templates = json.load(f)
    if args.board:  # the crew's board (board.py, a blueprint of this application)
        board = load_claimsdb(args.board, "board")
        board.load_modules(args.board_module)
    if args.claim_code:
        app = create_app(args.db, args.claim_code, args.sip_server, log, templates=templates)
    else:  # self-service off: the board alone
        app = board_app(templates)
    if args.board:
        board.register(app, args.board_config, args.asterisk, log, Limiter, source_of)
    log(f"televoc-page: listening on {args.bind}:{args.port}")
    waitress.serve(app, host=args.bind, port=args.port, threads=args.threads, ident="televoc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
