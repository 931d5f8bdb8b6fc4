"""SIP clients for the lab: SIPp for one-shot REGISTERs and calls, baresip for phones.

Everything runs inside the lab's network namespace with the chroot's binaries; the PBX
is 127.0.0.1:5060 there. Each client needs its own local SIP port.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from .machine import CHROOT_ENV, IP, LAB_DIR, PBX_PHONE_IP


class Lab(Protocol):
    """What a SIP client needs of a lab (lab.Lab is one)."""

    root: Path
    phones: list

    @property
    def netns(self) -> str: ...

    def exec(self, argv: list[str], check: bool = ..., timeout: float = ...) -> subprocess.CompletedProcess: ...

    def exec_phone(self, argv: list[str], check: bool = ..., timeout: float = ...) -> subprocess.CompletedProcess: ...

    def _inside(self, argv: list[str]) -> list[str]: ...


SIPP_DIR = "/usr/local/share/televoc-lab/sipp"  # inside the chroot (copied from lab/sipp)
PHONES_DIR = "/var/lib/televoc-lab/phones"  # inside the chroot (so under the lab's workdir)
PBX = "127.0.0.1:5060"


def register(
    lab: Lab,
    user: str,
    password: str,
    local_port: int,
    expires: int = 3600,
    timeout: float = 10,
    local_ip: str = "127.0.0.1",
    pbx: str | None = None,
) -> bool:
    """One REGISTER (expires 0: unregister) with digest auth; True if the PBX said 200.

    From a 127.x local_ip SIPp runs in the PBX's namespace (PBX 127.0.0.1:5060); from any
    other address it runs in the phone network's namespace (lab.phone_address(local_ip)
    first), to the PBX's address there (default PBX_PHONE_IP:5060), through its firewall.
    """
    from_phones = not local_ip.startswith("127.")
    if pbx is None:
        pbx = f"{PBX_PHONE_IP}:5060" if from_phones else PBX
    argv = [
        "sipp",
        pbx,
        "-sf",
        f"{SIPP_DIR}/register.xml",
        "-i",
        local_ip,
        "-p",
        str(local_port),
        "-m",
        "1",
        "-s",
        user,
        "-au",
        user,
        "-ap",
        password,
        "-key",
        "expires",
        str(expires),
        "-nostdin",
        "-timeout",
        f"{max(1, int(timeout))}s",
        "-timeout_error",
    ]
    run = lab.exec_phone if from_phones else lab.exec
    r = run(argv, check=False, timeout=timeout + 10)
    return r.returncode == 0


@dataclasses.dataclass
class CallResult:
    answered: bool  # 200 OK to the authenticated INVITE
    remote_bye: bool  # the far end hung up by itself
    rtp_packets_received: int  # RTP datagrams that reached the caller's media port
    returncode: int  # SIPp's exit code (0: the scenario ran to its end)
    output: str  # SIPp's output and the scenario's log lines


def call(
    lab: Lab,
    user: str,
    password: str,
    extension: str,
    local_port: int,
    hold_seconds: float = 2,
    expect_bye: bool = False,
    timeout: float = 20,
) -> CallResult:
    """Call `extension` as `user`; hang up after hold_seconds unless the far end does.

    With expect_bye the call waits (almost) `timeout` for the far end's BYE instead.
    """
    bye_wait = max(1.0, timeout - 3) if expect_bye else hold_seconds
    token = secrets.token_hex(4)
    tmp = lab.root / "tmp/televoc-lab"
    tmp.mkdir(parents=True, exist_ok=True)
    scenario = (LAB_DIR / "sipp/call.xml").read_text().replace("@BYE_WAIT_MS@", str(int(bye_wait * 1000)))
    (tmp / f"call-{token}.xml").write_text(scenario)
    log_in = f"/tmp/televoc-lab/call-{token}.log"
    # The RTP counter runs on the host's Python, inside the namespace.
    counter = subprocess.Popen(
        [IP, "netns", "exec", lab.netns, sys.executable, str(LAB_DIR / "rtpcount.py"), str(timeout + 10)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert counter.stdout is not None  # stdout=PIPE
    try:
        ready, _, _ = select.select([counter.stdout], [], [], 10)
        if not ready:
            raise RuntimeError("rtpcount.py did not start")
        rtp_port = int(counter.stdout.readline())
        argv = [
            "sipp",
            PBX,
            "-sf",
            f"/tmp/televoc-lab/call-{token}.xml",
            "-i",
            "127.0.0.1",
            "-p",
            str(local_port),
            "-m",
            "1",
            "-s",
            extension,
            "-au",
            user,
            "-ap",
            password,
            "-key",
            "caller",
            user,
            "-key",
            "rtp_port",
            str(rtp_port),
            "-nostdin",
            "-timeout",
            f"{max(1, int(timeout))}s",
            "-timeout_error",
            "-trace_logs",
            "-log_file",
            log_in,
        ]
        r = lab.exec(argv, check=False, timeout=timeout + 15)
    finally:
        try:  # communicate() closes the counter's stdin: it prints its count and exits
            out, _ = counter.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            counter.kill()
            out, _ = counter.communicate(timeout=5)
    words = out.split()  # the port line was read already: what is left is the count
    rtp = int(words[-1]) if words and words[-1].isdigit() else 0
    log_path = lab.root / log_in.lstrip("/")
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    for p in (log_path, tmp / f"call-{token}.xml"):
        p.unlink(missing_ok=True)
    return CallResult(
        answered="televoc-lab: answered" in log,
        remote_bye="televoc-lab: remote-bye" in log,
        rtp_packets_received=rtp,
        returncode=r.returncode,
        output=f"{r.stdout}\n{r.stderr}\n--- scenario log:\n{log}",
    )


BARESIP_CONFIG = """\
# televoc lab phone: no UI, no sound card, listens on 127.0.0.1:{port} only
poll_method		epoll
sip_listen		127.0.0.1:{port}
net_interface		127.0.0.1
call_max_calls		4
audio_player		aufile,/dev/null
audio_source		ausine,440
audio_alert		aufile,/dev/null
ausrc_srate		48000
auplay_srate		48000
audio_level		no
statmode_default	off
ringback_disabled	yes
rtp_ports		{rtp_lo}-{rtp_hi}
module_path		/usr/lib/baresip/modules
module			g711.so
module			gsm.so
module			ausine.so
module			aufile.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
"""


class Phone:
    """A long-running baresip registered as `user`; auto-answers calls and OPTIONS."""

    def __init__(self, lab: Lab, user: str, password: str, local_port: int, proc: subprocess.Popen, confdir: Path):
        self.lab, self.user, self.password, self.local_port = lab, user, password, local_port
        self.proc, self.confdir = proc, confdir
        self.log = confdir / "baresip.log"
        self.regint = 60

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    def start(cls, lab: Lab, user: str, password: str, local_port: int, regint: int = 60) -> Phone:
        inside = f"{PHONES_DIR}/{user}-{local_port}"
        confdir = lab.root / inside.lstrip("/")
        confdir.mkdir(parents=True, exist_ok=True)
        # 20 RTP ports per phone, derived from the SIP port (distinct for SIP ports that
        # lie within 2000 of each other).
        rtp_lo = 20000 + (local_port % 2000) * 20
        (confdir / "config").write_text(BARESIP_CONFIG.format(port=local_port, rtp_lo=rtp_lo, rtp_hi=rtp_lo + 19))
        (confdir / "accounts").write_text(f"<sip:{user}@{PBX}>;auth_pass={password};answermode=auto;regint={regint}\n")
        (confdir / "contacts").write_text("")
        log = open(confdir / "baresip.log", "ab")  # noqa: SIM115 (kept by the child)
        proc = subprocess.Popen(
            lab._inside(["baresip", "-f", inside]),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=CHROOT_ENV,
            start_new_session=True,
        )
        log.close()
        phone = cls(lab, user, password, local_port, proc, confdir)
        phone.regint = regint
        return phone

    def running(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def restart(self) -> None:
        """Stop and start again (same config): registers at once, e.g. after a PBX restart.

        baresip's first REGISTER retransmits for 32 s (so a PBX that comes up within that
        time sees it), then it waits about 30 s (randomised) before trying again.
        """
        self.stop()
        fresh = Phone.start(self.lab, self.user, self.password, self.local_port, self.regint)
        self.proc = fresh.proc
        if self not in self.lab.phones:
            self.lab.phones.append(self)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGINT (baresip unregisters and quits), then SIGKILL after `timeout`."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self in self.lab.phones:
            self.lab.phones.remove(self)
