"""The bench's self-service case: N participants' claims on the lab's PBX (issue #18).

    python -m lab.bench --claims 3000 --claims-phones 2000     (part of ./televoc bench)

One lab, an event of `phones` provisioned snoms with a `self_service:` block, in this order:

1. the first deploy (it makes the database), then the no-change rerun and pyinfra's floor,
   taking turns (--reruns), and a deploy that changes everything (the SIP realm and every
   phone's settings: NixOS switches, Asterisk reloads, every provisioning file is published
   and every phone told): all of it with no claim;
2. `claims` claims through the PBX's own command (`televoc-claims claim-many`, one JSON line
   per claim on stdin, each committed on its own and answered as soon as it is); a sample
   spread over the range (--claims-sample) registers with SIPp from the phone network right
   after its claim (the time from the commit, on the same clock, must stay under 2 s);
   Asterisk's last reload, read before and after (`core show uptime seconds`), must have
   kept counting: no reload;
3. the same rerun, floor and change deploy (back to the first settings) with every claim
   held (the sampled ones registered); the deploys must keep every claim.

Not here: one SIPp registering every claimed number at once. Tried at 250/s, 3,000 claims:
Asterisk listed 1,532 contacts after 7 s and no more in a minute, most of them NonQual (the
realtime aors' contacts are not qualified); a finding for the capacity work, not a cost
of a deploy.

The ratios that answer "a deploy with 3,000 claims as fast as without them" are the with-
over the without-claims run of each kind, from the same lab in the same bench run.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roles.shared import names

from ..lab import CHROOT_ENV, Lab
from .runs import counted_pyinfra, floor_run

ASTERISK_CLI = "asterisk -C /etc/asterisk/asterisk.conf"
CLAIMABLE = (50000, 59999)  # 5 digits: no bench phone (2000 + i) or group (90000 + g) is in it
TEMPORARY = (60000, 60999)
SAMPLE_IP, SAMPLE_PORT = "10.23.0.22", 5080  # the sampled registrations, in the phone network
ROWS = "/tmp/televoc-bench/claims.jsonl"  # in the lab's chroot (removed with the lab)
WITHIN = 2.0  # seconds from a claim's commit to its registration


def self_service_block(info_desk: str) -> str:
    return (
        "self_service:\n"
        f"  claimable: {{first: {CLAIMABLE[0]}, last: {CLAIMABLE[1]}}}\n"
        f"  temporary: {{first: {TEMPORARY[0]}, last: {TEMPORARY[1]}}}\n"
        f"  info_desk: {info_desk}\n"
    )


def changed_settings(changed: bool) -> str:
    """event.yml's lines that the change deploy toggles: the SIP realm (pjsip.conf: NixOS
    switches, Asterisk reloads) and the phones' keepalive (every provisioning file)."""
    return "sip: {realm: bench-b}\nprovisioning: {keepalive_interval: 31}\n" if changed else ""


def since_last_reload(text: str) -> int | None:
    """Seconds since Asterisk's last reload, from `core show uptime seconds` (None: the line
    is not there, e.g. Asterisk did not answer)."""
    match = re.search(r"^Last reload: (\d+)\s*$", text, re.M)
    return int(match[1]) if match else None


def claim_rows(count: int) -> list[dict]:
    """`count` claims spread over the claimable range, each with a name."""
    step = max(1, (CLAIMABLE[1] - CLAIMABLE[0] + 1) // count)
    return [{"number": str(CLAIMABLE[0] + i * step), "name": f"Participant {i}"} for i in range(count)]


def sampled(count: int, samples: int) -> set[int]:
    """The indexes of `samples` claims spread evenly over `count`, the first and last included."""
    if samples <= 0 or count <= 0:
        return set()
    if samples >= count:
        return set(range(count))
    return {round(i * (count - 1) / (samples - 1)) for i in range(samples)} if samples > 1 else {0}


@dataclass
class Claimed:
    """What making the claims measured."""

    given: list[dict] = field(default_factory=list)  # the tool's answers, in order
    latencies: list[tuple[str, float | None]] = field(default_factory=list)  # sampled: seconds to register
    wall: float = 0.0  # all claims, from the first row sent to the tool's exit
    code: int | None = None
    stderr: str = ""
    reload_before: int | None = None
    reload_after: int | None = None

    @property
    def refused(self) -> list[dict]:
        return [g for g in self.given if "refused" in g]

    @property
    def late(self) -> list[tuple[str, float | None]]:
        return [(n, s) for n, s in self.latencies if s is None or s >= WITHIN]

    def no_reload(self) -> bool:
        """Asterisk's time since its last reload went on counting through the claims."""
        if self.reload_before is None or self.reload_after is None:
            return False
        return self.reload_after >= self.reload_before + int(self.wall)


def make_claims(lab: Lab, count: int, samples: int, say: Callable[[str], None]) -> Claimed:
    """`count` claims through `televoc-claims claim-many`, streamed: each sampled claim is
    registered (SIPp, from the phone network) as soon as the tool says it is committed, and
    again every 0.1 s until it is, for at most WITHIN seconds from its commit."""
    result = Claimed(reload_before=since_last_reload(lab.asterisk("core show uptime seconds")))
    rows = claim_rows(count)
    chosen = sampled(count, samples)
    lab.phone_address(SAMPLE_IP)
    # The rows go in as a file (no secret in them: the tool makes each password), so that
    # the tool never waits on a full pipe while this reads its answers.
    rows_file = Path(lab.root) / ROWS.lstrip("/")
    rows_file.parent.mkdir(parents=True, exist_ok=True)
    rows_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    started = time.monotonic()
    proc = subprocess.Popen(
        lab._inside(["/bin/sh", "-c", f"exec {names.SELFSERVICE_TOOL} claim-many < {ROWS}"]),
        env=CHROOT_ENV,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    # bounded in time too: the tool is killed (its answers end) after a generous 0.2 s a claim
    watchdog = threading.Timer(60 + 0.2 * count, proc.kill)
    watchdog.start()
    for i in range(count):  # bounded: one answer per row
        line = proc.stdout.readline()
        if not line:
            break
        given = json.loads(line)
        result.given.append(given)
        if i in chosen and "refused" not in given:
            result.latencies.append((given["number"], _registered_after(lab, given)))
        if (i + 1) % 500 == 0:
            say(f"    {i + 1} claims after {time.monotonic() - started:.1f} s")
    proc.stdout.read()  # nothing more once every row is answered; EOF when the tool ends
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    watchdog.cancel()
    result.stderr = proc.stderr.read() if proc.stderr else ""
    result.code = proc.returncode
    result.wall = time.monotonic() - started
    result.reload_after = since_last_reload(lab.asterisk("core show uptime seconds"))
    return result


def _registered_after(lab: Lab, given: dict) -> float | None:
    """Seconds from the claim's commit (the tool's `committed`, this machine's clock: the lab
    shares its kernel) to a 200 for its REGISTER; None when none came within WITHIN."""
    committed = float(given["committed"])
    for _ in range(int(WITHIN / 0.1) + 1):  # bounded in count and, below, in time
        left = committed + WITHIN - time.time()
        if left <= 0:
            return None
        ok = lab.register(
            given["number"], given["sip_password"], SAMPLE_PORT, expires=600, timeout=left, local_ip=SAMPLE_IP
        )
        if ok:
            took = time.time() - committed
            return took if took < WITHIN else None
        time.sleep(0.1)
    return None


@dataclass
class Case:
    """The claims case's runs (bench Runs) by name, its floors, what the claims measured."""

    phones: int
    claims: int
    runs: dict = field(default_factory=dict)
    floors: dict[str, float] = field(default_factory=dict)  # "without" / "with": the fastest floor
    claimed: Claimed | None = None
    checks: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


FIRST, RERUN, CHANGE = "first deploy", "no-change rerun", "change deploy"


def bench(phones: int, count: int, args, work: Path, *, make_event, run_type, extra) -> Case:
    """The case above, in a fresh lab under `work`; the bench's own helpers are given (its
    event, its Run, the report directory's --data)."""
    import shutil

    case = Case(phones, count)
    if work.exists():
        if (work / "lab" / "lab.json").exists():
            Lab.attach(work / "lab").down()
        shutil.rmtree(work)
    work.mkdir(parents=True)
    event = work / "event"
    secret = make_event(event, phones)
    base = (event / "event.yml").read_text() + self_service_block("phone0000")
    (event / "event.yml").write_text(base)
    report = ["--data", "televoc_verify=report", "--data", "televoc_register_wait=0"]
    lab = Lab(work / "lab")
    lab.up()
    try:
        from lab.deploys import write_inventory

        inventory = write_inventory(work / "inventory.py", lab.pyinfra_host_data())

        def deploy(name: str) -> Any:
            log = work / f"{name.replace(' ', '-').replace(',', '')}.log"
            code, counts, wall, output = counted_pyinfra(
                [str(inventory), "deploy.py", "-y", *report, *extra],
                event,
                secret,
                log.with_suffix(".counts.json"),
                log,
            )
            run = run_type(phones, name, code, wall, counts, output)
            print(
                f"    {name:<26} {run.commands:>3} remote commands {run.uploads:>2} uploads {wall:7.1f} s  exit {code}"
                + ("" if code == 0 else f"  (output: {log})"),
                flush=True,
            )
            case.checks.append((f"{name} exits 0", code == 0))
            return run

        def floor() -> float:
            code, _, wall = floor_run(inventory, event, secret, work)
            print(f"    pyinfra's floor            {wall:7.1f} s  exit {code}", flush=True)
            case.checks.append(("pyinfra exec -- true", code == 0))
            return wall

        def turns(suffix: str) -> None:
            """The no-change rerun and the floor, taking turns: the fastest of each."""
            reruns, floors = [], []
            for _ in range(max(1, args.reruns)):
                floors.append(floor())
                reruns.append(deploy(RERUN + suffix))
            case.runs[RERUN + suffix] = min(reruns, key=lambda r: (r.code != 0, r.wall))
            case.floors["with" if suffix else "without"] = min(floors)
            said = [r.commands for r in reruns]
            case.checks.append((f"every {RERUN + suffix} sends one remote command ({said})", set(said) == {1}))

        def change(to_b: bool, suffix: str) -> None:
            (event / "event.yml").write_text(base + changed_settings(to_b))
            run = deploy(CHANGE + suffix)
            case.runs[CHANGE + suffix] = run
            switched = "nixos-rebuild" in " ".join(t["command"] for t in run.counts.get("timings", []))
            reloaded = "core reload" in " ".join(t["command"] for t in run.counts.get("timings", []))
            case.checks.append((f"the {CHANGE + suffix} switches NixOS and reloads Asterisk", switched and reloaded))

        print(f"[claims: {phones} phones] first deploy, reruns and a change deploy, no claim", flush=True)
        case.runs[FIRST] = deploy(FIRST)
        turns("")
        change(True, "")

        print(f"[claims: {phones} phones] {count} claims (televoc-claims claim-many), {args.claims_sample} sampled")
        claimed = case.claimed = make_claims(lab, count, args.claims_sample, lambda s: print(s, flush=True))
        ok = [g for g in claimed.given if "refused" not in g]
        late = claimed.late
        fastest = min((s for _, s in claimed.latencies if s is not None), default=float("nan"))
        slowest = max((s for _, s in claimed.latencies if s is not None), default=float("nan"))
        print(
            f"    {len(ok)} claimed in {claimed.wall:.1f} s (exit {claimed.code}); {len(claimed.latencies)} sampled "
            f"registered {fastest:.2f} to {slowest:.2f} s after their commit, {len(late)} not within {WITHIN:g} s; "
            f"since Asterisk's last reload: {claimed.reload_before} s before, {claimed.reload_after} s after",
            flush=True,
        )
        case.checks += [
            (
                f"{count} claims made, none refused (claim-many exit {claimed.code})",
                len(ok) == count and claimed.code == 0,
            ),
            (
                f"each of {len(claimed.latencies)} sampled claims registers within {WITHIN:g} s of its commit",
                len(claimed.latencies) == min(args.claims_sample, count) and not late,
            ),
            (
                f"no reload while claiming (last reload {claimed.reload_before} s ago before, "
                f"{claimed.reload_after} s after {claimed.wall:.0f} s)",
                claimed.no_reload(),
            ),
        ]
        case.notes.append(
            f"{count} claims through claim-many in {claimed.wall:.1f} s ({count / claimed.wall:.0f}/s: scrypt of each "
            f"release secret); sampled registrations {fastest:.2f} to {slowest:.2f} s after the commit"
        )
        print(f"[claims: {phones} phones] reruns and a change deploy with {count} claims held")
        turns(", claims")
        change(False, ", claims")
        read = lab.run(f"{names.SELFSERVICE_TOOL} read", check=False).stdout
        held = len(json.loads(read).get("claims", [])) if read.strip().startswith("{") else -1
        case.checks.append((f"the deploys kept every claim ({held} of {count})", held == count))
        said = re.search(
            r"claimed numbers \(self-service database, not waited for\): (\d+) registered",
            case.runs[CHANGE + ", claims"].output,
        )
        sampled_ok = len(claimed.latencies) - len(late)
        case.checks.append(
            (
                f"the change deploy with claims reports the {sampled_ok} sampled claims registered "
                f"(it says {said[1] if said else 'nothing'})",
                said is not None and int(said[1]) == sampled_ok,
            )
        )
    finally:
        lab.down()
    for name, run in case.runs.items():
        run.floor = case.floors.get("with" if name.endswith(", claims") else "without")
    return case


def table(case: Case) -> list[str]:
    """The case's rows: each run, its floor and ratio, and for a run with claims, its wall and
    its wall/floor over the same run's without claims."""
    rows = [
        f"{'run':<28} {'remote commands':>15} {'uploads':>7} {'remote':>7} {'client CPU':>10} {'wall':>7} "
        f"{'floor':>7} {'wall/floor':>10} {'with/without':>12} {'(of wall/floor)':>15}"
    ]
    for name, run in case.runs.items():
        plain = case.runs.get(name.removesuffix(", claims")) if name.endswith(", claims") else None
        ratio = run.wall / run.floor if run.floor else float("nan")
        versus = f"{run.wall / plain.wall:12.2f} {ratio / (plain.wall / plain.floor):15.2f}" if plain else ""
        floor = f"{run.floor:5.1f} s" if run.floor else f"{'-':>7}"
        remote, cpu = run.counts.get("remote_seconds", 0), run.counts.get("client_cpu_seconds", 0)
        rows.append(
            f"{name:<28} {run.commands:>15} {run.uploads:>7} {remote:5.2f} s {cpu:8.2f} s "
            f"{run.wall:5.1f} s {floor} {ratio:10.2f} {versus}".rstrip()
        )
    return rows
