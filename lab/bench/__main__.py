"""Benchmark (not a test): what a deploy costs as the event grows, against the lab.

    ./televoc bench            (or: python -m lab.bench [--phones 10 100 2000 10000])
    ./televoc bench ceiling    what one Asterisk takes: phones with qualify, calls with RTP
                               (lab/bench/ceiling.py; docs/capacity.md)

For each size (every phone a provisioned snom: its settings file is published and it is told
to resync), in one run, so that sizes compare as ratios on a noisy machine:
- the first deploy, a no-change rerun and a rerun that adds one phone (the real pyinfra CLI
  over SSH, a fresh lab per size): remote commands and uploads (lab/bench/pyinfra_counted.py),
  wall time, exit code;
- pyinfra's floor: `pyinfra INVENTORY exec -- true` against the same lab with the same
  group_data (it loads and validates the same directory), and each run's wall time over it;
  with --reruns N, the no-change rerun and the floor N times each, taking turns, and the
  fastest of each (what other work on a busy machine adds to a run is never negative);
- the client side alone, in this process without a host (CPU seconds, lab/bench/client.py):
  validate, render, and verify (parse Asterisk 22's answer for N registered phones, judge,
  tabulate; the text from lab/bench/asterisk_text.py);
- at the --passwords size (default: the largest), load+validate+render in a fresh process
  each (lab/bench/passwords.py, wall seconds): the event as benched (passwords derived from
  the event secret), then the same event with a password the crew wrote on every phone
  (judged by zxcvbn) with an empty record of passwords judged strong, and again with the
  record that run left (roles/event/strength_record.py); each against the derived one and
  pyinfra's floor of that size.

At the --registered sizes (10 and 2000) the phones are really registered during the rerun:
one SIPp in the lab's phone network registers every account from a CSV file and answers
Asterisk's qualify (lab/bench/sipp_phones.py, lab/sipp/register-csv*.xml); the rerun
is strict (televoc_verify=strict) and must say that all N phones are registered. There the
lab's own AsteriskState answer is also compared with the synthetic text, byte for byte.
Elsewhere no phone registers and the runs are televoc_verify=report without waiting: the
verification still reads Asterisk's state once, in one remote command for all phones.

Exits 1 when a run or a check fails, or when the command count is not flat across sizes (a bounded
wait's repeated reads, e.g. for fail2ban's jails after a switch, counted once).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..deploys import REPO, write_inventory
from ..lab import Lab
from .runs import bench_env, counted_pyinfra, floor_run, report_dir_data

if TYPE_CHECKING:
    from .client import ClientTimings

DEFAULT_SIZES = [10, 100, 2000, 10000]
DEFAULT_REGISTERED = [10, 2000]
# SIPp's registrations a second. In the lab (2 cores) Asterisk answered 2000 phones without a
# single retransmission at up to 2000/s (10000/s: 25 retransmissions; unpaced: every
# REGISTER retransmitted once); 250/s keeps a wide margin and takes 8 s for 2000 phones.
REGISTER_RATE = 250
ASTERISK_CLI = "asterisk -C /etc/asterisk/asterisk.conf"


# Words a crew puts into the passwords it writes (crew_password).
_CREW_WORDS = (
    "kaffee tasse saal buehne licht kabel mikro lautsprecher podium vortrag pause ticket garderobe "
    "einlass tresen beamer leinwand stecker akku funk kamera regie pult fenster treppe keller "
    "dach hof zelt bank tisch stuhl"
).split()


def crew_password(i: int) -> str:
    """The password a crew might write for phone `i`: three words, a number and a sign, each
    phone its own (the same for the same `i`), every one strong enough for televoc."""
    rng = random.Random(f"televoc-bench-{i}")
    a, b, c = rng.sample(_CREW_WORDS, 3)
    return f"{a.capitalize()}-{b}{rng.randint(10, 99)}-{c}{rng.choice('!?#%+')}{rng.randint(100, 999)}"


ADDED = "infodesk"  # the phone add_phone adds


def add_phone(directory: Path, phones: int) -> None:
    """One provisioned snom more in make_event's event of `phones` phones (extension 2000 +
    `phones`, a MAC none of the others has)."""
    with (directory / "phones.yml").open("a") as f:
        f.write(f"  - {{name: {ADDED}, extension: {2000 + phones}, mac: '0004130FFFFF', model: snom320}}\n")


def make_event(directory: Path, phones: int, written: bool = False) -> Path:
    """An event of `phones` provisioned snoms; its phone network holds the lab's (where SIPp
    registers from: accounts work only from `network`), the PBX is the lab's address there.
    Routing as a big event has it: one group per 20 phones (500 at 10,000), each ringing 8
    phones (3 of them after 5 s and 10 s) and every tenth group nesting the one before it;
    every 10th phone forwards on no answer to its group, every 50th is busy-forwarded, phones
    pair up in pickup groups of 4. `written`: every phone has a password the crew wrote
    (crew_password), which televoc judges, instead of one derived from the event secret."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "event.yml").write_text(f"name: bench-{phones}\nnetwork: 10.23.0.0/16\npbx_address: 10.23.0.2\n")
    lines = ["phones:"]  # every phone a provisioned snom: the heaviest path
    lines += [
        f"  - {{name: phone{i:04d}, extension: {2000 + i}, mac: '000413{i:06X}', model: snom320"
        + (f", password: '{crew_password(i)}'" if written else "")
        + (
            f", forward: {{no_answer: group{i // 20:03d}, no_answer_after: 10}}"
            if i % 10 == 1 and i // 20 * 20 + 8 <= i
            else ""
        )
        + (f", forward: {{busy: phone{(i + 1) % phones:04d}}}" if i % 50 == 7 and phones > 1 else "")
        + (f", pickup: p{i // 4}" if phones - phones % 4 > i else "")
        + "}"
        for i in range(phones)
    ]
    (directory / "phones.yml").write_text("\n".join(lines) + "\n")
    groups = ["groups:"]
    for g in range(phones // 20):
        first = g * 20
        members = [f"phone{first + j:04d}" for j in range(5)]
        members += [f"{{name: phone{first + j:04d}, delay: {5 if j < 7 else 10}}}" for j in range(5, 8)]
        if g % 10 == 9:
            members.append(f"{{name: group{g - 1:03d}, delay: 5}}")
        groups.append(f"  - {{name: group{g:03d}, number: {90000 + g}, timeout: 30, members: [{', '.join(members)}]}}")
    (directory / "groups.yml").write_text("\n".join(groups) + "\n")
    secret = directory.parent / "event.secret"
    secret.touch(mode=0o600)  # televoc refuses a secret others can read
    secret.write_text(secrets.token_urlsafe(48) + "\n")
    return secret


@dataclass
class Run:
    phones: int
    name: str
    code: int
    wall: float
    counts: dict
    output: str
    registered: bool = False
    floor: float | None = None

    @property
    def commands(self) -> int:
        return self.counts.get("remote_commands", -1)

    @property
    def uploads(self) -> int:
        return self.counts.get("uploads", -1)

    @property
    def steps(self) -> int:
        """Remote commands with a bounded wait's repeated reads counted once (the same command
        again right after itself: how often a wait reads depends on timing, not on the phones;
        a command per phone would differ in its text)."""
        sent = [t["command"] for t in self.counts.get("timings", [])]
        return sum(1 for i, command in enumerate(sent) if i == 0 or command != sent[i - 1]) if sent else -1


def _say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Load:
    """One load+validate+render in a fresh process (lab/bench/passwords.py)."""

    name: str
    wall: float  # the process, from its start to its exit
    code: int
    data: dict  # what it printed: its parts, how many passwords zxcvbn judged


@dataclass
class Size:
    phones: int
    runs: list[Run] = field(default_factory=list)
    client: ClientTimings | None = None
    loads: list[Load] = field(default_factory=list)
    floor: float | None = None
    checks: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


DERIVED = "derived from the event secret"
COLD = "crew-written, empty record"
WARM = "crew-written, record present"


def load_once(name: str, event: Path, secret: Path) -> Load:
    """python -m lab.bench.passwords EVENT in a fresh process, from the repository root; what
    it says on stderr goes to a log beside the event, never to the screen."""
    log = event.parent / f"load-{name.split(',')[-1].strip().replace(' ', '-')}.log"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lab.bench.passwords", str(event)],
        cwd=REPO,
        env=bench_env(event, secret),
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    wall = time.monotonic() - started
    log.write_text(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    data = json.loads(lines[-1]) if proc.returncode == 0 and lines else {}
    load = Load(name, wall, proc.returncode, data)
    _say(
        f"    {name:<30} {wall:6.2f} s  judged {data.get('judged', '-'):>5}  exit {proc.returncode}"
        + ("" if proc.returncode == 0 else f"  (stderr: {log})")
    )
    return load


def _fastest(loads: list[Load]) -> Load:
    return min(loads, key=lambda x: (x.code != 0, x.wall))


def bench_loads(phones: int, event: Path, secret: Path, work: Path, result: Size, repeats: int) -> None:
    """Load+validate+render of `phones` phones with passwords written by the crew, with an
    empty record (once), then with the record that run left, taking turns with the event as
    benched (passwords derived from the event secret) so that both see the same load of this
    shared machine; those two are the fastest of `repeats` processes each."""
    from roles.event.strength_record import HEADER, record_path

    written = work / "written" / "event"
    written_secret = make_event(written, phones, written=True)
    record = written_secret.parent / "cache" / "televoc" / record_path(f"bench-{phones}").name
    _say(f"[{phones} phones] load+validate+render, a fresh process each (lab/bench/passwords.py)")
    empty = not record.exists()
    cold = load_once(COLD, written, written_secret)
    derived, warms = [], []
    for _ in range(repeats):
        derived.append(load_once(DERIVED, event, secret))
        warms.append(load_once(WARM, written, written_secret))
    result.loads += [_fastest(derived), cold, _fastest(warms)]
    lines = record.read_text().split("\n") if record.exists() else []
    result.checks += [
        (f"every load exits 0 ({2 * repeats + 1} loads)", all(x.code == 0 for x in [*derived, cold, *warms])),
        (
            f"the first crew-written load starts without a record and judges all {phones}",
            empty and cold.data.get("judged") == phones,
        ),
        (
            f"each of the {repeats} later ones judges none and does not import zxcvbn",
            all(x.data.get("judged") == 0 and x.data.get("zxcvbn_imported") is False for x in warms),
        ),
        (
            f"the record: mode 0600, {phones} entries of 64 hex digits, no password",
            record.exists()
            and (record.stat().st_mode & 0o777) == 0o600
            and lines[0] == HEADER
            and len(lines) == phones + 2
            and all(re.fullmatch("[0-9a-f]{64}", x) for x in lines[1:-1]),
        ),
    ]


def bench_size(phones: int, args, work: Path) -> Size:
    from . import client
    from .asterisk_text import rendered_like
    from .sipp_phones import SippError, SippPhones

    result = Size(phones)
    if work.exists():
        lab_dir = work / "lab"
        if (lab_dir / "lab.json").exists():
            Lab.attach(lab_dir).down()
        shutil.rmtree(work)
    work.mkdir(parents=True)
    event = work / "event"
    secret = make_event(event, phones)
    registered = phones in args.registered

    _say(f"[{phones} phones] client side (validate, render, verify; CPU s, best of {args.repeats})")
    result.client = client.measure(event, secret, repeats=args.repeats)
    c = result.client
    _say(f"    validate {c.validate:.4f}  render {c.render:.4f}  verify {c.verify:.4f}")
    if phones == args.passwords:
        bench_loads(phones, event, secret, work, result, args.repeats)

    lab = Lab(work / "lab")
    lab.up()
    phones_up = None
    try:
        inventory = write_inventory(work / "inventory.py", lab.pyinfra_host_data())
        extra = report_dir_data(work)
        report = ["--data", "televoc_verify=report", "--data", "televoc_register_wait=0"]

        def deploy(name: str, data: list[str], strict: bool = False) -> Run:
            log = work / f"{name.replace(' ', '-')}.log"
            code, counts, wall, output = counted_pyinfra(
                [str(inventory), "deploy.py", "-y", *data, *extra], event, secret, log.with_suffix(".counts.json"), log
            )
            run = Run(phones, name, code, wall, counts, output, registered=strict)
            _say(
                f"    {name:<16} {run.commands:>3} remote commands {run.uploads:>2} uploads "
                f"{wall:7.1f} s  exit {code}" + ("" if code == 0 else f"  (output: {log})")
            )
            if args.show_commands:
                _say(
                    "\n".join(
                        f"        {t.get('seconds') or 0:6.3f} s  {t['command']}" for t in counts.get("timings", [])
                    )
                )
            return run

        _say(f"[{phones} phones] first deploy")
        first = deploy("first deploy", report)
        result.runs.append(first)
        registered = registered and first.code == 0

        if registered:
            from roles.event import load_directory

            with client.secret_env(secret):
                directory = load_directory(event)
            accounts = [(a.name, a.password) for a in directory.accounts]
            _say(f"[{phones} phones] SIPp registers every phone from the phone network, {args.register_rate:g}/s")
            phones_up = SippPhones(lab, accounts, rate=args.register_rate)
            phones_up.start()
            limit = max(60.0, 3 * phones / args.register_rate + 30)
            try:
                took = phones_up.wait_registered(limit)
                _say(f"    all {phones} contacts listed and Avail after {took:.1f} s")
                result.notes.append(
                    f"{phones} phones registered (all Avail) in {took:.1f} s at {args.register_rate:g}/s"
                )
                result.checks.append((f"{phones} phones registered before the rerun", True))
            except SippError as e:
                _say(f"    REGISTRATION FAILED: {e}")
                result.checks.append((f"{phones} phones registered before the rerun", False))
                registered = False

        strict = ["--data", "televoc_verify=strict", "--data", f"televoc_register_wait={args.register_wait:g}"]
        if registered:
            _say(f"[{phones} phones] no-change rerun, strict, {phones} phones registered")
            rerun = deploy("no-change rerun", strict, strict=True)
            said = f"all {phones} phones are registered" in rerun.output
            result.checks.append((f"strict rerun says 'all {phones} phones are registered'", said and rerun.code == 0))
            # the lab's own AsteriskState answer against the synthetic text
            from roles.shared import packed
            from roles.shared.pbxfacts import AsteriskState

            raw = lab.run(AsteriskState().command(ASTERISK_CLI, aors=phones), timeout=120).stdout
            real = "".join(line + "\n" for line in packed.lines(raw.splitlines()))
            squeezed = lambda text: re.sub(" +", " ", text)  # noqa: E731 (the fact squeezes spaces)
            same = squeezed(rendered_like(real)) == real
            result.checks.append(
                (f"the synthetic Asterisk text is the lab's, byte for byte ({phones} phones, {len(real)} chars)", same)
            )
            _say(
                f"    the lab's AsteriskState answer ({len(real)} chars) rendered again: "
                + ("identical" if same else "DIFFERENT (see lab/bench/asterisk_text.py)")
            )
            # the remote side of that answer: each CLI command inside the lab (no SSH)
            from roles.shared.pbxcli import state_commands

            parts = []
            for command in state_commands(phones):
                started = time.monotonic()
                out = lab.run(f"{ASTERISK_CLI} -rx {shlex.quote(command)} | wc -c", timeout=120).stdout
                size = int(out.split()[0])
                shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
                parts.append(f"{command} {time.monotonic() - started:.2f} s ({shown})")
            result.notes.append(f"Asterisk's CLI in the lab, {phones} registered: " + ", ".join(parts))
            if same:
                from roles.asterisk import report as judge
                from roles.shared import pbxcli as cli

                started = time.process_time()
                state = cli.parse_state(real.splitlines())
                judge.registration_problems(state, directory.accounts)
                judge.registration_table(state, directory.accounts)
                result.notes.append(
                    f"verify on the lab's own answer for {phones} phones: "
                    f"{time.process_time() - started:.4f} CPU s (synthetic: {c.verify:.4f})"
                )
        else:
            _say(f"[{phones} phones] no-change rerun")
            rerun = deploy("no-change rerun", report)

        def floor() -> float:
            _say(f"[{phones} phones] pyinfra's floor: pyinfra INVENTORY exec -- true")
            code, counts, wall = floor_run(inventory, event, secret, work)
            _say(f"    floor {counts.get('remote_commands', -1)} remote command(s) {wall:7.1f} s  exit {code}")
            result.checks.append(("pyinfra exec -- true", code == 0))
            return wall

        floors = []
        for i in range(1, args.reruns):  # the rerun and the floor again, taking turns: the fastest of each
            floors.append(floor())
            again = deploy(f"no-change rerun {i + 1}", strict if registered else report, strict=registered)
            said = not registered or f"all {phones} phones are registered" in again.output
            result.checks.append(
                (
                    f"no-change rerun {i + 1} exits 0, sends {rerun.commands}",
                    again.code == 0 and said and again.commands == rerun.commands,
                )
            )
            if again.wall < rerun.wall:
                rerun = Run(
                    phones, rerun.name, again.code, again.wall, again.counts, again.output, registered=registered
                )
        result.runs.append(rerun)

        if phones_up is not None:
            alive = phones_up.running()
            code = phones_up.stop()
            totals = phones_up.summary()
            _say(
                f"    SIPp stopped (PID {phones_up.proc.pid if phones_up.proc else '-'}, exit {code}; it was "
                f"{'up' if alive else 'NOT up'} until then): {totals}"
            )
            result.checks.append(("SIPp answered qualify until the end", alive))
            if totals:
                result.notes.append(
                    f"SIPp at {phones} phones: {totals.get('messages', 0)} scenario messages, "
                    f"{totals.get('retransmissions', 0)} retransmissions, {totals.get('timeouts', 0)} timeouts"
                )
            phones_up = None

        result.floor = wall = min([*floors, floor()])  # of the event as first deployed
        # What a crew does all through buildup: one phone more (a provisioned snom at the info
        # desk), deployed; Asterisk reloads, the new phone's settings go up, the rest stays.
        _say(f"[{phones} phones] one phone added")
        add_phone(event, phones)
        added = deploy("one phone added", report)
        result.runs.append(added)
        result.checks.append(
            (
                "one phone added: exits 0 and names it",
                added.code == 0 and f"+ {ADDED} ({2000 + phones}): new, provisioned" in added.output,
            )
        )

        for run in result.runs:
            run.floor = wall
    finally:
        if phones_up is not None:
            phones_up.stop()
        lab.down()
    return result


def _fmt_ratio(run: Run) -> str:
    return f"{run.wall / run.floor:5.1f}" if run.floor else "    -"


def _loads_title(s: Size) -> str:
    return (
        f"load+validate+render of {s.phones} phones, a fresh process each (python -m lab.bench.passwords; wall s, "
        "the fastest of --repeats but the empty record's; CPU: imports+validate+render; floor: pyinfra exec -- true)"
    )


_LOADS_HEAD = (
    "passwords                       judged  imports  validate  render  process    CPU  /derived  CPU/derived  /floor"
)


def _cpu(load: Load) -> float:
    d = load.data
    return d["imports_cpu"] + d["validate_cpu"] + d["render_cpu"] if d else float("nan")


def _loads_rows(s: Size) -> list[str]:
    derived = next((x for x in s.loads if x.name == DERIVED and x.code == 0), None)
    rows = []
    for x in s.loads:
        d = x.data
        cpu = _cpu(x)
        parts = (
            f"{d['imports']:7.2f}  {d['validate']:8.2f}  {d['render']:6.2f}" if d else f"{'-':>7}  {'-':>8}  {'-':>6}"
        )
        rows.append(
            f"{x.name:<30}  {d.get('judged', '-'):>6}  {parts}  {x.wall:7.2f}  {cpu:5.2f}  "
            f"{x.wall / derived.wall if derived else float('nan'):8.1f}  "
            f"{cpu / _cpu(derived) if derived else float('nan'):11.1f}  "
            f"{x.wall / s.floor if s.floor else float('nan'):6.1f}"
        )
    if s.floor:
        rows.append(f"{'pyinfra floor (exec -- true)':<30}  {'':>6}  {'':>7}  {'':>8}  {'':>6}  {s.floor:7.2f}")
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ceiling"]:  # ./televoc bench ceiling: what one Asterisk takes (lab/bench/ceiling.py)
        from .ceiling import main as ceiling

        return ceiling(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m lab.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--phones", type=int, nargs="*", default=DEFAULT_SIZES, help="sizes (none: only the self-service case)"
    )
    parser.add_argument(
        "--registered",
        type=int,
        nargs="*",
        default=DEFAULT_REGISTERED,
        help="sizes at which SIPp registers every phone for a strict rerun",
    )
    parser.add_argument("--register-rate", type=float, default=REGISTER_RATE, help="SIPp registrations a second")
    parser.add_argument(
        "--register-wait", type=float, default=10, help="televoc_register_wait of the strict rerun (seconds)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="client-side timings: best of this many")
    parser.add_argument(
        "--reruns",
        type=int,
        default=1,
        help="no-change reruns and floors at each size, taking turns: the fastest of each (on a busy machine)",
    )
    parser.add_argument(
        "--passwords",
        type=int,
        default=None,
        help="the size at which to time load+validate+render with crew-written passwords (default: the largest)",
    )
    parser.add_argument(
        "--claims", type=int, default=3000, help="participants' claims in the self-service case (0: no such case)"
    )
    parser.add_argument("--claims-phones", type=int, default=2000, help="the crew's phones of the self-service case")
    parser.add_argument(
        "--claims-sample", type=int, default=100, help="claims registered right after their claim, spread over all"
    )
    parser.add_argument("--workdir", default=str(REPO / ".lab" / "bench"))
    parser.add_argument("--show-commands", action="store_true")
    args = parser.parse_args(argv)
    if args.passwords is None:
        args.passwords = max(args.phones, default=0)

    began = time.monotonic()
    sizes: list[Size] = []
    failed: list[str] = []
    for phones in args.phones:
        try:
            sizes.append(bench_size(phones, args, Path(args.workdir) / str(phones)))
        except Exception as e:  # noqa: BLE001 (one size failing does not hide the others)
            _say(f"[{phones} phones] FAILED: {type(e).__name__}: {e}")
            failed.append(f"{phones} phones: {type(e).__name__}: {e}")
        _say(f"    ({time.monotonic() - began:.0f} s so far)")

    case = None
    if args.claims > 0:
        from . import claims

        try:
            case = claims.bench(
                args.claims_phones,
                args.claims,
                args,
                Path(args.workdir) / "claims",
                make_event=make_event,
                run_type=Run,
                extra=report_dir_data(Path(args.workdir) / "claims"),
            )
        except Exception as e:  # noqa: BLE001 (as a size: the rest is still reported)
            _say(f"[claims] FAILED: {type(e).__name__}: {e}")
            failed.append(f"claims: {type(e).__name__}: {e}")
        _say(f"    ({time.monotonic() - began:.0f} s so far)")

    runs = [r for s in sizes for r in s.runs]
    _say("\nphones  run                remote commands  uploads   wall      floor     ratio  exit")
    for r in runs:
        mark = "*" if r.registered else " "
        floor = f"{r.floor:6.1f} s" if r.floor else "       -"
        _say(
            f"{r.phones:>6}  {r.name + mark:<17}  {r.commands:>15}  {r.uploads:>7}  {r.wall:6.1f} s  {floor}  "
            f"{_fmt_ratio(r)}  {r.code:>4}"
        )
    if any(r.registered for r in runs):
        _say(
            "  * every phone registered by SIPp (Avail), televoc_verify=strict, "
            f"televoc_register_wait={args.register_wait:g}; ratio: wall / floor"
        )

    _say(f"\nclient side, CPU seconds (best of {args.repeats}), no host")
    _say(
        "phones  validate    render    verify   (render: routes / asterisk / module / provisioning; "
        "verify: parse / judge / table)"
    )
    for s in sizes:
        c = s.client
        assert c is not None  # measured first: a size that failed before is not in `sizes`
        p = c.parts
        _say(
            f"{s.phones:>6}  {c.validate:8.4f}  {c.render:8.4f}  {c.verify:8.4f}   "
            f"({p['resolve']:.4f} / {p['render_asterisk']:.4f} / {p['render_module']:.4f} / "
            f"{p['render_provisioning']:.4f}; "
            f"{p['parse_state']:.4f} / {p['registration_problems']:.4f} / {p['registration_table']:.4f})"
        )

    _say("\nthe directory's exports (python -m roles.event directory: HTML, CSV, JSON, vCard, Yealink), CPU seconds")
    _say("  ".join(f"{s.phones} phones: {s.client.parts['directory_exports']:.4f}" for s in sizes if s.client))

    for s in sizes:
        if s.loads:
            _say(f"\n{_loads_title(s)}")
            _say(_LOADS_HEAD)
            for line in _loads_rows(s):
                _say(line)

    _say("\nwhere the time goes (client CPU includes validation and rendering; remote: exec request to exit status)")
    _say("phones  run                 wall   client CPU  remote cmds  uploads   slowest remote command")
    for r in runs:
        timings = [t for t in r.counts.get("timings", []) if t.get("seconds") is not None]
        slow = max(timings, key=lambda t: t["seconds"], default=None)
        same = sum(1 for t in timings if slow and t["command"] == slow["command"])
        slowest = (
            f"{slow['seconds']:.2f} s x{same}, {(slow.get('output_chars') or 0) / 1000:.0f} kB out: "
            f"{slow['command'][:48]}"
            if slow
            else "-"
        )
        _say(
            f"{r.phones:>6}  {r.name:<17} {r.wall:6.1f}  {r.counts.get('client_cpu_seconds', 0):9.1f}  "
            f"{r.counts.get('remote_seconds', 0):10.1f}  {r.counts.get('upload_seconds', 0):6.1f}   {slowest}"
        )

    if case is not None:
        from .claims import table

        _say(f"\nself-service: {case.phones} crew phones, without and with {case.claims} claims (one lab, in turns)")
        for line in table(case):
            _say(line)

    checks = [(f"[{s.phones}] {name}", ok) for s in sizes for name, ok in s.checks]
    if case is not None:
        checks += [(f"[claims] {name}", ok) for name, ok in case.checks]
    firsts = {r.steps for r in runs if r.name == "first deploy"}
    reruns = {r.steps for r in runs if r.name == "no-change rerun"}
    adds = {r.steps for r in runs if r.name == "one phone added"}
    flat = len(firsts) <= 1 and len(reruns) <= 1 and len(adds) <= 1  # no size run: only the self-service case
    notes = [n for s in sizes for n in s.notes] + (case.notes if case is not None else [])
    _say("")
    for name, ok in checks:
        _say(f"check: {'ok  ' if ok else 'FAIL'} {name}")
    for note in notes:
        _say(f"note: {note}")
    _say(
        f"command count flat across sizes: {'yes' if flat else 'NO'} "
        f"(first deploy {sorted(firsts)}, no-change rerun {sorted(reruns)}, one phone added {sorted(adds)}; "
        "a wait's repeated reads counted once: "
        f"first deploy {sorted({r.commands for r in runs if r.name == 'first deploy'})} in all)"
    )

    _say("\nfor docs/costs.md:\n")
    _say("    phones  run               remote commands  uploads    wall  pyinfra's floor  wall/floor")
    for r in runs:
        floor = f"{r.floor:5.1f} s" if r.floor else "      -"
        _say(
            f"    {r.phones:>6}  {r.name + ('*' if r.registered else ''):<17} {r.commands:>15}  {r.uploads:>7}  "
            f"{r.wall:5.1f} s  {floor:>15}  {_fmt_ratio(r).strip():>10}"
        )
    if any(r.registered for r in runs):
        registered = sorted({r.phones for r in runs if r.registered})
        _say(f"    * {' and '.join(map(str, registered))} phones registered (SIPp), strict verification")
    if sizes:
        big = max(sizes, key=lambda s: s.phones)
        c = big.client
        assert c is not None
        _say(
            f"\n    Client side alone at {big.phones} phones (CPU s): validate {c.validate:.2f}, "
            f"render {c.render:.2f}, verify {c.verify:.2f}."
        )
        rerun = next((r for r in big.runs if r.name == "no-change rerun"), None)
        if rerun is not None and rerun.counts:
            k = rerun.counts
            _say(
                f"    The no-change rerun at {big.phones} phones takes {rerun.wall:.1f} s: "
                f"{k.get('remote_seconds', 0):.1f} s in its {rerun.commands} remote command(s), "
                f"{k.get('client_cpu_seconds', 0):.1f} CPU s on the client (pyinfra's floor: {rerun.floor:.1f} s)."
            )
    if case is not None:
        from .claims import table

        _say(f"\n    {case.phones} crew phones, without and with {case.claims} claims:\n")
        for line in table(case):
            _say(f"    {line}")
    for s in sizes:
        if s.loads:
            _say(f"\n    {_loads_title(s)}:\n")
            _say(f"    {_LOADS_HEAD}")
            for line in _loads_rows(s):
                _say(f"    {line}")
    _say(f"\nbenchmark took {time.monotonic() - began:.0f} s")

    ok = (
        not failed
        and flat
        and all(r.code == 0 for r in runs)
        and all(ok for _, ok in checks)
        and len(sizes) == len(args.phones)
    )
    for f in failed:
        _say(f"FAILED: {f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
