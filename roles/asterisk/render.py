"""Pure renderers: a validated `Directory` in, Asterisk config text out. No host, no I/O."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from roles.event import Directory, Event
from roles.event.changes import summary, summary_text
from roles.event.routing import RING_CONTEXT, WAIT_CONTEXT, Route, Routing, resolve
from roles.event.selfservice import blocks, temporary_calls
from roles.shared import names
from roles.shared.templating import render, without_gc

from .callfeatures import page_callers, render_pins, service_lines
from .causes import CAUSES, ROUTE_END
from .report import LiveConfig, Verification
from .teardown import Removal

# Where televoc keeps the SIP passwords by default (outside the world-readable Nix store).
SECRETS_PATH = "/var/lib/televoc/pjsip-secrets.conf"
# Beside them: the conference rooms' PINs (confbridge.conf includes it), root:asterisk 0640.
PINS_FILE = "confbridge-pins.conf"


def pins_path(secrets_path: str) -> str:
    """Where the PINs file goes: beside the SIP passwords."""
    return posixpath.join(posixpath.dirname(secrets_path), PINS_FILE)


ANNOUNCEMENTS_NAME = "announcements"  # beside the secrets file: the audio files the dialplan plays
ANNOUNCEMENTS_DIR = posixpath.join(posixpath.dirname(SECRETS_PATH), ANNOUNCEMENTS_NAME)


@dataclass(frozen=True)
class Announcements:
    """The announcements' audio as the PBX keeps it: `directory` holds <name>.wav each
    (root:asterisk 0640), `files` their bytes; the manifest (one sha256 per file) beside the
    directory says what is in place, so a run uploads only when it differs."""

    directory: str
    files: dict[str, bytes] = field(repr=False)

    @classmethod
    def of(cls, directory: Directory, path: str) -> Announcements:
        return cls(path, {f"{a.name}.wav": a.audio for a in directory.announcements})

    @property
    def manifest_path(self) -> str:
        return self.directory + ".manifest"

    @cached_property
    def manifest(self) -> str:
        return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(self.files.items()))


@dataclass(frozen=True)
class AsteriskConfig:
    """Everything Asterisk needs for an event, and what the asterisk role's steps keep and
    check beside it.

    + conf_files: file name -> text, for /etc/asterisk (via the Nix store: no secrets here)
    + secrets: the text of the secrets file (auth sections and the generation marker)
    + secrets_path: where that file goes on the PBX (pjsip.conf includes it)
    + pins: the text of the PINs file (the rooms with a PIN; "": no such room, no file)
    + pins_path: where that file goes on the PBX (confbridge.conf includes it)
    + generation: names this whole config; Asterisk shows it as aor televoc-generation-<gen>
    + dialplan_generation: names the dialplan; Asterisk shows it as global TELEVOC_DIALPLAN
    + expected: what Asterisk reports once it serves this config
    + fingerprints: credential_fingerprints() (kept on the PBX: whose password changed)
    + summary: what each phone is (roles.event.changes; kept on the PBX: what changed)
    + verification: what the verification checks once it is live
    + enable: false: no Asterisk at all (teardown with televoc_teardown=stop)
    + removal: a teardown's config (render_teardown): what it withdraws; None: a deploy's
    + announcements: the converted audio files the dialplan plays, and where they go
    """

    conf_files: dict[str, str] = field(repr=False)
    secrets: str = field(repr=False)
    secrets_path: str
    generation: str
    dialplan_generation: str
    expected: LiveConfig
    fingerprints: str = field(repr=False)
    summary: dict = field(repr=False)
    verification: Verification = field(repr=False)
    enable: bool = True
    removal: Removal | None = None
    announcements: Announcements = field(default_factory=lambda: Announcements(ANNOUNCEMENTS_DIR, {}))
    pins: str = field(default="", repr=False)
    pins_path: str = ""

    @cached_property
    def summary_text(self) -> str:
        """The summary as the PBX keeps it (worked out once: two steps compare it)."""
        return summary_text(self.summary)


def _digest(*texts: str, length: int = 16) -> str:
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()[:length]


def crossing_end(what: str) -> str:
    """The end of a call sent to the trunk or another venue's PBX (`what`), after its Dial():
    503 when the way there failed (CAUSES.not_reached); else what it answered, passed on
    (chan_pjsip turns its final response into a cause and the cause back into ours: 480,
    486, 404, 403 and 503 come out as they went in). Two lines, the last without its newline."""
    failed = " | ".join(f"${{HANGUPCAUSE}} = {cause}" for cause in CAUSES.not_reached)
    return (
        f" same => n,ExecIf($[{failed}]?Hangup({CAUSES.congestion}))  ; {what} not reached: 503\n"
        f" same => n,Hangup()  ; else what {what} answered, passed on"
    )


def route_lines(r: Route) -> str:
    """One number's lines in the numbers context: a forward `always` jumps at once; else the
    caller's name gets the group's prefix, Dial() rings the route's legs (each phone's leg
    runs the predial handler: its Alert-Info class), each forward is a jump on Dial's
    status, and the call ends with the cause the caller hears as 486 or 480 (ROUTE_END).
    (Written in Python, not in the template: 10,000 phones take a fifth of the time.)"""
    head = f"; {r.number}: {r.label}\n"
    if r.always:
        return head + f"exten => {r.number},1,Goto({r.always},1)  ; forward always: {r.targets[0][1]}\n"
    targets = dict(r.targets)
    lines = [
        head,
        f"exten => {r.number},1,Set(CALLERID(name)={r.prefix}${{TV_CALLER_NAME}})\n",
        f" same => n,Set(__TV_GROUP={r.group})\n",
    ]
    if r.legs:
        arg = f"({r.loud_arg})" if r.loud_arg else ""
        lines.append(
            f" same => n,Dial({r.dial},{r.timeout},b({names.PREDIAL_CONTEXT}^s^1{arg})"
            f"{'r' if r.ring_at_once else ''})\n"
        )
    else:
        lines.append(" same => n,Set(DIALSTATUS=CHANUNAVAIL)  ; every member is paused\n")
    if r.no_answer:
        lines.append(
            f' same => n,GotoIf($["${{DIALSTATUS}}" = "NOANSWER"]?{r.no_answer},1)  '
            f"; no answer in {r.timeout} s: {targets['no_answer']}\n"
        )
    if r.busy:
        lines.append(f' same => n,GotoIf($["${{DIALSTATUS}}" = "BUSY"]?{r.busy},1)  ; busy: {targets["busy"]}\n')
    if r.unavailable:
        lines.append(
            f' same => n,GotoIf($["${{DIALSTATUS}}" = "CHANUNAVAIL" | "${{DIALSTATUS}}" = "CONGESTION"]?'
            f"{r.unavailable},1)  ; unavailable: {targets['unavailable']}\n"
        )
    lines.append(ROUTE_END)
    return "".join(lines)


def number_contexts(routes: Iterable[Route], more: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """The numbers' contexts, one per last digit of the number: name -> the lines of its
    numbers (route_lines, then `more`: (number, lines), the services'), in the routes' order.
    Asterisk keeps a context's extensions in a sorted list, so loading a context takes time
    quadratic in its extensions (10,000 numbers: about 3 s; in ten contexts 0.3 s);
    NUMBERS_CONTEXT includes them all."""
    parts: dict[str, list[str]] = {}
    for r in routes:
        parts.setdefault(f"{names.NUMBERS_CONTEXT}-{r.number[-1]}", []).append(route_lines(r))
    for number, lines in more:
        parts.setdefault(f"{names.NUMBERS_CONTEXT}-{number[-1]}", []).append(lines)
    return {name: "".join(parts[name]) for name in sorted(parts)}


def render_extensions(
    directory: Directory, routing: Routing, announcements_dir: str = ANNOUNCEMENTS_DIR
) -> tuple[str, str]:
    """extensions.conf and the generation it carries (a hash of the rest of it)."""

    event = directory.event
    context = {
        "announcements": directory.announcements,
        "announcements_dir": announcements_dir,
        "names": names,
        "event": event,
        "routing": routing,
        "numbers": number_contexts(routing.routes, service_lines(directory)),
        "page_callers": page_callers(directory),
        "autoanswer": bool(directory.services.paging or directory.services.intercoms),
        "trunk": directory.trunk,
        "venue": directory.venue,
        "dial_out_prefix": (
            directory.trunk.trunk.dial_out_prefix
            if directory.trunk is not None
            else directory.venue.dial_out.prefix
            if directory.venue is not None and directory.venue.dial_out is not None
            else None
        ),
        "causes": CAUSES,
        "route_end": ROUTE_END.rstrip("\n"),
        "crossed": crossing_end,
        "ring_context": RING_CONTEXT,
        "wait_context": WAIT_CONTEXT,
        "temporary": temporary_calls(directory),
        "claimed": claimed_patterns(directory),
        "hello_world": event.test_numbers.hello_world,
        "echo": event.test_numbers.echo,
    }
    # Rendered once with a marker where the generation goes; the generation is the digest of
    # the text without it (what a render with an empty generation gives).
    marker = "@@dialplan-generation@@"
    marked = render(__file__, "etc/asterisk/extensions.conf.j2", dialplan_generation=marker, **context)
    generation = _digest(marked.replace(marker, ""))
    return marked.replace(marker, generation), generation


# Every phone's endpoint and aor options (pjsip.conf's templates), which the numbers
# participants claim share (realtime_defaults: the self-service database's endpoint_defaults).
PHONE_OPTIONS = (
    ("context", names.PHONE_CONTEXT),
    ("disallow", "all"),
    ("allow", "g722,alaw,ulaw,gsm"),
    ("direct_media", "no"),
    ("rtp_symmetric", "yes"),
    ("force_rport", "yes"),
    ("rewrite_contact", "yes"),
    ("dtmf_mode", "rfc4733"),
    ("language", "en"),
)
AOR_OPTIONS = (
    ("max_contacts", "1"),
    ("remove_existing", "yes"),
    ("qualify_frequency", "30"),
    ("qualify_timeout", "3.0"),
)


def access(event: Event) -> tuple[tuple[str, str], ...]:
    """An account works only from the phone network: deny all, permit it."""
    return (("deny", "::/0" if ":" in event.network else "0.0.0.0/0.0.0.0"), ("permit", event.network))


def realtime_defaults(event: Event) -> dict[str, str]:
    """The options every claimed number's endpoint and aor take from the self-service
    database (its endpoint_defaults): the crew phones' own, on the event's transport."""
    return dict((("transport", names.TRANSPORT), *PHONE_OPTIONS, *access(event), *AOR_OPTIONS))


def render_realtime(directory: Directory) -> dict[str, str]:
    """extconfig.conf and res_config_sqlite3.conf when this PBX serves self-service: PJSIP
    reads claimed numbers from the self-service database (names.py: SELFSERVICE_DB), the
    crew's from its files (sorcery.conf, render_pjsip). Nothing otherwise."""
    if temporary_calls(directory) is None:
        return {}
    families = names.REALTIME_FAMILIES
    database = names.SELFSERVICE_DB_NAME
    return {
        "extconfig.conf": render(__file__, "etc/asterisk/extconfig.conf.j2", families=families, database=database),
        "res_config_sqlite3.conf": render(
            __file__,
            "etc/asterisk/res_config_sqlite3.conf.j2",
            database=database,
            path=names.SELFSERVICE_DB,
            opened=names.SELFSERVICE_DB_MADE,
        ),
    }


def claimable_range(directory: Directory) -> tuple[str, str] | None:
    """(first, last) of the claimable range when this PBX serves self-service."""
    s = directory.event.self_service
    if temporary_calls(directory) is None or s is None:
        return None
    return (s.claimable.first, s.claimable.last)


def temporary_range(directory: Directory) -> tuple[str, str] | None:
    """(first, last) of the temporary range when this PBX serves self-service."""
    s = directory.event.self_service
    if temporary_calls(directory) is None or s is None:
        return None
    return (s.temporary.first, s.temporary.last)


def claimed_patterns(directory: Directory) -> tuple[str, ...]:
    """The claimable range as extension patterns (`_2XXX`, ...), when this PBX serves
    self-service: a claimed number is dialled as PJSIP/<number>, found in the database."""
    s = directory.event.self_service
    if temporary_calls(directory) is None or s is None:
        return ()
    return tuple(f"_{block}{'X' * (s.claimable.length - len(block))}" for block in blocks(s.claimable))


# PJSIP's files: one per big object type (sorcery.conf maps each type to its file), so that
# each of the dozen readers of pjsip.conf parses the few objects of its own type only.
PJSIP_FILES = ("pjsip.conf", *names.PJSIP_TYPE_FILES.values(), "sorcery.conf")


def render_pjsip(directory: Directory, secrets_path: str = SECRETS_PATH) -> dict[str, str]:
    """PJSIP_FILES for `directory`: the phones' endpoints and aors each in a file of its own,
    their auths in the secrets file (`secrets_path`), the rest in pjsip.conf; sorcery.conf
    says which type is read from where (and, with self-service, from the database next)."""
    event = directory.event
    context = {
        "names": names,
        "event": event,
        "phone_options": PHONE_OPTIONS,
        "access": access(event),
        "aor_options": AOR_OPTIONS,
        "phones": directory.accounts,
        "bind": f"{event.sip.bind}:{event.sip.port}",
        "deny_all": access(event)[0][1],
        "secrets_path": secrets_path,
        "trunk": event.trunk if directory.trunk is not None else None,
        "venue": directory.venue,
        "trunk_sources": ",".join(event.trunk.sources or (event.trunk.host,)) if event.trunk else "",
    }
    families = names.REALTIME_FAMILIES if temporary_calls(directory) is not None else ()
    return {
        "pjsip.conf": render(__file__, "etc/asterisk/pjsip.conf.j2", **context),
        "pjsip_endpoints.conf": render(__file__, "etc/asterisk/pjsip_endpoints.conf.j2", **context),
        "pjsip_aors.conf": render(__file__, "etc/asterisk/pjsip_aors.conf.j2", **context),
        "pjsip_auths.conf": render(__file__, "etc/asterisk/pjsip_auths.conf.j2", **context),
        "sorcery.conf": render_sorcery(families),
    }


def render_sorcery(families: tuple[str, ...] = ()) -> str:
    """sorcery.conf: PJSIP's endpoints, aors and auths each from its file (names.py:
    PJSIP_TYPE_FILES), then from the self-service database's `families`, if given."""
    return render(__file__, "etc/asterisk/sorcery.conf.j2", families=families, files=names.PJSIP_TYPE_FILES)


def render_secrets(directory: Directory, generation: str) -> str:
    return render(
        __file__,
        "pjsip-secrets.conf.j2",
        names=names,
        event=directory.event,
        phones=directory.accounts,
        generation=generation,
        trunk=directory.trunk,
        venue=directory.venue,
    )


@without_gc
def credential_fingerprints(directory: Directory) -> str:
    """One line per phone, `<name> <fingerprint>`, that changes when its password changes
    (sha256 of name and password, cut to 16 hex digits). Kept on the PBX (root 0600, beside
    the passwords themselves) so that a deploy knows whose registration was made with a
    password that is no longer valid. The trunk's line ("televoc-trunk") changes with its
    username, registrar or password."""
    lines = []
    for account in directory.accounts:
        digest = hashlib.sha256(f"{account.name}\0{account.password}".encode()).hexdigest()[:16]
        lines.append(f"{account.name} {digest}\n")
    if directory.trunk is not None:  # the trunk's account: a change makes it register again
        t = directory.trunk
        digest = hashlib.sha256(f"{t.trunk.username}\0{t.trunk.registrar}\0{t.password}".encode()).hexdigest()[:16]
        lines.append(f"{names.TRUNK} {digest}\n")
    return "".join(lines)


def changed_credentials(old: list[str] | None, new: str) -> list[str]:
    """Phones whose fingerprint differs from the one recorded (phones new to the record are
    not "changed": they had no registration with televoc's credentials)."""
    recorded = dict(line.split(" ", 1) for line in (old or []) if line.count(" ") == 1)
    wanted = dict(line.split(" ", 1) for line in new.splitlines())
    return [name for name, fp in wanted.items() if name in recorded and recorded[name].strip() != fp]


# Modules that NixOS's `autoload=yes` would load and that open a port or serve something
# televoc does not use (Asterisk's HTTP server with ARI, WebSocket and phoneprov; IAX2,
# DUNDi, UNISTIM, SCCP, MGCP, H.323, XMPP; HEP, StatsD, SNMP): never loaded. A name Asterisk
# does not have is harmless.
NOLOAD = (
    "res_ari.so",
    "res_ari_applications.so",
    "res_ari_asterisk.so",
    "res_ari_bridges.so",
    "res_ari_channels.so",
    "res_ari_device_states.so",
    "res_ari_endpoints.so",
    "res_ari_events.so",
    "res_ari_mailboxes.so",
    "res_ari_model.so",
    "res_ari_playbacks.so",
    "res_ari_recordings.so",
    "res_ari_sounds.so",
    "res_http_websocket.so",
    "res_pjsip_transport_websocket.so",
    "res_phoneprov.so",
    "res_pjsip_phoneprov_provider.so",
    "res_http_media_cache.so",
    "res_http_post.so",
    "res_prometheus.so",
    "chan_iax2.so",
    "pbx_dundi.so",
    "chan_unistim.so",
    "chan_skinny.so",
    "chan_mgcp.so",
    "chan_ooh323.so",
    "chan_motif.so",
    "res_xmpp.so",
    "res_hep.so",
    "res_hep_pjsip.so",
    "res_hep_rtcp.so",
    "res_statsd.so",
    "res_snmp.so",
    "res_stun_monitor.so",
    "res_aeap.so",
    "res_speech_aeap.so",
    "res_calendar.so",
    "res_pjsip_stir_shaken.so",
    "res_stir_shaken.so",
    # call records go nowhere but the call log (cdr_sqlite3_custom, when it is on)
    "cdr_csv.so",
    "cdr_custom.so",
    "cdr_manager.so",
    "cdr_syslog.so",
    "cdr_odbc.so",
    "cdr_adaptive_odbc.so",
    "cdr_pgsql.so",
    "cdr_radius.so",
    "cdr_tds.so",
    "cel_custom.so",
    "cel_manager.so",
    "cel_odbc.so",
    "cel_pgsql.so",
    "cel_radius.so",
    "cel_sqlite3_custom.so",
    "cel_tds.so",
)
# Without the call log its module is not loaded either.
NOLOAD_CALL_LOG = "cdr_sqlite3_custom.so"

CALL_LOG_DB, CALL_LOG_TABLE = names.CALL_LOG_DB, names.CALL_LOG_TABLE
# column -> what Asterisk writes there (CDR fields)
CALL_LOG_COLUMNS = (
    ("start", "${CDR(start)}"),
    ("answer", "${CDR(answer)}"),
    ("src", "${CDR(src)}"),
    ("dst", "${CDR(dst)}"),
    ("duration", "${CDR(duration)}"),
    ("billsec", "${CDR(billsec)}"),
    ("disposition", "${CDR(disposition)}"),
    ("channel", "${CDR(channel)}"),
    ("dstchannel", "${CDR(dstchannel)}"),
    ("uniqueid", "${CDR(uniqueid)}"),
    ("linkedid", "${CDR(linkedid)}"),  # one call: every row with the caller's linkedid
    ("cause", "${CDR(cause)}"),  # the hangup cause (Q.850), set by the caller's hangup handler
)


CONF_FILES = (
    *PJSIP_FILES,
    "extensions.conf",
    "rtp.conf",
    "pjsip_notify.conf",
    "http.conf",
    "manager.conf",
    "modules.conf",
    "logger.conf",
    "features.conf",
    "confbridge.conf",
    # self-service only (render_realtime)
    "extconfig.conf",
    "res_config_sqlite3.conf",
    # the call log only (render_call_log)
    "cdr.conf",
    "cdr_sqlite3_custom.conf",
)
REALTIME_FILES = ("extconfig.conf", "res_config_sqlite3.conf")


def conf_file_names(directory: Directory) -> tuple[str, ...]:
    """The CONF_FILES render_asterisk gives `directory`, known without rendering them (the
    run's one read goes out before the plan renders: roles/pbx.py)."""
    serves_claims = temporary_calls(directory) is not None
    logs_calls = directory.event.call_log.enabled
    return tuple(
        name
        for name in CONF_FILES
        if (serves_claims or name not in REALTIME_FILES) and (logs_calls or name != "cdr_sqlite3_custom.conf")
    )


# Asterisk's security events, in astlogdir (NixOS: /var/log/asterisk): what fail2ban reads.
SECURITY_LOG_NAME = "security"
SECURITY_LOG = f"/var/log/asterisk/{SECURITY_LOG_NAME}"


@without_gc
def render_asterisk(
    directory: Directory, routing: Routing | None = None, secrets_path: str = SECRETS_PATH, enable: bool = True
) -> AsteriskConfig:
    """All Asterisk artefacts for `directory` (`routing`: resolve(directory), if done already);
    same input, byte-identical output. These are the only config files Asterisk gets (the
    module turns NixOS's sample files off): what is not here does not run, and Asterisk's HTTP
    server and manager interface are off."""
    sip = directory.event.sip
    routing = resolve(directory) if routing is None else routing
    announcements_dir = posixpath.join(posixpath.dirname(secrets_path), ANNOUNCEMENTS_NAME)
    extensions, dialplan_generation = render_extensions(directory, routing, announcements_dir)
    extensions, dialplan_generation = render_extensions(directory, routing)
    pins_at = pins_path(secrets_path)
    conf_files = {
        # CONF_FILES lists these names (the snapshot reads their digests)
        **render_pjsip(directory, secrets_path),
        "extensions.conf": extensions,
        **base_files(
            directory.event,
            pickup_code=directory.event.pickup_code,
            pins_at=pins_at,
            call_log=directory.event.call_log.enabled,
        ),
        **render_realtime(directory),
    }
    pins = render_pins(directory)
    # The generation covers every byte Asterisk reads, passwords included, so that any change
    # (even a same-length password, or a PIN) changes the secrets file and with it its mtime: that
    # is what makes Asterisk's reload re-read the store files, whose mtime is always 1 (and a new
    # PINs file has a new mtime too: confbridge.conf, which includes it, is re-read).
    # Rendered once with a marker where the generation goes (the generation is the digest of
    # the files and of the secrets without it).
    marker = "@@generation@@"
    secrets = render_secrets(directory, marker)
    generation = _digest(*(conf_files[name] for name in sorted(conf_files)), secrets.replace(marker, ""), pins)
    return AsteriskConfig(
        conf_files=conf_files,
        secrets=secrets.replace(marker, generation),
        secrets_path=secrets_path,
        generation=generation,
        pins=pins,
        pins_path=pins_at,
        dialplan_generation=dialplan_generation,
        expected=LiveConfig(
            reads=tuple(names.PJSIP_TYPE_FILES.values()),
            generation=generation,
            dialplan_generation=dialplan_generation,
            phones=frozenset(a.name for a in directory.accounts),
            bind=f"{sip.bind}:{sip.port}",
            claimable=claimable_range(directory),
            temporary=temporary_range(directory),
        ),
        fingerprints=credential_fingerprints(directory),
        summary=summary(directory),
        verification=verification(directory, routing),
        enable=enable,
        announcements=Announcements.of(directory, announcements_dir),
    )


def base_files(event: Event, pickup_code: str | None, pins_at: str, call_log: bool = False) -> dict[str, str]:
    """The files every televoc PBX has, with or without an event: RTP ports, NOTIFY
    sections, HTTP and the manager off, the modules never loaded, logging (the security log
    fail2ban reads), features (`pickup_code`: None, Asterisk's own), the conference rooms'
    profiles (paging and conference rooms, services.yml; `pins_at`: the PINs file they
    include when it is there), call records (`call_log`: event.yml call_log.enabled)."""
    sip = event.sip
    return {
        "rtp.conf": render(__file__, "etc/asterisk/rtp.conf.j2", rtp_start=sip.rtp_start, rtp_end=sip.rtp_end),
        "pjsip_notify.conf": render(__file__, "etc/asterisk/pjsip_notify.conf.j2", names=names),
        "http.conf": render(__file__, "etc/asterisk/http.conf.j2"),
        "manager.conf": render(__file__, "etc/asterisk/manager.conf.j2"),
        "modules.conf": render(
            __file__, "etc/asterisk/modules.conf.j2", noload=NOLOAD if call_log else (*NOLOAD, NOLOAD_CALL_LOG)
        ),
        **render_call_log(call_log),
        "logger.conf": render(__file__, "etc/asterisk/logger.conf.j2", security_log_name=SECURITY_LOG_NAME),
        "features.conf": render(__file__, "etc/asterisk/features.conf.j2", pickup_code=pickup_code),
        "confbridge.conf": render(__file__, "etc/asterisk/confbridge.conf.j2", names=names, pins_path=pins_at),
    }


def render_call_log(enabled: bool) -> dict[str, str]:
    """cdr.conf (call records on only with the call log) and, with it, cdr_sqlite3_custom.conf."""
    files = {"cdr.conf": render(__file__, "etc/asterisk/cdr.conf.j2", enabled=enabled)}
    if enabled:
        files["cdr_sqlite3_custom.conf"] = render(
            __file__,
            "etc/asterisk/cdr_sqlite3_custom.conf.j2",
            path=CALL_LOG_DB,
            table=CALL_LOG_TABLE,
            columns=[c for c, _ in CALL_LOG_COLUMNS],
            values=[f"'{v}'" for _, v in CALL_LOG_COLUMNS],
        )
    return files


def render_teardown(directory: Directory, secrets_path: str = SECRETS_PATH, enable: bool = True) -> AsteriskConfig:
    """Asterisk's files once the event is torn down: its SIP transport and what every televoc
    PBX has (base_files), and nothing of the event: no endpoint, auth, aor, identify,
    registration, dialplan context or global, no passwords file (`secrets_path` is removed), no
    PINs file (beside it).
    `directory`, the whole event, names only what the teardown withdraws from an upstream
    (`removal`). `enable` false: no Asterisk at all (televoc_teardown=stop)."""
    event = directory.event
    bind = f"{event.sip.bind}:{event.sip.port}"
    conf_files = {
        "pjsip.conf": render(__file__, "teardown/pjsip.conf.j2", names=names, bind=bind, network=event.network),
        # Asterisk keeps the mapping it started with, and a file it cannot read keeps its
        # objects: the mapping stays, its files stay, empty.
        **{
            file: render(__file__, "teardown/pjsip_type.conf.j2", type=f"{kind}s")
            for kind, file in names.PJSIP_TYPE_FILES.items()
        },
        "sorcery.conf": render_sorcery(),
        "extensions.conf": render(__file__, "teardown/extensions.conf.j2"),
        **base_files(event, pickup_code=None, pins_at=pins_path(secrets_path)),
    }
    generation = _digest(*(conf_files[name] for name in sorted(conf_files)))
    trunk = directory.trunk
    return AsteriskConfig(
        conf_files=conf_files,
        secrets="",
        secrets_path=secrets_path,
        generation=generation,
        pins_path=pins_path(secrets_path),
        dialplan_generation="",
        expected=LiveConfig(generation=generation, dialplan_generation="", phones=frozenset(), bind=bind),
        fingerprints="",
        summary={},
        verification=Verification(phones=()),
        enable=enable,
        removal=Removal(
            trunks={names.TRUNK: f"{trunk.trunk.username} at {trunk.trunk.registrar}"} if trunk is not None else {}
        ),
    )


def verification(directory: Directory, routing: Routing) -> Verification:
    """What the verification checks for `directory`: its phones, the phones each group rings,
    the trunk's registration, the other venues' PBXes."""
    trunk = directory.trunk
    return Verification(
        phones=directory.accounts,
        groups=tuple((r.name, tuple(leg.name for leg in r.legs)) for r in routing.routes if r.kind == "group"),
        trunk=(names.TRUNK, f"{trunk.trunk.username} at {trunk.trunk.registrar}") if trunk is not None else None,
        peers=tuple((names.VENUE_PREFIX + p.name, p.name) for p in directory.venue.peers) if directory.venue else (),
        claimable=claimable_range(directory),
        bases=tuple((b.name, b.model) for b in directory.bases if b.holds_accounts),
    )


def _sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(the text before the first section, [(section name, its text with the comments and
    blank lines before it)]) of a secrets file in televoc's format."""
    head: list[str] = []
    blocks: list[tuple[str, str]] = []
    name: str | None = None
    lines: list[str] = []
    pending: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("[") and "]" in line:
            if name is not None:
                blocks.append((name, "".join(lines)))
            elif not blocks:
                head = lines
            name, lines = line[1 : line.index("]")], [*pending, line]
            pending = []
        elif name is not None and (line.startswith(";") or not line.strip()):
            pending.append(line)
        elif name is None:
            lines.append(line)
        else:
            lines.extend([*pending, line])
            pending = []
    if name is not None:
        blocks.append((name, "".join(lines)))
    else:
        head = lines
    return "".join(head), blocks


def bridged(old: str, new: str) -> str:
    """The secrets file to write before NixOS switches to a new config: every section of the
    file Asterisk has now (`old`: the running config's accounts keep their passwords, its
    generation marker stays), and the sections of `new` whose accounts `old` lacks (the new
    config's new phones). Whichever config Asterisk loads next, the one it runs or the new one,
    every account it names has its password: a switch or a write that fails in between can
    leave no account without one."""
    head, old_blocks = _sections(old)
    _, new_blocks = _sections(new)
    have = {name for name, _ in old_blocks}
    added = [text for name, text in new_blocks if name not in have and not name.startswith(names.GENERATION_AOR_PREFIX)]
    return head + "".join(text for _, text in old_blocks) + "".join(added)
