"""The systemd stand-in shared by the lab's `nixos-rebuild`, `systemctl` and `journalctl`.

Runs INSIDE the lab chroot (Debian sid, no systemd), installed by the lab at start-up as
/usr/local/lib/televoc-lab/labsys.py. It runs the units of the current system generation
(/etc/static/systemd/system/<name>.service, written by nixos-rebuild from
systemd.services; a unit that is not there does not exist, as on NixOS):

  - Type=simple/exec (also notify, dbus, idle, treated as simple): a supervisor process
    (`python3 labsys.py supervise UNIT`) starts ExecStart in a session of its own, tracks
    its main PID, applies Restart= / RestartSec= / RestartPreventExitStatus= (start
    limit: StartLimitBurst in StartLimitIntervalSec, 5 in 10 s by default), and on stop
    runs ExecStop, sends KillSignal (SIGTERM) to the process group, SIGKILL after
    TimeoutStopSec (at most 10 s here), then ExecStopPost.
  - Type=forking: ExecStart must exit 0; the main PID is read from PIDFile=. Restart= as
    for a simple service (systemd watches a forking unit's main PID too): a watcher process
    (`python3 labsys.py watch UNIT`) notices the main PID gone and starts the unit again
    after RestartSec=, within the start limit; the exit status of a process the lab did
    not start is unknown here, so every policy but `no` restarts it (systemd: `on-failure`
    would not restart a clean exit).
  - Type=oneshot: the ExecStart lines run in order; RemainAfterExit=yes keeps it "active
    (exited)".
  - ExecStartPre/ExecStartPost/ExecReload/ExecStop/ExecStopPost; the prefixes @ - + !;
    ${VAR}/$VAR from Environment=; User=, Group=, SupplementaryGroups= (the user's groups
    otherwise), WorkingDirectory=, UMask=; StateDirectory= -> /var/lib/<dir>,
    LogsDirectory= -> /var/log/<dir>, CacheDirectory= -> /var/cache/<dir> (owned by the
    unit's user, mode *DirectoryMode or 0755), RuntimeDirectory= -> /run/<dir> (removed on
    stop), ConfigurationDirectory= -> /etc/<dir> (root's).
  - stdout/stderr of every process go to /var/log/televoc-lab/<unit>.log (`journalctl -u`).
  - Resource limits as systemd sets them on every process of the unit (setrlimit before
    it runs): LimitNOFILE=, LimitNPROC=, LimitCORE=, LimitMEMLOCK=, LimitSTACK= (N,
    SOFT:HARD, infinity); without LimitNOFILE= a unit gets systemd's DefaultLimitNOFILE,
    1024 soft and 524288 hard (systemd 240 and later; NixOS keeps it), not whatever the
    lab's caller had. The others keep the caller's when not set. Deviation: where the lab
    lacks CAP_SYS_RESOURCE (a sandbox), a hard limit above the lab's own is cut to it (the
    unit's log says so): a lower limit than the server's, never a higher one.
  - Not enforced (accepted and written into the unit): sandboxing (ProtectSystem,
    PrivateTmp, NoNewPrivileges, RestrictAddressFamilies, ...), other resource limits
    (TasksMax=, MemoryMax=: cgroups), cgroups
    (a unit's processes are its session), dependencies other than starting Wants=/Requires=
    first and PartOf= (stop() stops the active units that are PartOf= the unit first;
    `systemctl restart` starts them again), sockets, timers.
  - A unit file may be a package's unit followed by NixOS's overrides (systemd.packages,
    see nixos-rebuild): sections repeat, and the last value of a key wins, as with a
    drop-in.

asterisk.service keeps the lab's own start: its ExecStartPre (NixOS's preStart) as root,
then Type=forking as NixOS's services.asterisk defines it, and start() waits until `core
waitfullybooted` answers, so that a switch returns with a usable PBX; its main PID is in
/run/televoc-lab/asterisk.pid. The lab makes none of Asterisk's directories itself.
"""

import fcntl
import grp
import json
import os
import pwd
import re
import resource
import shlex
import signal
import subprocess
import sys
import time

UNIT_DIR = "/etc/static/systemd/system"
STATE_DIR = "/run/televoc-lab/units"
LOG_DIR = "/var/log/televoc-lab"
# systemd's DefaultTimeoutStartSec (90 s), the bound on a unit's start: the lab waits that
# long for Asterisk to be fully booted, and an Asterisk with tens of thousands of endpoints
# takes tens of seconds (docs/capacity.md); 15 s failed a switch that NixOS would finish
BOOT_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
START_TIMEOUT = 30.0  # oneshot / forking ExecStart lines, and supervisor start-up
MAX_RESTARTS = 1000  # a supervisor's bound, whatever Restart= says

# --- asterisk.service (the lab's own start, as before) -----------------------------------
UNIT = "asterisk.service"
UNIT_FILE = f"{UNIT_DIR}/asterisk.service"
ASTERISK_CONF = "/etc/asterisk/asterisk.conf"
PID_FILE = "/run/televoc-lab/asterisk.pid"  # the main PID, as systemd would track it
DAEMON_PID_FILE = "/run/asterisk/asterisk.pid"  # written by Asterisk itself (PIDFile=)
LOG_FILE = f"{LOG_DIR}/asterisk.out"


class ServiceError(Exception):
    """The unit could not be started, stopped or reloaded (message is for the user)."""


# --- unit files ----------------------------------------------------------------------------
def parse_unit_text(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections -> [(key, value)] in file order (repeated keys repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = sections.setdefault("", [])
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif "=" in line:
            k, v = line.split("=", 1)
            current.append((k.strip(), v.strip()))
    return sections


def get(unit: dict, key: str, default=None, sect: str = "Service"):
    vals = [v for k, v in unit.get(sect, []) if k == key]
    return vals[-1] if vals else default


def get_all(unit: dict, key: str, sect: str = "Service") -> list[str]:
    out: list[str] = []
    for k, v in unit.get(sect, []):
        if k == key:
            if v == "":
                out = []  # an empty assignment resets the list, as in systemd
            else:
                out.append(v)
    return out


def _bool(v: str | None, default: bool) -> bool:
    if v is None:
        return default
    return v.lower() in ("1", "yes", "true", "on")


def flag(unit: dict, key: str, default=None):
    """A boolean X- key of [Service] (X-RestartIfChanged, ...), or `default` if absent."""
    v = get(unit, key)
    return default if v is None else _bool(v, bool(default))


def unit_path(unit: str) -> str:
    return f"{UNIT_DIR}/{unit}"


def unit_exists(unit: str = UNIT) -> bool:
    p = unit_path(unit)
    return os.path.exists(p) and not (os.path.islink(p) and os.readlink(p) == "/dev/null")


def masked(unit: str) -> bool:
    p = unit_path(unit)
    return os.path.islink(p) and os.readlink(p) == "/dev/null"


def load(unit: str, path: str | None = None) -> dict:
    path = path or unit_path(unit)
    try:
        with open(path, encoding="utf-8") as f:
            return parse_unit_text(f.read())
    except FileNotFoundError:
        raise ServiceError(f"Unit {unit} not found.") from None


def known_units() -> list[str]:
    """Units of the current generation and units with a recorded state."""
    names = set()
    if os.path.isdir(UNIT_DIR):
        names |= {n for n in os.listdir(UNIT_DIR) if n.endswith(".service")}
    if os.path.isdir(STATE_DIR):
        names |= {n[:-5] for n in os.listdir(STATE_DIR) if n.endswith(".json")}
    if main_pid():
        names.add(UNIT)
    return sorted(names)


def unit_command(key: str) -> list[str] | None:
    """asterisk.service: the argv of `key=` (ExecStart, ExecReload) in the current unit."""
    try:
        unit = load(UNIT)
    except ServiceError:
        return None
    v = get(unit, key)
    return shlex.split(v) if v else None


# --- state ---------------------------------------------------------------------------------
def _state_path(unit: str) -> str:
    return f"{STATE_DIR}/{unit}.json"


def read_state(unit: str) -> dict | None:
    try:
        with open(_state_path(unit), encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def write_state(unit: str, **fields) -> dict:
    os.makedirs(STATE_DIR, exist_ok=True)
    state = dict(read_state(unit) or {}, **fields)
    tmp = f"{_state_path(unit)}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, _state_path(unit))
    return state


def clear_state(unit: str) -> None:
    try:
        os.unlink(_state_path(unit))
    except FileNotFoundError:
        pass


def _stat(pid: int) -> tuple[str, str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()[0]


def alive(pid: int | None) -> bool:
    s = _stat(pid) if pid else None
    return s is not None and s[1] not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # gone, or not ours to read
        return ""


def supervisor_alive(unit: str, state: dict) -> bool:
    pid = state.get("supervisor_pid")
    if not pid:
        return False
    return alive(pid) and f"labsys.py supervise {unit}" in _cmdline(pid)


def active_state(unit: str) -> str:
    """active (running) | active (exited) | failed | inactive (dead)"""
    if unit == UNIT:
        return "active (running)" if main_pid() else "inactive (dead)"
    state = read_state(unit)
    if not state:
        return "inactive (dead)"
    if state.get("result") == "failed":
        return "failed"
    kind = state.get("type", "simple")
    if kind == "oneshot":
        return "active (exited)" if state.get("result") == "exited" else "inactive (dead)"
    if kind == "forking":
        return "active (running)" if alive(state.get("main_pid")) else "failed"
    if supervisor_alive(unit, state):
        return "active (running)"
    return "failed" if state.get("result") == "failed" else "inactive (dead)"


def is_active(unit: str = UNIT) -> bool:
    return active_state(unit).startswith("active")


def unit_main_pid(unit: str) -> int | None:
    if unit == UNIT:
        return main_pid()
    state = read_state(unit) or {}
    pid = state.get("main_pid")
    return pid if alive(pid) else None


# --- ordering ------------------------------------------------------------------------------
def _deps(unit: str) -> tuple[set[str], set[str], bool]:
    try:
        u = load(unit)
    except ServiceError:
        return set(), set(), True
    after = set(" ".join(get_all(u, "After", "Unit")).split())
    before = set(" ".join(get_all(u, "Before", "Unit")).split())
    return after, before, _bool(get(u, "DefaultDependencies", None, "Unit"), True)


def start_order(units: list[str]) -> list[str]:
    """Units without default dependencies (early boot: the firewall) first, then by
    After=/Before= among the units given, then by name."""
    deps = {u: _deps(u) for u in units}
    order: list[str] = []
    pending = sorted(units, key=lambda u: (deps[u][2], u))
    for _ in range(len(units) + 1):  # bounded: one unit placed per round at least
        if not pending:
            break
        for u in pending:
            blockers = {v for v in pending if v != u and (v in deps[u][0] or u in deps[v][1])}
            if not blockers:
                order.append(u)
                pending.remove(u)
                break
        else:  # a cycle: keep the rest in name order
            order += pending
            pending = []
    return order


def stop_order(units: list[str]) -> list[str]:
    return list(reversed(start_order(units)))


# --- running commands ------------------------------------------------------------------------
def _log_path(unit: str) -> str:
    return LOG_FILE if unit == UNIT else f"{LOG_DIR}/{unit}.log"


def _environment(u: dict, unit: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "INVOCATION_ID": os.urandom(16).hex(),
    }
    for line in get_all(u, "Environment"):
        for assignment in shlex.split(line):
            if "=" in assignment:
                k, v = assignment.split("=", 1)
                env[k] = v
    for path in get_all(u, "EnvironmentFile"):
        optional = path.startswith("-")
        try:
            with open(path.lstrip("-"), encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#") and "=" in line:
                        k, v = line.split("=", 1)
                        env[k.strip()] = v.strip().strip('"')
        except FileNotFoundError:
            if not optional:
                raise ServiceError(f"{unit}: EnvironmentFile {path} not found") from None
    user = get(u, "User")
    if user:
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            raise ServiceError(
                f"{unit}: Failed to determine user credentials: No such process (User={user} does not exist)"
            ) from None
        env.update(USER=pw.pw_name, LOGNAME=pw.pw_name, HOME=pw.pw_dir, SHELL=pw.pw_shell)
    for kind, base in (
        ("State", "/var/lib"),
        ("Logs", "/var/log"),
        ("Cache", "/var/cache"),
        ("Runtime", "/run"),
        ("Configuration", "/etc"),
    ):
        dirs = " ".join(get_all(u, f"{kind}Directory")).split()
        if dirs:
            env[f"{kind.upper()}_DIRECTORY"] = ":".join(f"{base}/{d}" for d in dirs)
    return env


def _expand(word: str, env: dict[str, str]) -> list[str]:
    if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", word):
        return env.get(word[1:], "").split()
    return [re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word)]


def parse_exec(line: str, env: dict[str, str]) -> tuple[list[str], str | None, bool, bool]:
    """An Exec*= line -> (argv, argv0 or None, ignore_failure, as_root)."""
    ignore = privileged = at = False
    while line and line[0] in "@-+!:|":
        c, line = line[0], line[1:]
        ignore |= c == "-"
        privileged |= c in "+!"
        at |= c == "@"
    words = shlex.split(line)
    argv = [w for word in words for w in _expand(word, env)]
    if at and len(argv) >= 2:
        return [argv[0], *argv[2:]], argv[1], ignore, privileged
    return argv, None, ignore, privileged


def _credentials(u: dict, unit: str):
    """(uid, gid, groups) for User=/Group=, or None for root."""
    user, group = get(u, "User"), get(u, "Group")
    if not user and not group:
        return None
    try:
        pw = pwd.getpwnam(user or "root")
        gid = grp.getgrnam(group).gr_gid if group else pw.pw_gid
    except KeyError as e:
        raise ServiceError(f"{unit}: user or group does not exist: {e}") from None
    extra = " ".join(get_all(u, "SupplementaryGroups")).split()
    groups = [grp.getgrnam(g).gr_gid for g in extra] if extra else os.getgrouplist(pw.pw_name, gid)
    return pw.pw_uid, gid, groups


# systemd's Limit*= keys -> the resource; DefaultLimitNOFILE= (systemd 240 and later, which
# NixOS keeps): soft 1024 (select() breaks above it), hard 524288
LIMITS = {
    "LimitNOFILE": resource.RLIMIT_NOFILE,
    "LimitNPROC": resource.RLIMIT_NPROC,
    "LimitCORE": resource.RLIMIT_CORE,
    "LimitMEMLOCK": resource.RLIMIT_MEMLOCK,
    "LimitSTACK": resource.RLIMIT_STACK,
}
DEFAULT_LIMITS = {"LimitNOFILE": "1024:524288"}


def _limit_value(word: str) -> int:
    word = word.strip()
    return resource.RLIM_INFINITY if word == "infinity" else int(word)


def limits(u: dict, unit: str) -> list[tuple[int, int, int]]:
    """(resource, soft, hard) for each Limit*= of the unit (or systemd's default)."""
    out = []
    for key, res in LIMITS.items():
        value = get(u, key) or DEFAULT_LIMITS.get(key)
        if not value:
            continue
        soft, _, hard = value.partition(":")
        try:
            out.append((res, _limit_value(soft), _limit_value(hard or soft)))
        except ValueError:
            raise ServiceError(f"{unit}: Failed to parse {key}= value, ignoring: {value}") from None
    return out


def _below(a: int, b: int) -> bool:
    return b != resource.RLIM_INFINITY and (a == resource.RLIM_INFINITY or a > b)


def within_machine(unit: str, wanted: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The limits this process may give (its own hard limit, when it lacks
    CAP_SYS_RESOURCE to raise it: a lab deviation, logged for the unit)."""
    names = {res: key for key, res in LIMITS.items()}
    out = []
    for res, soft, hard in wanted:
        ceiling = resource.getrlimit(res)[1]
        if _below(hard, ceiling) and not _can_raise():
            _log(
                unit,
                f"televoc lab: {names[res]}={soft}:{hard} cut to this machine's hard limit {ceiling} "
                "(the lab may not raise it; a NixOS server gives the unit's value)",
            )
            hard = ceiling
            soft = ceiling if _below(soft, ceiling) else soft
        out.append((res, soft, hard))
    return out


def _can_raise() -> bool:
    """CAP_SYS_RESOURCE (24) in this process's effective set."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            caps = next(line for line in f if line.startswith("CapEff:"))
        return bool(int(caps.split()[1], 16) & (1 << 24))
    except (OSError, StopIteration, ValueError):
        return False


def _set_limits(wanted: list[tuple[int, int, int]]) -> None:
    for res, soft, hard in wanted:
        resource.setrlimit(res, (soft, hard))


def _preexec(creds, umask: int | None, rlimits: list[tuple[int, int, int]] | None = None):
    def fn():
        _set_limits(rlimits or [])  # as root, before the user changes (systemd's order)
        if umask is not None:
            os.umask(umask)
        if creds:
            uid, gid, groups = creds
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)

    return fn


def _popen(u: dict, unit: str, line: str, env: dict, root: bool = False) -> subprocess.Popen:
    argv, argv0, _ignore, privileged = parse_exec(line, env)
    creds = None if (root or privileged) else _credentials(u, unit)
    umask = get(u, "UMask")
    os.makedirs(LOG_DIR, exist_ok=True)
    log = open(_log_path(unit), "ab")
    try:
        return subprocess.Popen(
            [argv0 or argv[0], *argv[1:]],
            executable=argv[0],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            cwd=get(u, "WorkingDirectory", "/").lstrip("-"),
            preexec_fn=_preexec(creds, int(umask, 8) if umask else None, within_machine(unit, limits(u, unit))),
            start_new_session=True,
        )
    except OSError as e:
        raise ServiceError(f"{unit}: Failed to execute {argv[0]}: {e.strerror}") from None
    finally:
        log.close()


def _log(unit: str, text: str) -> None:
    os.makedirs(LOG_DIR, exist_ok=True)
    with open(_log_path(unit), "a", encoding="utf-8") as f:
        f.write(f"--- {time.strftime('%F %T')} {text}\n")


def run_lines(u: dict, unit: str, key: str, env: dict, timeout: float = START_TIMEOUT) -> None:
    """Run every `key=` line in order; a failing line (without `-`) raises ServiceError."""
    for line in get_all(u, key):
        ignore = parse_exec(line, env)[2]
        p = _popen(u, unit, line, env)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(p.pid, signal.SIGKILL)
            p.wait(timeout=5)
            raise ServiceError(f"{unit}: {key} timed out after {timeout:.0f} s") from None
        if rc != 0 and not ignore:
            _log(unit, f"{key} exited with status {rc}")
            raise ServiceError(f"Job for {unit} failed: {key} exited with status {rc}.\n{log_tail(unit)}")


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _prepare_unit_dirs(u: dict, unit: str) -> None:
    creds = _credentials(u, unit)
    uid, gid = (creds[0], creds[1]) if creds else (0, 0)
    for kind, base, owned in (
        ("State", "/var/lib", True),
        ("Logs", "/var/log", True),
        ("Cache", "/var/cache", True),
        ("Runtime", "/run", True),
        ("Configuration", "/etc", False),
    ):
        mode = int(get(u, f"{kind}DirectoryMode", "0755"), 8)
        for d in " ".join(get_all(u, f"{kind}Directory")).split():
            path = f"{base}/{d}"
            os.makedirs(path, exist_ok=True)
            os.chmod(path, mode)
            if owned:
                os.chown(path, uid, gid)


def _remove_runtime_dirs(u: dict) -> None:
    if get(u, "RuntimeDirectoryPreserve", "no") in ("yes", "true"):
        return
    for d in " ".join(get_all(u, "RuntimeDirectory")).split():
        subprocess.run(["rm", "-rf", "--one-file-system", f"/run/{d}"], timeout=30, check=False)


def log_tail(unit: str, lines: int = 15) -> str:
    path = LOG_FILE if unit == UNIT else _log_path(unit)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except FileNotFoundError:
        return ""


# --- generic start / stop / reload ------------------------------------------------------------
WATCH_POLL = 0.2  # how often a watcher looks at a forking unit's main PID (seconds)


def _watcher_file(unit: str) -> str:
    return os.path.join(STATE_DIR, f"{unit}.watcher")


def _stop_watcher(unit: str) -> None:
    """The watcher of a forking unit goes first when the unit is stopped (a stop is no crash)."""
    try:
        with open(_watcher_file(unit), encoding="ascii") as f:
            pid = int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return
    if pid != os.getpid() and alive(pid) and "labsys.py" in _cmdline(pid) and " watch " in _cmdline(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):  # at most 5 s
            if not alive(pid):
                break
            time.sleep(0.05)
    try:
        os.unlink(_watcher_file(unit))
    except FileNotFoundError:
        pass


def _watch_forking(unit: str) -> None:
    """Start the watcher that applies Restart= to a forking unit (none for Restart=no)."""
    if get(load(unit), "Restart", "no") == "no":
        return
    _stop_watcher(unit)
    os.makedirs(STATE_DIR, exist_ok=True)
    with open(_log_path(unit), "ab") as log:
        w = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "watch", unit],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd="/",
        )
    with open(_watcher_file(unit), "w", encoding="ascii") as f:
        f.write(f"{w.pid}\n")


def watch(unit: str) -> int:
    """Restart= for a forking unit whose main PID the lab did not start itself (see above)."""
    u = load(unit)
    restart_sec = float(get(u, "RestartSec", "0.1").rstrip("s") or 0.1)
    burst = int(get(u, "StartLimitBurst", "5", "Unit"))
    interval = float(get(u, "StartLimitIntervalSec", "10", "Unit").rstrip("s") or 10)
    starts: list[float] = []
    for _ in range(MAX_RESTARTS):
        pid = unit_main_pid(unit)
        while pid and alive(pid):  # as long as the service runs
            time.sleep(WATCH_POLL)
        _log(unit, f"main process {pid} is gone; restarting in {restart_sec:g} s (Restart=)")
        time.sleep(restart_sec)
        now = time.monotonic()
        starts = [s for s in starts if now - s < interval] + [now]
        if len(starts) > burst:
            _log(unit, f"{unit}: Start request repeated too quickly.")
            return 1
        try:
            if unit == UNIT:
                start_asterisk(watched=True)
            else:
                start(unit, _watched=True)
        except ServiceError as e:
            _log(unit, str(e))
            return 1
    return 0


def start(unit: str = UNIT, _depth: int = 0, _watched: bool = False) -> int | None:
    """Start `unit` unless it is active; return its main PID (None for oneshot)."""
    if unit == UNIT:
        return start_asterisk(watched=_watched)
    if masked(unit):
        raise ServiceError(f"Failed to start {unit}: Unit {unit} is masked.")
    if is_active(unit):
        return unit_main_pid(unit)
    u = load(unit)
    if _depth < 5:  # Wants=/Requires= first (bounded depth)
        for dep in " ".join(get_all(u, "Requires", "Unit") + get_all(u, "Wants", "Unit")).split():
            if dep.endswith(".service") and unit_exists(dep) and not is_active(dep):
                try:
                    start(dep, _depth + 1)
                except ServiceError:
                    if dep in " ".join(get_all(u, "Requires", "Unit")).split():
                        raise ServiceError(f"Dependency failed for {unit}.") from None
    kind = get(u, "Type", "simple")
    path = os.path.realpath(unit_path(unit))
    env = _environment(u, unit)
    clear_state(unit)
    _log(unit, f"starting {unit}")
    try:
        _prepare_unit_dirs(u, unit)
        run_lines(u, unit, "ExecStartPre", env)
        if kind == "oneshot":
            write_state(unit, type="oneshot", unit_file=path, result="starting")
            run_lines(u, unit, "ExecStart", env)
            run_lines(u, unit, "ExecStartPost", env)
            if _bool(get(u, "RemainAfterExit"), False):
                write_state(unit, result="exited", since=time.time())
            else:
                clear_state(unit)
            return None
        if kind == "forking":
            pid = _start_forking(u, unit, path, env)
            if not _watched:
                _watch_forking(unit)
            return pid
        return _start_simple(u, unit, path, env)
    except ServiceError:
        write_state(unit, type=kind, unit_file=path, result="failed", since=time.time())
        _remove_runtime_dirs(u)
        raise


def _start_forking(u: dict, unit: str, path: str, env: dict) -> int | None:
    lines = get_all(u, "ExecStart")
    if not lines:
        raise ServiceError(f"{unit}: no ExecStart")
    p = _popen(u, unit, lines[-1], env)
    try:
        rc = p.wait(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(p.pid, signal.SIGKILL)
        raise ServiceError(f"{unit}: start-up timed out (ExecStart did not fork)") from None
    if rc != 0:
        raise ServiceError(f"Job for {unit} failed: ExecStart exited with status {rc}.\n{log_tail(unit)}")
    pidfile, pid = get(u, "PIDFile"), None
    for _ in range(100):  # at most 5 s for the PID file
        if not pidfile:
            break
        try:
            with open(pidfile, encoding="ascii") as f:
                pid = int(f.read().strip())
            break
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    write_state(unit, type="forking", unit_file=path, main_pid=pid, result="running", since=time.time())
    env = dict(env, MAINPID=str(pid or ""))
    run_lines(u, unit, "ExecStartPost", env)
    return pid


def _start_simple(u: dict, unit: str, path: str, env: dict) -> int | None:
    if not get_all(u, "ExecStart"):
        raise ServiceError(f"{unit}: Service has no ExecStart=, refusing.")
    os.makedirs(LOG_DIR, exist_ok=True)
    # the state first: the supervisor adds its own PID and the main PID to it
    write_state(unit, type=get(u, "Type", "simple"), unit_file=path, result="running", since=time.time())
    log = open(_log_path(unit), "ab")
    sup = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "supervise", unit, path],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        cwd="/",
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:  # bounded: until the supervisor reports the main PID
        st = read_state(unit) or {}
        if st.get("main_pid") and st.get("supervisor_pid") == sup.pid:
            break
        if sup.poll() is not None:
            if (read_state(unit) or {}).get("result") == "failed":
                raise ServiceError(f"Job for {unit} failed.\n{log_tail(unit)}")
            break  # ran and exited cleanly already (Type=simple reports success)
        time.sleep(0.02)
    pid = (read_state(unit) or {}).get("main_pid")
    run_lines(u, unit, "ExecStartPost", dict(env, MAINPID=str(pid or "")))
    return pid


def part_of(unit: str) -> list[str]:
    """Active units with PartOf=`unit`: systemd stops and restarts them with it."""
    found = []
    for other in known_units():
        if other == unit or not is_active(other):
            continue
        state = read_state(other) or {}
        try:
            u = load(other, state.get("unit_file"))
        except ServiceError:
            continue
        if unit in " ".join(get_all(u, "PartOf", "Unit")).split():
            found.append(other)
    return found


def stop(unit: str = UNIT, _depth: int = 0) -> bool:
    """Stop `unit` (and, first, the active units that are PartOf= it); return True if it
    was active."""
    if _depth < 5:  # bounded: PartOf chains
        for other in part_of(unit):
            try:
                stop(other, _depth + 1)
            except ServiceError as e:
                _log(other, str(e))
    _stop_watcher(unit)
    if unit == UNIT:
        return stop_asterisk()
    state = read_state(unit)
    if not state:
        return False
    was_active = is_active(unit)
    u = load(unit, state.get("unit_file"))  # the unit as it was started
    env = _environment(u, unit)
    kind = state.get("type", "simple")
    try:
        if kind == "oneshot":
            if state.get("result") == "exited":
                env["MAINPID"] = ""
                run_lines(u, unit, "ExecStop", env)
                run_lines(u, unit, "ExecStopPost", env)
        elif kind == "forking":
            pid = state.get("main_pid")
            env["MAINPID"] = str(pid or "")
            if pid and alive(pid):
                if get_all(u, "ExecStop"):
                    run_lines(u, unit, "ExecStop", env)
                _terminate(pid, u)
            run_lines(u, unit, "ExecStopPost", env)
        else:
            sup = state.get("supervisor_pid")
            if sup and supervisor_alive(unit, state):
                os.kill(sup, signal.SIGTERM)  # the supervisor runs ExecStop and ExecStopPost
                deadline = time.monotonic() + STOP_TIMEOUT + 5
                while alive(sup) and time.monotonic() < deadline:
                    time.sleep(0.02)
                if alive(sup):
                    _kill_group(sup, signal.SIGKILL)
            main = state.get("main_pid")
            if main and alive(main):
                _kill_group(main, signal.SIGKILL)
    finally:
        _remove_runtime_dirs(u)
        clear_state(unit)
        _log(unit, f"stopped {unit}")
    return was_active


def _terminate(pid: int, u: dict) -> None:
    sig = getattr(signal, get(u, "KillSignal", "SIGTERM"), signal.SIGTERM)
    _kill_group(pid, sig)
    deadline = time.monotonic() + min(STOP_TIMEOUT, float(get(u, "TimeoutStopSec", "90").rstrip("s") or 90))
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if alive(pid):
        _kill_group(pid, signal.SIGKILL)
        for _ in range(100):  # at most 5 s
            if not alive(pid):
                break
            time.sleep(0.05)


def reload(unit: str = UNIT) -> None:
    """ExecReload (for asterisk.service: `asterisk -rx "core reload"`)."""
    if unit == UNIT:
        return reload_asterisk()
    if not is_active(unit):
        raise ServiceError(f"Failed to reload {unit}: Unit {unit} is not active.")
    u = load(unit)  # the current generation's unit: its reload script
    if not get_all(u, "ExecReload"):
        raise ServiceError(f"Failed to reload {unit}: Job type reload is not applicable for unit {unit}.")
    env = dict(_environment(u, unit), MAINPID=str(unit_main_pid(unit) or ""))
    run_lines(u, unit, "ExecReload", env)
    write_state(unit, unit_file=os.path.realpath(unit_path(unit)))


# --- the supervisor of a simple service -------------------------------------------------------
def supervise(unit: str, path: str) -> int:
    u = load(unit, path)
    env = _environment(u, unit)
    line = get_all(u, "ExecStart")[-1]
    policy = get(u, "Restart", "no")
    restart_sec = float(get(u, "RestartSec", "0.1").rstrip("s") or 0.1)
    burst = int(get(u, "StartLimitBurst", "5", "Unit"))
    interval = float(get(u, "StartLimitIntervalSec", "10", "Unit").rstrip("s") or 10)
    stopping = {"flag": False}
    child: dict[str, subprocess.Popen | None] = {"p": None}

    def on_term(_sig, _frame):
        stopping["flag"] = True
        p = child["p"]
        if p is not None and p.poll() is None:
            e = dict(env, MAINPID=str(p.pid))
            try:
                run_lines(u, unit, "ExecStop", e, timeout=STOP_TIMEOUT)
            except ServiceError:
                pass
            _terminate(p.pid, u)

    signal.signal(signal.SIGTERM, on_term)
    starts: list[float] = []
    for _ in range(MAX_RESTARTS):
        now = time.monotonic()
        starts = [t for t in starts if now - t < interval] + [now]
        if len(starts) > burst:
            _log(unit, f"{unit}: Start request repeated too quickly.")
            write_state(unit, result="failed", main_pid=None)
            return 1
        try:
            p = _popen(u, unit, line, env)
        except ServiceError as e:
            _log(unit, str(e))
            write_state(unit, result="failed", main_pid=None)
            return 1
        child["p"] = p
        write_state(unit, main_pid=p.pid, supervisor_pid=os.getpid())
        while True:
            try:
                rc = p.wait()
                break
            except InterruptedError:
                continue
        if stopping["flag"]:
            break
        clean = rc == 0 or (rc < 0 and -rc in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE))
        _log(unit, f"main process exited, status {rc}")
        again = (
            policy == "always"
            or (policy == "on-failure" and not clean)
            or (policy == "on-success" and clean)
            or (policy == "on-abnormal" and rc < 0)
            or (policy == "on-abort" and rc < 0 and -rc not in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM))
        )
        if again and _prevented(u, rc):
            again = False
            clean = rc == 0
        if not again:
            run_lines_quiet(u, unit, "ExecStopPost", env)
            write_state(unit, result="exited-ok" if clean else "failed", main_pid=None)
            if clean:
                clear_state(unit)
            return 0 if clean else 1
        deadline = time.monotonic() + restart_sec
        while time.monotonic() < deadline and not stopping["flag"]:
            time.sleep(min(0.05, restart_sec))
        if stopping["flag"]:
            break
    run_lines_quiet(u, unit, "ExecStopPost", env)
    return 0


def _prevented(u: dict, rc: int) -> bool:
    """RestartPreventExitStatus=: exit codes and signal names that are not restarted."""
    for word in " ".join(get_all(u, "RestartPreventExitStatus")).split():
        if (word.isdigit() and rc == int(word)) or (
            rc < 0 and getattr(signal, word if word.startswith("SIG") else f"SIG{word}", None) == -rc
        ):
            return True
    return False


def run_lines_quiet(u: dict, unit: str, key: str, env: dict) -> None:
    try:
        run_lines(u, unit, key, env, timeout=STOP_TIMEOUT)
    except ServiceError as e:
        _log(unit, str(e))


# --- asterisk.service: the lab's own start, unchanged ------------------------------------------
def _alive_asterisk(pid: int) -> bool:
    """True if `pid` is a live (not zombie) process named asterisk."""
    s = _stat(pid)
    return s is not None and s[0] == "asterisk" and s[1] not in ("Z", "X")


def _read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def main_pid() -> int | None:
    """The running Asterisk's PID, or None."""
    for path in (PID_FILE, DAEMON_PID_FILE):
        pid = _read_pid(path)
        if pid and _alive_asterisk(pid):
            return pid
    return None


def _prepare_dirs() -> None:
    """The lab's own directories only: /var/lib, /var/spool and /var/log/asterisk are the
    unit's preStart's (ExecStartPre, run by start_asterisk), /run/asterisk is Asterisk's own
    (it makes astrundir and gives it to its -U user), as on NixOS."""
    for d in (os.path.dirname(PID_FILE), os.path.dirname(LOG_FILE)):
        os.makedirs(d, mode=0o755, exist_ok=True)


def _cli(command: str, timeout: float = 5.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["asterisk", "-C", ASTERISK_CONF, "-rx", command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_asterisk(watched: bool = False) -> int:
    """Start asterisk.service unless it is running; return its main PID. Its Restart= is
    applied by a watcher (`watched`: the watcher is the caller). One start at a time (systemd
    merges a start job into one that runs: a `systemctl start` while the watcher restarts
    Asterisk starts no second one)."""
    os.makedirs(os.path.dirname(PID_FILE), exist_ok=True)
    with open(os.path.join(os.path.dirname(PID_FILE), "asterisk.start.lock"), "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _start_asterisk(watched)


def _start_asterisk(watched: bool) -> int:
    pid = main_pid()
    if pid:
        return pid
    if masked(UNIT):
        raise ServiceError(f"Failed to start {UNIT}: Unit {UNIT} is masked.")
    argv = unit_command("ExecStart")
    if argv is None:
        raise ServiceError(f"Failed to start {UNIT}: Unit {UNIT} not found.")
    _prepare_dirs()
    # ExecStartPre (NixOS's preStart: the state directories' skeleton), as root, with the
    # unit's environment
    u = load(UNIT)
    run_lines(u, UNIT, "ExecStartPre", _environment(u, UNIT))
    for stale in (PID_FILE, DAEMON_PID_FILE):
        if os.path.exists(stale):
            os.unlink(stale)
    with open(LOG_FILE, "ab") as log:
        log.write(f"--- {time.strftime('%F %T')} starting: {shlex.join(argv)}\n".encode())
        log.flush()
        # -F forks: the launcher exits once the daemon runs (Type=forking).
        # the unit's resource limits (Asterisk's daemon inherits them from its launcher)
        launcher = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd="/",
            preexec_fn=_preexec(None, None, within_machine(UNIT, limits(u, UNIT))),
        )
    try:
        rc = launcher.wait(timeout=BOOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        launcher.kill()
        launcher.wait(timeout=5)
        raise ServiceError(f"{UNIT}: start-up timed out (launcher did not fork)") from None
    if rc != 0:
        raise ServiceError(f"{UNIT}: asterisk exited with status {rc}\n{log_tail(UNIT)}")
    deadline = time.monotonic() + BOOT_TIMEOUT
    pid = None
    while time.monotonic() < deadline:  # bounded: BOOT_TIMEOUT / 0.1 s polls at most
        pid = pid or main_pid()
        if pid:
            if _cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic())).returncode == 0:
                with open(PID_FILE, "w", encoding="ascii") as f:
                    f.write(f"{pid}\n")
                if not watched:
                    _watch_forking(UNIT)
                return pid
            if not _alive_asterisk(pid):
                break
        time.sleep(0.1)
    raise ServiceError(f"{UNIT}: Asterisk did not finish booting within {BOOT_TIMEOUT:.0f} s\n{log_tail(UNIT)}")


def stop_asterisk() -> bool:
    """Stop asterisk.service (SIGTERM, then SIGKILL); return True if it was running."""
    pid = main_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive_asterisk(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive_asterisk(pid):
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):  # at most 5 s
            if not _alive_asterisk(pid):
                break
            time.sleep(0.05)
    for path in (PID_FILE, DAEMON_PID_FILE):
        if os.path.exists(path):
            os.unlink(path)
    return True


def reload_asterisk() -> None:
    """ExecReload: `asterisk -rx "core reload"` (prints success even for broken configs)."""
    if main_pid() is None:
        raise ServiceError(f"Failed to reload {UNIT}: Unit {UNIT} is not active.")
    argv = unit_command("ExecReload")
    if argv is None:
        raise ServiceError(f"Failed to reload {UNIT}: Unit {UNIT} not found.")
    subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "supervise":
        sys.exit(supervise(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 3 and sys.argv[1] == "watch":
        sys.exit(watch(sys.argv[2]))
    print("usage: labsys.py supervise UNIT UNIT_FILE | watch UNIT", file=sys.stderr)
    sys.exit(2)
