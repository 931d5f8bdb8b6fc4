"""Simulated snom desk phones in a lab, for tests: start them, read their state, use their web.

    from lab.snom import SnomFleet, SnomPhone
    url = "http://127.0.0.1:8088/static/televoc/{mac}.xml"
    with SnomFleet(lab, tmp_path / "snom").start([SnomPhone("000413ABCDEF", 5101, 8101, url)]) as fleet:
        fleet.wait("000413ABCDEF", lambda s: s["registered"], what="registered")
        lab.asterisk("pjsip send notify televoc-check-sync endpoint saal1")
        fleet.wait("000413ABCDEF", lambda s: s["notifies"] == 1 and s["fetches"] == 2)
        assert fleet.web("000413ABCDEF", "/advanced_update.htm?reboot=Reboot", ("admin", "pw")) == 200

The phones are one process, lab/snomsim.py (see its docstring for the behaviour and
the state keys), run with the host's Python inside the lab's network namespace, or in the
phone network (`SnomFleet(lab, workdir, netns=lab.phones_netns)`: each phone's `ip` given
with `lab.phone_address(ip)` first, its setting_server at the PBX's 10.23.0.2; it reaches
the PBX through its firewall, as a real phone does, and can be banned like one). Each phone
writes <workdir>/<MAC>.json after every change; the log is <workdir>/snomsim.log.
State keys: mac, ip, sip_port, web_port, settings (flat: "setting_server", "user_name.1"),
identity (user, auth_user, registrar, display_name, expires, or None), registered,
registered_as, registrations, register_failures, last_register_error, fetches,
fetch_failures, last_fetch_status (HTTP code, or "error: ..."), last_fetch_url, notifies
(check-sync), other_notifies, last_notify_event, options, invites, last_invite_alert_info,
reboots, resets, web_requests, seq (increases with every write), pid, time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .lab import IP, Lab

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 10.0  # seconds until every phone has written its first state
STOP_TIMEOUT = 8.0  # seconds after SIGTERM before SIGKILL (the phones unregister in ~3 s)
# GET a URL (argv 1) with optional Basic auth (argv 2, 3); print the status, 0 for no answer.
WEB_GET = """\
import base64, sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 3:
    req.add_header("Authorization", "Basic " + base64.b64encode(
        f"{sys.argv[2]}:{sys.argv[3]}".encode()).decode())
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError:
    print(0)
"""


def normalize_mac(mac: str) -> str:
    """'00:04:13:ab:cd:ef' -> '000413ABCDEF' (as snom puts it into {mac}); ValueError unless
    12 hex digits."""
    plain = re.sub(r"[:.-]", "", mac).upper()
    if not re.fullmatch(r"[0-9A-F]{12}", plain):
        raise ValueError(f"not a MAC address (12 hex digits): {mac!r}")
    return plain


@dataclasses.dataclass
class SnomPhone:
    """One simulated phone: the MAC, its SIP and web ports on the namespace's 127.0.0.1, the
    setting_server it got by DHCP (None: none) and a web password it already has (None).
    ip: another loopback address (127.0.0.2 ...) gives the phone a host of its own, so it can
    use a real phone's ports (SIP 5060 is taken by the PBX on 127.0.0.1 only, web 80) and be
    reached at its registered contact's host."""

    mac: str
    sip_port: int
    web_port: int
    setting_server: str | None = None
    http_pass: str | None = None
    ip: str = "127.0.0.1"


class SnomFleet:
    """The snomsim process for a set of phones in `lab`; its files live in `workdir`; `netns`:
    the network namespace the phones live in (the PBX's, unless lab.phones_netns)."""

    def __init__(self, lab: Lab, workdir: Path, netns: str | None = None):
        self.lab = lab
        self._netns = netns
        self.workdir = Path(workdir).resolve()
        self.phones: dict[str, SnomPhone] = {}
        self.proc: subprocess.Popen | None = None

    @property
    def netns(self) -> str:
        return self._netns or self.lab.netns

    def __enter__(self) -> SnomFleet:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, phones: list[SnomPhone]) -> SnomFleet:
        """Start the phones; return once each has written its first state (10 s at most)."""
        if self.proc and self.proc.poll() is None:
            raise RuntimeError("this fleet is running: stop() it first")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.phones = {normalize_mac(p.mac): p for p in phones}
        for mac in self.phones:
            (self.workdir / f"{mac}.json").unlink(missing_ok=True)
        spec = [dict(dataclasses.asdict(p), mac=mac) for mac, p in self.phones.items()]
        (self.workdir / "phones.json").write_text(json.dumps(spec, indent=1) + "\n")
        out = open(self.workdir / "snomsim.out", "ab")  # noqa: SIM115 (kept by the child)
        self.proc = subprocess.Popen(
            [
                IP,
                "netns",
                "exec",
                self.netns,
                sys.executable,
                "-m",
                "lab.snomsim",
                "--statedir",
                str(self.workdir),
                "--phones",
                str(self.workdir / "phones.json"),
            ],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        out.close()
        deadline = time.monotonic() + START_TIMEOUT
        for _ in range(int(START_TIMEOUT / 0.05) + 1):
            if all((self.workdir / f"{mac}.json").exists() for mac in self.phones):
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"snomsim did not start its phones within {START_TIMEOUT:.0f} s "
            f"(exit {self.proc.returncode}):\n{self.log_tail()}"
        )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def state(self, mac: str) -> dict:
        """The phone's last written state (see the module docstring for the keys)."""
        return json.loads((self.workdir / f"{normalize_mac(mac)}.json").read_text())

    def wait(self, mac: str, predicate: Callable[[dict], bool], timeout: float = 30, what: str = "") -> dict:
        """Poll the phone's state until predicate(state) holds and return that state;
        AssertionError with the last state (and the log's tail) after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        state: dict = {}
        for _ in range(int(timeout / 0.1) + 2):
            state = self.state(mac)
            if predicate(state):
                return state
            if not self.running() or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if self.running():
            exited = ""
        elif self.proc is None:
            exited = " (snomsim was not started)"
        else:
            exited = f" (snomsim is not running: exit {self.proc.returncode})"
        raise AssertionError(
            f"snom {normalize_mac(mac)}: not {what or 'as expected'} after "
            f"{timeout:g} s{exited}; last state:\n{json.dumps(state, indent=1)}"
            f"\n--- snomsim.log:\n{self.log_tail()}"
        )

    def web(self, mac: str, path: str, auth: tuple[str, str] | None = None) -> int:
        """GET http://<ip>:<web port><path> from inside the namespace; the status code
        (0: no HTTP answer). auth: (user, password) for HTTP Basic."""
        phone = self.phones[normalize_mac(mac)]
        url = f"http://{phone.ip}:{phone.web_port}{path}"
        r = subprocess.run(
            [IP, "netns", "exec", self.netns, sys.executable, "-c", WEB_GET, url, *(auth or ())],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        out = r.stdout.split()
        if r.returncode != 0 or not out or not out[-1].isdigit():
            raise RuntimeError(f"web GET {url} failed to run: {r.stderr}")
        return int(out[-1])

    def stop(self) -> None:
        """SIGTERM (the phones unregister), wait, SIGKILL if needed (idempotent)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, timeout in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for name in ("snomsim.log", "snomsim.out"):
            path = self.workdir / name
            if path.exists():
                text += "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text
