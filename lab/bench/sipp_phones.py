"""N phones really registered in the lab: one SIPp in the phone network's namespace registers
every account of a CSV file and stays up, answering Asterisk's qualify OPTIONS.

    phones = SippPhones(lab, [(name, password), ...], rate=100)
    phones.start()
    took = phones.wait_registered(timeout=120)   # every contact listed and Avail, or SippError
    ...                                          # the deploy that verifies them
    phones.stop()                                # SIGTERM (then SIGKILL) to SIPp's PID
    print(phones.summary())

Scenarios: lab/sipp/register-csv.xml (REGISTER, 401, REGISTER with the digest, 200, then
it holds the call until stopped) and register-csv-ooc.xml (SIPp's out-of-call scenario: a
request that belongs to no call, i.e. Asterisk's qualify OPTIONS, gets 200 OK).
SIPp starts `rate` registrations a second (-r); each takes three messages on the PBX (the
401 challenge, the REGISTER with the digest, and the qualify OPTIONS Asterisk sends as soon
as the contact exists). Every contact is sip:<name>@<local_ip>:<port> (one socket for all).
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from roles.shared.pbxcli import parse_contacts

from ..lab import CHROOT_ENV, PBX_PHONE_IP, Lab
from ..sip import SIPP_DIR

SCENARIO = f"{SIPP_DIR}/register-csv.xml"
OUT_OF_CALL = f"{SIPP_DIR}/register-csv-ooc.xml"
INSIDE = "/tmp/televoc-bench"  # in the lab's chroot (removed with the lab)
PHONE_IP = "10.23.0.21"  # SIPp's address in the phone network (the event's network holds it)
PORT = 5070

# A row of SIPp's final scenario screen: "0 :    REGISTER ---------->   2000   0   0".
_SCREEN_ROW = re.compile(
    r"^\s*\d+\s*:\s+(?P<what>\S+)\s+(?:-+>|<-+)\s+(?P<messages>\d+)\s+(?P<retrans>\d+)\s+(?P<timeout>\d+)"
)


class SippError(RuntimeError):
    pass


def users_csv(accounts: Sequence[tuple[str, str]]) -> str:
    """SIPp's injection file: SEQUENTIAL, then one row per account, `name;password`."""
    for name, password in accounts:
        if ";" in name + password or "\n" in name + password:
            raise ValueError(f"{name}: a name or password with ';' or a line break cannot go into SIPp's CSV")
    return "SEQUENTIAL\n" + "".join(f"{name};{password}\n" for name, password in accounts)


def screen_totals(output: str) -> dict[str, int]:
    """Messages, retransmissions and timeouts of SIPp's last scenario screen (its output when
    it stops); empty when there is none."""
    last = output.rsplit("Scenario Screen", 1)
    if len(last) < 2:
        return {}
    totals: Counter[str] = Counter()
    for line in last[1].splitlines():
        match = _SCREEN_ROW.match(line)
        if match:
            totals["messages"] += int(match["messages"])
            totals["retransmissions"] += int(match["retrans"])
            totals["timeouts"] += int(match["timeout"])
    return dict(totals)


class SippPhones:
    def __init__(
        self,
        lab: Lab,
        accounts: Sequence[tuple[str, str]],
        rate: float,
        local_ip: str = PHONE_IP,
        port: int = PORT,
        out_of_call: str = OUT_OF_CALL,
        extra: Sequence[str] = (),
        name: str = "sipp-bench",
    ):
        """`out_of_call`: the scenario that answers requests of no call (qualify; a
        callee's INVITEs), `extra`: more SIPp arguments, `name`: its CSV and screen files."""
        self.lab, self.accounts, self.rate = lab, list(accounts), rate
        self.local_ip, self.port = local_ip, port
        self.out_of_call, self.extra, self.name = out_of_call, list(extra), name
        self.names = frozenset(name for name, _ in self.accounts)
        self.proc: subprocess.Popen | None = None
        self.out = lab.workdir / f"{name}.out"  # SIPp's screen (host side of the lab's workdir)
        self.last_statuses: Counter = Counter()

    @property
    def pbx(self) -> str:
        return "127.0.0.1:5060" if self.local_ip.startswith("127.") else f"{PBX_PHONE_IP}:5060"

    def start(self) -> None:
        """Write the CSV (0600, inside the lab) and start SIPp; from a 127.x address in the
        PBX's namespace, from any other in the phone network's (through the firewall)."""
        inside = Path(self.lab.root) / INSIDE.lstrip("/")
        inside.mkdir(parents=True, exist_ok=True)
        csv = inside / f"{self.name}.csv"
        csv.touch(mode=0o600)
        csv.write_text(users_csv(self.accounts))
        n = len(self.accounts)
        argv = [
            "sipp",
            self.pbx,
            "-sf",
            SCENARIO,
            "-oocsf",
            self.out_of_call,
            "-inf",
            f"{INSIDE}/{self.name}.csv",
            "-i",
            self.local_ip,
            "-p",
            str(self.port),
            "-m",
            str(n),
            "-l",
            str(n),
            "-r",
            f"{self.rate:g}",
            "-rp",
            "1000",
            "-nostdin",
            *self.extra,
        ]
        if self.local_ip.startswith("127."):
            command = self.lab._inside(argv)
        else:
            self.lab.phone_address(self.local_ip)
            command = self.lab.phone_command(argv)
        with open(self.out, "wb") as log:
            # `ip netns exec` and `chroot` exec: the PID is SIPp's own.
            self.proc = subprocess.Popen(
                command,
                env=CHROOT_ENV,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.lab._popens.append(self.proc)  # down() stops it if we do not get to stop()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def statuses(self, timeout: float = 30) -> Counter:
        """Status -> how many of our accounts have a contact in it (pjsip show contacts;
        subprocess.TimeoutExpired when Asterisk does not answer within `timeout`)."""
        command = f"asterisk -C /etc/asterisk/asterisk.conf -rx {shlex.quote('pjsip show contacts')}"
        contacts = parse_contacts(self.lab.run(command, check=False, timeout=timeout).stdout.splitlines())
        seen = {}
        for contact in contacts:
            if contact.aor in self.names:
                seen[contact.aor] = contact.status
        self.last_statuses = Counter(seen.values())
        return self.last_statuses

    def wait_registered(self, timeout: float, progress=print, step: float = 1.0, timeout_cli: float = 30) -> float:
        """Seconds until every account has a contact that is Avail (bounded in time and count);
        SippError when SIPp exits or time runs out."""
        started = time.monotonic()
        n, shown = len(self.accounts), -1
        for _ in range(int(timeout / step) + 2):
            if not self.running():
                raise SippError(f"SIPp exited ({self.proc.returncode if self.proc else '-'}): {self.tail()}")
            statuses = self.statuses(timeout=timeout_cli)
            elapsed = time.monotonic() - started
            listed = sum(statuses.values())
            if listed != shown and progress:
                progress(
                    f"    {elapsed:5.1f} s: {listed} of {n} contacts listed "
                    f"({', '.join(f'{s} {c}' for s, c in sorted(statuses.items())) or 'none'})"
                )
                shown = listed
            if statuses.get("Avail", 0) == n:
                return elapsed
            if elapsed > timeout:
                break
            time.sleep(step)
        raise SippError(f"after {timeout:.0f} s only {dict(self.last_statuses)} of {n} contacts; SIPp: {self.tail()}")

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM to SIPp's PID (it prints its final screen), SIGKILL after `timeout`."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def output(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def summary(self) -> dict[str, int]:
        return screen_totals(self.output())
