"""The ceiling of one Asterisk (a measurement, not a test), against the lab:

    ./televoc bench ceiling            (or: python -m lab.bench ceiling [options])

1. Registrations with qualify, for each --phones size (a fresh lab, an event of that many
   plain phones deployed by the real pyinfra CLI): one SIPp in the phone network registers
   every phone at --rate a second and answers Asterisk's qualify OPTIONS (every 30 s per
   phone, televoc's qualify_frequency); then --hold seconds (at least one qualify round)
   with a sample every 5 s. Measured: the deploy (Asterisk boots with every endpoint), the
   time until every contact is Avail, how many stay Avail through the hold, Asterisk's CPU
   (percent of one core; only /proc is read while holding), threads, descriptors and
   memory, how many are Avail at the end, the UDP receive errors of the
   PBX's network namespace (a full socket buffer drops a datagram: RcvbufErrors), and
   SIPp's retransmissions and timeouts.
2. Concurrent calls with RTP, in one lab whose event has 2 x the largest step: the first
   half are callees (one SIPp registers them, answers each INVITE with SDP and echoes the
   RTP it gets, -rtp_echo), the second half callers (one SIPp per step places --calls
   calls at --call-rate a second, each streams G.711 at 50 packets a second for --call-hold
   seconds and hangs up). Each call is two channels bridged by Asterisk (direct_media=no),
   so Asterisk receives and sends 100 RTP packets a second per call. Measured per step,
   while every call of the step is up: channels, Asterisk's CPU, descriptors, threads, the
   UDP datagrams in and out against what the calls send, receive errors; then the calls
   that succeeded and failed (SIPp's statistics). The steps stop at the first that loses
   calls, or when Asterisk's CPU reaches --cpu-stop percent.

Every loop is bounded in count and time; all traffic stays in the lab's namespaces.
--nofile N puts a LimitNOFILE of the host's own (lib.mkForce in configuration.nix, as a
crew could) on the asterisk unit for the call steps: --nofile 1024 shows systemd's default.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import secrets
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..deploys import REPO, write_inventory
from ..lab import CHROOT_ENV, PBX_PHONE_IP, Lab
from ..sip import LAB_DIR, SIPP_DIR
from .runs import counted_pyinfra, report_dir_data
from .sipp_phones import INSIDE, SippError, SippPhones

ASTERISK_CLI = "asterisk -C /etc/asterisk/asterisk.conf"
DEFAULT_PHONES = [10000, 20000]
DEFAULT_CALLS = [100, 200, 400, 800]
SAMPLE_EVERY = 5.0
CLK_TCK = 100  # /proc/PID/stat's ticks a second (Linux on x86 and arm)
CALLEES_AT, CALLERS_AT = "10.23.0.22", "10.23.0.23"  # the SIPps in the phone network


def _say(text: str) -> None:
    print(text, flush=True)


def make_event(directory: Path, phones: int) -> Path:
    """An event of `phones` plain phones (no provisioning: Asterisk's load only), phone
    network 10.23.0.0/16 (the lab's SIPps are there), extensions 20000 on."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "event.yml").write_text(f"name: ceiling-{phones}\nnetwork: 10.23.0.0/16\npbx_address: 10.23.0.2\n")
    lines = [f"  - {{name: p{i:05d}, extension: {20000 + i}}}\n" for i in range(phones)]
    (directory / "phones.yml").write_text("phones:\n" + "".join(lines))
    secret = directory.parent / "event.secret"
    secret.touch(mode=0o600)
    secret.write_text(secrets.token_urlsafe(48) + "\n")
    return secret


def accounts(event: Path, secret: Path) -> list[tuple[str, str, str]]:
    """(name, password, extension) of every phone, as televoc derives them."""
    from roles.event import load_directory

    from .client import secret_env

    with secret_env(secret):
        directory = load_directory(event)
    return [(a.name, a.password, a.extension) for a in directory.accounts]


@dataclass
class Sample:
    at: float  # monotonic seconds
    cpu_ticks: int
    threads: int
    fds: int
    rss_mb: float
    udp: dict[str, int]
    nofile: int

    @staticmethod
    def parse(text: str, at: float) -> Sample:
        lines = text.splitlines()
        stat = lines[0]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)
        values = {k: v for k, _, v in (line.partition(":") for line in lines[1:]) if v}
        udp_names, udp_values = [line.split()[1:] for line in lines if line.startswith("Udp:")][:2]
        limit = re.search(r"Max open files\s+(\d+)", text)
        return Sample(
            at=at,
            cpu_ticks=ticks,
            threads=int(values.get("Threads", "0").strip()),
            fds=int(values.get("fds", "0").strip()),
            rss_mb=int(values.get("VmRSS", "0 kB").split()[0]) / 1024,
            udp=dict(zip(udp_names, map(int, udp_values), strict=True)),
            nofile=int(limit[1]) if limit else -1,
        )


SAMPLE_COMMAND = (
    "P=$(cat /run/televoc-lab/asterisk.pid); cat /proc/$P/stat; grep -E '^(Threads|VmRSS):' /proc/$P/status; "
    "echo fds: $(ls /proc/$P/fd | wc -l); grep '^Udp:' /proc/net/snmp; grep 'Max open files' /proc/$P/limits"
)


def sample(lab: Lab) -> Sample:
    """Asterisk's process and the PBX namespace's UDP counters, in one command."""
    return Sample.parse(lab.run(SAMPLE_COMMAND, timeout=30).stdout, time.monotonic())


def cpu_percent(first: Sample, last: Sample) -> float:
    """Asterisk's CPU between two samples, in percent of one core (200 = both cores)."""
    seconds = last.at - first.at
    return 100 * (last.cpu_ticks - first.cpu_ticks) / CLK_TCK / seconds if seconds > 0 else 0.0


def udp_delta(first: Sample, last: Sample, key: str) -> int:
    return last.udp.get(key, 0) - first.udp.get(key, 0)


@dataclass
class Registered:
    phones: int
    deploy_s: float
    deploy_code: int
    register_s: float | None = None
    avail_min: int = 0
    not_avail_max: int = 0
    cpu_register: float = 0.0
    cpu_hold: float = 0.0
    threads: int = 0
    fds: int = 0
    rss_mb: float = 0.0
    rcvbuf_errors: int = 0
    list_s: float = 0.0  # `pjsip show contacts` at the end (what televoc's verification reads)
    sipp: dict[str, int] = field(default_factory=dict)
    error: str = ""


def deploy(lab: Lab, work: Path, event: Path, secret: Path) -> tuple[int, float, str]:
    """The real pyinfra CLI: the first deploy, verification left to the bench."""
    inventory = write_inventory(work / "inventory.py", lab.pyinfra_host_data())
    data = ["--data", "televoc_verify=report", "--data", "televoc_register_wait=0"]
    data += report_dir_data(work)
    code, _, wall, output = counted_pyinfra(
        [str(inventory), "deploy.py", "-y", *data], event, secret, work / "deploy.counts.json", work / "deploy.log"
    )
    return code, wall, output


def fresh(work: Path) -> None:
    if (work / "lab" / "lab.json").exists():
        Lab.attach(work / "lab").down()
    if work.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False, timeout=120)
    work.mkdir(parents=True)


def registrations(phones: int, args, work: Path) -> Registered:
    fresh(work)
    event = work / "event"
    secret = make_event(event, phones)
    with Lab(work / "lab") as lab:
        _say(f"[{phones} phones] deploy (Asterisk boots with {phones} endpoints)")
        code, wall, _ = deploy(lab, work, event, secret)
        result = Registered(phones, wall, code)
        _say(f"    deploy {wall:.1f} s, exit {code}" + ("" if code == 0 else f" (output: {work / 'deploy.log'})"))
        if code != 0:
            result.error = "deploy failed"
            return result
        users = [(name, password) for name, password, _ in accounts(event, secret)]
        sipp = SippPhones(lab, users, rate=args.rate)
        start = sample(lab)
        _say(f"[{phones} phones] SIPp registers every phone at {args.rate:g}/s and answers qualify")
        sipp.start()
        try:
            try:
                # polled every 5 s: listing tens of thousands of contacts costs Asterisk CPU
                result.register_s = sipp.wait_registered(
                    3 * phones / args.rate + 60, progress=_progress(phones), step=5.0, timeout_cli=args.cli_timeout
                )
            except SippError as e:
                result.error = str(e).splitlines()[0]
                _say(f"    NOT all registered: {result.error}")
                return result
            except subprocess.TimeoutExpired as e:
                now = sample(lab)
                result.error = (
                    f"Asterisk did not answer 'pjsip show contacts' within {e.timeout:.0f} s "
                    f"(CPU {cpu_percent(start, now):.0f} % since SIPp started)"
                )
                _say(f"    {result.error}")
                return result
            registered = sample(lab)
            result.cpu_register = cpu_percent(start, registered)
            _say(f"    every contact Avail after {result.register_s:.1f} s (CPU {result.cpu_register:.0f} %)")
            # the hold: only /proc is read (asking Asterisk for 10,000 contacts costs it CPU);
            # the contacts once at the end (a contact that missed a qualify stays Unavail
            # until the next one answers)
            samples = [registered]
            deadline = time.monotonic() + args.hold
            for _ in range(int(args.hold / SAMPLE_EVERY) + 2):  # bounded in count and time
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(SAMPLE_EVERY, max(0.0, deadline - time.monotonic())))
                samples.append(sample(lab))
                _say(
                    f"    hold {samples[-1].at - registered.at:5.1f} s: CPU "
                    f"{cpu_percent(samples[-2], samples[-1]):.0f} %, RcvbufErrors "
                    f"{udp_delta(start, samples[-1], 'RcvbufErrors')}"
                )
            last = samples[-1]
            began = time.monotonic()
            statuses = sipp.statuses(timeout=args.cli_timeout)
            result.list_s = time.monotonic() - began
            result.avail_min = statuses.get("Avail", 0)
            result.not_avail_max = phones - result.avail_min
            _say(f"    after the hold: {dict(statuses)} of {phones}")
            result.cpu_hold = cpu_percent(registered, last)
            result.threads, result.fds, result.rss_mb = last.threads, last.fds, last.rss_mb
            result.rcvbuf_errors = udp_delta(start, last, "RcvbufErrors")
        finally:
            sipp.stop()
            result.sipp = sipp.summary()
    return result


def _progress(phones: int):
    shown = {"at": 0.0}

    def progress(text: str) -> None:  # at most every 5 s: a big event lists many lines
        now = time.monotonic()
        if now - shown["at"] >= 5 or "of 0 " in text:
            shown["at"] = now
            _say(text)

    return progress


@dataclass
class CallStep:
    calls: int
    channels: int = 0
    cpu: float = 0.0
    fds: int = 0
    threads: int = 0
    nofile: int = 0
    rtp_in: float = 0.0  # datagrams a second into the PBX's namespace while all calls were up
    rtp_out: float = 0.0
    rcvbuf_errors: int = 0
    succeeded: int = 0
    failed: int = 0
    log_errors: dict[str, int] = field(default_factory=dict)
    note: str = ""


def stat_totals(text: str) -> tuple[int, int]:
    """(successful, failed) calls from SIPp's -trace_stat CSV (its last row; cumulative)."""
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    if not rows:
        return 0, 0
    last = rows[-1]
    return int(last.get("SuccessfulCall(C)") or 0), int(last.get("FailedCall(C)") or 0)


LOG_SIGNS = {
    "too many open files": "Too many open files",
    "no rtp port": "No RTP ports remaining",
    "rtp instance failed": "Unable to create RTP instance",
}


LOG = "/var/log/asterisk/ceiling.log"  # a temporary logger channel (warnings, errors) of the bench


def log_errors(lab: Lab, since: int) -> tuple[dict[str, int], int]:
    """Counts of the signs of exhaustion in Asterisk's log written after byte `since`
    (televoc's logger.conf logs to syslog, which the lab does not have: the bench adds a
    file channel for its run, `logger add channel`)."""
    text = lab.run(f"tail -c +{since + 1} {LOG} 2>/dev/null || true", timeout=30).stdout
    size = since + len(text.encode())
    return {name: text.count(sign) for name, sign in LOG_SIGNS.items() if sign in text}, size


def calls(args, work: Path) -> list[CallStep]:
    steps = sorted(args.calls)
    largest = steps[-1]
    fresh(work)
    event = work / "event"
    secret = make_event(event, 2 * largest)
    steps_done: list[CallStep] = []
    with Lab(work / "lab") as lab:
        _say(f"[calls] deploy an event of {2 * largest} phones")
        code, wall, _ = deploy(lab, work, event, secret)
        _say(f"    deploy {wall:.1f} s, exit {code}")
        if code != 0:
            return steps_done
        if args.nofile:
            _limit_nofile(lab, args.nofile)
        phones = accounts(event, secret)
        callees, callers = phones[:largest], phones[largest:]
        inside = Path(lab.root) / INSIDE.lstrip("/")
        inside.mkdir(parents=True, exist_ok=True)
        (inside / "tone.ulaw").write_bytes(bytes([0xFF]) * 8000)  # a second of u-law silence
        answer = (LAB_DIR / "sipp" / "callee.xml").read_text()
        (inside / "answer.xml").write_text(answer.replace("@WAIT_MS@", "10").replace("@THEN@", "answer"))
        callee = SippPhones(
            lab,
            [(n, p) for n, p, _ in callees],
            rate=args.rate,
            local_ip=CALLEES_AT,
            port=5080,
            out_of_call=f"{INSIDE}/answer.xml",
            extra=["-rtp_echo", "-mp", "6000"],
            name="callees",
        )
        callee.start()
        try:
            callee.wait_registered(3 * largest / args.rate + 60, progress=None)
            _say(f"    {largest} callees registered (they answer and echo RTP)")
            lab.phone_address(CALLERS_AT)
            lab.run(f"{ASTERISK_CLI} -rx 'logger add channel {Path(LOG).name} warning,error'", timeout=30)
            log_at = log_errors(lab, 0)[1]
            for n in steps:  # bounded: the steps given
                step, log_at = call_step(lab, n, callers, callees, args, log_at)
                steps_done.append(step)
                _say(
                    f"    {n} calls: {step.succeeded} ok, {step.failed} failed; channels {step.channels}, CPU "
                    f"{step.cpu:.0f} %, fds {step.fds} of {step.nofile}, threads {step.threads}, UDP in "
                    f"{step.rtp_in:.0f}/s out {step.rtp_out:.0f}/s (calls send {100 * n}/s each way), rcvbuf "
                    f"errors {step.rcvbuf_errors} {step.log_errors or ''} {step.note}"
                )
                if step.failed or step.succeeded < n or step.cpu >= args.cpu_stop:
                    break
        finally:
            callee.stop()
    return steps_done


def _limit_nofile(lab: Lab, nofile: int) -> None:
    """The host's own override of televoc's LimitNOFILE (as a crew could write it), then
    Asterisk restarted with it (NixOS never restarts Asterisk on a switch)."""
    conf = lab.root / "etc/nixos/configuration.nix"
    text = conf.read_text()
    conf.write_text(
        text.replace(
            "  networking.hostName",
            f"  systemd.services.asterisk.serviceConfig.LimitNOFILE = lib.mkForce {nofile};\n  networking.hostName",
            1,
        )
    )
    lab.run("nixos-rebuild switch && systemctl restart asterisk", timeout=300)
    _say(f"    asterisk's LimitNOFILE forced to {nofile} by configuration.nix (Asterisk restarted)")


def channels(lab: Lab) -> int:
    """Asterisk's active channels (core show channels count), -1 when it does not say."""
    count = lab.run(f"{ASTERISK_CLI} -rx 'core show channels count'", timeout=30).stdout
    match = re.search(r"(\d+) active channels?", count)
    return int(match[1]) if match else -1


def call_step(lab: Lab, n: int, callers, callees, args, log_at: int) -> tuple[CallStep, int]:
    step = CallStep(n)
    rows = "".join(f"{name};{password};{callees[i][2]}\n" for i, (name, password, _) in enumerate(callers[:n]))
    inside = Path(lab.root) / INSIDE.lstrip("/")
    (inside / "callers.csv").write_text("SEQUENTIAL\n" + rows)
    stat = inside / f"calls-{n}.csv"
    stat.unlink(missing_ok=True)
    ramp = n / args.call_rate
    hold = ramp + args.call_hold
    argv = [
        "sipp",
        f"{PBX_PHONE_IP}:5060",
        "-sf",
        f"{SIPP_DIR}/call-rtp.xml",
        "-inf",
        f"{INSIDE}/callers.csv",
        "-i",
        CALLERS_AT,
        "-p",
        "5090",
        "-m",
        str(n),
        "-l",
        str(n),
        "-r",
        f"{args.call_rate:g}",
        "-d",
        str(int(hold * 1000)),
        "-min_rtp_port",
        "30000",
        "-max_rtp_port",
        "39999",
        "-trace_stat",
        "-stf",
        f"{INSIDE}/calls-{n}.csv",
        "-fd",
        "1",
        "-nostdin",
    ]
    out = open(lab.workdir / f"calls-{n}.out", "wb")  # noqa: SIM115 (closed below, after SIPp)
    proc = subprocess.Popen(
        lab.phone_command(argv), env=CHROOT_ENV, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
    )
    lab._popens.append(proc)
    try:
        # every call is up from `ramp` to `hold` seconds (later when SIPp cannot keep its
        # rate): wait until Asterisk has (nearly) every channel, bounded, then measure
        deadline = time.monotonic() + 2 * ramp + 30
        for _ in range(int(2 * ramp + 30) + 1):
            step.channels = channels(lab)
            if step.channels >= 2 * n * 0.99 or time.monotonic() >= deadline or proc.poll() is not None:
                break
            time.sleep(1)
        first = sample(lab)
        time.sleep(max(2.0, min(args.call_hold - 6, 20.0)))
        last = sample(lab)
        step.channels = min(step.channels, channels(lab))
        seconds = last.at - first.at
        step.cpu = cpu_percent(first, last)
        step.fds, step.threads, step.nofile = last.fds, last.threads, last.nofile
        step.rtp_in = udp_delta(first, last, "InDatagrams") / seconds
        step.rtp_out = udp_delta(first, last, "OutDatagrams") / seconds
        step.rcvbuf_errors = udp_delta(first, last, "RcvbufErrors")
        try:
            proc.wait(timeout=hold + 60)  # bounded: SIPp ends once its calls hung up
        except subprocess.TimeoutExpired:
            step.note = "SIPp did not finish in time: stopped"
            proc.terminate()
            proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        out.close()
    step.succeeded, step.failed = stat_totals(stat.read_text() if stat.exists() else "")
    step.log_errors, log_at = log_errors(lab, log_at)
    return step, log_at


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.bench ceiling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, nargs="*", default=DEFAULT_PHONES, help="registration sizes")
    parser.add_argument("--rate", type=float, default=500, help="SIPp registrations a second")
    parser.add_argument("--hold", type=float, default=40, help="seconds registered (qualify every 30 s)")
    parser.add_argument("--cli-timeout", type=float, default=120, help="seconds Asterisk may take to list the contacts")
    parser.add_argument("--calls", type=int, nargs="*", default=DEFAULT_CALLS, help="concurrent call steps")
    parser.add_argument("--call-rate", type=float, default=40, help="new calls a second")
    parser.add_argument("--call-hold", type=float, default=20, help="seconds every call of a step is up")
    parser.add_argument("--cpu-stop", type=float, default=180, help="stop the steps at this CPU (percent of a core)")
    parser.add_argument("--nofile", type=int, default=0, help="force the asterisk unit's LimitNOFILE (calls)")
    parser.add_argument("--workdir", default=str(REPO / ".lab" / "ceiling"))
    args = parser.parse_args(argv)
    began = time.monotonic()
    _say(f"ceiling of one Asterisk, {time.strftime('%Y-%m-%d %H:%M %Z')}: {shlex.join(['ceiling', *(argv or [])])}")
    regs = []
    for phones in args.phones:  # bounded: the sizes given
        try:
            regs.append(registrations(phones, args, Path(args.workdir) / f"phones-{phones}"))
        except Exception as e:  # noqa: BLE001 (one size failing does not hide the others)
            _say(f"[{phones} phones] FAILED: {type(e).__name__}: {e}")
            regs.append(Registered(phones, 0.0, -1, error=f"{type(e).__name__}: {str(e)[:200]}"))
    steps: list[CallStep] = []
    if args.calls:
        try:
            steps = calls(args, Path(args.workdir) / "calls")
        except Exception as e:  # noqa: BLE001
            _say(f"[calls] FAILED: {type(e).__name__}: {e}")

    _say(
        "\nphones  deploy  all Avail after  Avail end  CPU reg/hold  threads   fds  RSS MB  rcvbuf err"
        "  SIPp retr/timeouts  list contacts"
    )
    for r in regs:
        after = f"{r.register_s:.1f} s" if r.register_s is not None else "NOT ALL"
        _say(
            f"{r.phones:>6}  {r.deploy_s:5.0f} s  {after:>15}  {r.avail_min:>9}  {r.cpu_register:4.0f} / "
            f"{r.cpu_hold:3.0f} %  {r.threads:>7}  {r.fds:>4}  {r.rss_mb:6.0f}  {r.rcvbuf_errors:>10}  "
            f"{r.sipp.get('retransmissions', 0)} / {r.sipp.get('timeouts', 0)}  {r.list_s:.1f} s"
            + (f"  {r.error}" if r.error else "")
        )
    if steps:
        _say("\ncalls  ok     failed  channels  CPU    fds (limit)     threads  UDP in/s  out/s  (sent/s)  rcvbuf err")
        for s in steps:
            _say(
                f"{s.calls:>5}  {s.succeeded:>5}  {s.failed:>6}  {s.channels:>8}  {s.cpu:4.0f} %  "
                f"{s.fds:>5} ({s.nofile:>6})  {s.threads:>7}  {s.rtp_in:8.0f}  {s.rtp_out:5.0f}  "
                f"({100 * s.calls:>6})  {s.rcvbuf_errors:>10}"
                + (f"  {s.log_errors}" if s.log_errors else "")
                + (f"  {s.note}" if s.note else "")
            )
    _say(f"\nceiling bench took {time.monotonic() - began:.0f} s")
    # calls that fail at the top step are the finding, not a fault: exit 1 only when a
    # deploy failed (nothing was measured there)
    return 0 if all(r.deploy_code == 0 for r in regs) and (steps or not args.calls) else 1
