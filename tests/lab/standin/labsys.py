"""Service logic shared by the lab's `nixos-rebuild` and `systemctl` stand-ins.

Runs INSIDE the lab chroot (Debian sid, no systemd), installed by the lab at start-up as
/usr/local/lib/televoc-lab/labsys.py. It plays the part of systemd for the one unit the
lab has, asterisk.service, as NixOS's services.asterisk defines it:

    Type=forking, PIDFile=/run/asterisk/asterisk.pid,
    ExecStart=asterisk -U asterisk -G asterisk -C /etc/asterisk/asterisk.conf <extraArguments> -F

The unit file is part of the system generation (/etc/static/systemd/system/asterisk.service,
written by nixos-rebuild only when services.asterisk.enable is true): without it the unit
does not exist, as on NixOS.
"""

import grp
import os
import pwd
import shlex
import signal
import subprocess
import time

UNIT = "asterisk.service"
UNIT_FILE = "/etc/static/systemd/system/asterisk.service"
ASTERISK_CONF = "/etc/asterisk/asterisk.conf"
PID_FILE = "/run/televoc-lab/asterisk.pid"  # the main PID, as systemd would track it
DAEMON_PID_FILE = "/run/asterisk/asterisk.pid"  # written by Asterisk itself (PIDFile=)
LOG_FILE = "/var/log/televoc-lab/asterisk.out"
BOOT_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
USER = GROUP = "asterisk"
# NixOS's preStart makes these; systemd's RuntimeDirectory-like /run/asterisk too.
STATE_DIRS = ("/run/asterisk", "/var/lib/asterisk", "/var/log/asterisk", "/var/spool/asterisk")


class ServiceError(Exception):
    """The unit could not be started or stopped (message is for the user)."""


def unit_exists() -> bool:
    return os.path.exists(UNIT_FILE)


def unit_command(key: str) -> list[str] | None:
    """The argv of `key=` (ExecStart, ExecReload) in the current generation's unit file."""
    try:
        with open(UNIT_FILE, encoding="utf-8") as f:
            for line in f:
                if line.startswith(key + "="):
                    return shlex.split(line[len(key) + 1:])
    except FileNotFoundError:
        return None
    return None


def _alive_asterisk(pid: int) -> bool:
    """True if `pid` is a live (not zombie) process named asterisk."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    state = stat[stat.rindex(")") + 2:].split()[0]
    return comm == "asterisk" and state not in ("Z", "X")


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


def is_active() -> bool:
    return main_pid() is not None


def _prepare_dirs() -> None:
    uid = pwd.getpwnam(USER).pw_uid
    gid = grp.getgrnam(GROUP).gr_gid
    for d in STATE_DIRS:
        os.makedirs(d, mode=0o755, exist_ok=True)
        os.chown(d, uid, gid)
    for d in (os.path.dirname(PID_FILE), os.path.dirname(LOG_FILE)):
        os.makedirs(d, mode=0o755, exist_ok=True)


def _cli(command: str, timeout: float = 5.0) -> subprocess.CompletedProcess:
    return subprocess.run(["asterisk", "-C", ASTERISK_CONF, "-rx", command],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _log_tail(lines: int = 15) -> str:
    try:
        with open(LOG_FILE, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except FileNotFoundError:
        return ""


def start() -> int:
    """Start asterisk.service unless it is running; return its main PID."""
    pid = main_pid()
    if pid:
        return pid
    argv = unit_command("ExecStart")
    if argv is None:
        raise ServiceError(f"Failed to start {UNIT}: Unit {UNIT} not found.")
    _prepare_dirs()
    for stale in (PID_FILE, DAEMON_PID_FILE):
        if os.path.exists(stale):
            os.unlink(stale)
    with open(LOG_FILE, "ab") as log:
        log.write(f"--- {time.strftime('%F %T')} starting: {shlex.join(argv)}\n".encode())
        log.flush()
        # -F forks: the launcher exits once the daemon runs (Type=forking).
        launcher = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True, cwd="/")
    try:
        rc = launcher.wait(timeout=BOOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        launcher.kill()
        launcher.wait(timeout=5)
        raise ServiceError(f"{UNIT}: start-up timed out (launcher did not fork)")
    if rc != 0:
        raise ServiceError(f"{UNIT}: asterisk exited with status {rc}\n{_log_tail()}")
    deadline = time.monotonic() + BOOT_TIMEOUT
    pid = None
    while time.monotonic() < deadline:  # bounded: BOOT_TIMEOUT / 0.1 s polls at most
        pid = pid or main_pid()
        if pid:
            if _cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic())).returncode == 0:
                with open(PID_FILE, "w", encoding="ascii") as f:
                    f.write(f"{pid}\n")
                return pid
            if not _alive_asterisk(pid):
                break
        time.sleep(0.1)
    raise ServiceError(f"{UNIT}: Asterisk did not finish booting within {BOOT_TIMEOUT:.0f} s\n"
                       f"{_log_tail()}")


def stop() -> bool:
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


def reload() -> None:
    """ExecReload: `asterisk -rx "core reload"` (prints success even for broken configs)."""
    if main_pid() is None:
        raise ServiceError(f"Failed to reload {UNIT}: Unit {UNIT} is not active.")
    argv = unit_command("ExecReload")
    if argv is None:
        raise ServiceError(f"Failed to reload {UNIT}: Unit {UNIT} not found.")
    subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
