"""A fault at each step of a run: the harness of tests/lab_tests/test_fault_steps_*.py.

One lab with the example event, its three phones registered, and a fourth phone (saal3) that
is never plugged in, and a conference room with a PIN. Each round edits the event so that a
run changes the PBX (saal1's display name: a switch and a reload; saal3's password: a new
passwords file and a changed account; the room's PIN: a new PINs file),
starts the real pyinfra CLI and, as soon as the chosen step starts (pyinfra's "--> Starting
operation" line), calls the fault: Asterisk killed, Ctrl-C, a directory televoc writes read-only or full.
After each, `serving_problems` says what is wrong with the PBX; after the last, `converges`
runs once more without a fault and reviews (--dry) that a next run has nothing to change.

    with FaultSteps.up(tmp_path) as pbx:
        pbx.calibrate()                         # the steps of a changing run, in order
        problems = pbx.at_each_step(fault, check_run)
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lab.deploys import Deployment, copy_example_event
from lab.lab import Lab
from lab.wait import until, wait_for

PORTS = {"saal1": 5071, "saal2": 5072, "backoffice": 5073}
SAAL3 = {"name": "saal3", "extension": 1003, "display_name": "Saal Drei"}  # never plugged in
STATE = "/var/lib/televoc"
ROOM = "orga"  # a conference room with a PIN: its profile lives in the PINs file in STATE
STEP = re.compile(r"^--> Starting operation: (.+?)\s*$")
GENERATION = re.compile(r"\b[0-9a-f]{16}\b")  # a step's name may hold the config generation


def step_name(line: str) -> str | None:
    """The step a line of pyinfra's output starts, its generation replaced; None if none."""
    m = STEP.match(line)
    return GENERATION.sub("<generation>", m.group(1)) if m else None


@dataclass
class FaultSteps(Deployment):
    phones: dict = field(default_factory=dict)
    round: int = 0
    # The steps of deploy.py in a run that changes the PBX, in their order (pyinfra's names,
    # "<role> | <step>", the generation replaced): set by calibrate().
    steps: list[str] = field(default_factory=list)

    @classmethod
    @contextlib.contextmanager
    def up(cls, work: Path):
        with Lab(work / "lab") as lab:
            p = cls.prepare(lab, work, copy_example_event(work / "event"))
            p.edit_phones(lambda phones: phones.append(dict(SAAL3, password=p.new_password())))
            p.set_pin()
            first = p.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
            assert first.returncode == 0, first.output
            for name, password in p.passwords().items():
                if name in PORTS:
                    p.phones[name] = lab.start_phone(name, password, PORTS[name])
            wait_for(lambda: p.registered() == set(PORTS), 40, "every phone registered")
            yield p

    @staticmethod
    def new_password() -> str:
        return "-".join(secrets.token_urlsafe(6) for _ in range(3))

    def set_pin(self) -> None:
        """services.yml: room ROOM with a new PIN (8 digits)."""
        pin = "".join(secrets.choice("0123456789") for _ in range(8))
        (self.event / "services.yml").write_text(f'conferences:\n  - {{name: {ROOM}, number: 1850, pin: "{pin}"}}\n')

    def changing(self) -> None:
        """Edit the event so that the next run changes the PBX: saal1's display name (the
        module: a switch, a reload), saal3's password (the passwords file) and the room's PIN
        (the PINs file)."""
        self.round += 1
        n, password = self.round, self.new_password()
        self.set_pin()

        def edit(phones):
            phones[0]["display_name"] = f"Saal Eins {n}"
            next(p for p in phones if p["name"] == "saal3")["password"] = password

        self.edit_phones(edit)

    def registered(self) -> set[str]:
        """The phones with a contact (any status but Unavail): registered. A contact that
        came back from Asterisk's database after a restart is NonQual until its qualify."""
        return {name for name, status in self.contacts().items() if status != "Unavail"}

    def calibrate(self) -> list[str]:
        """A changing run without a fault: the steps it has, in order."""
        self.changing()
        code, output, _ = self.faulty_run("(no such step)", lambda proc: None)
        assert code == 0, output
        self.steps = [name for name in map(step_name, output.splitlines()) if name]
        return self.steps

    def at_each_step(self, fault, check_run) -> list[str]:
        """For each step: a changing run with `fault(proc)` at its start; what check_run(code,
        output) and serving_problems() find. Then converges(). Every problem, by step."""
        assert self.steps, "calibrate() first"
        found = []
        for step in self.steps:
            self.changing()
            code, output, hit = self.faulty_run(step, fault)
            if not hit:
                found.append(f"{step}: the run had no such step, the fault did not happen:\n{output[-1500:]}")
            found += [f"{step}: {p}" for p in check_run(code, output)]
            found += [f"{step}: {p}" for p in self.serving_problems()]
        found += [f"after the round: {p}" for p in self.converges()]
        return found

    def in_sshd_namespace(self, script: str) -> None:
        """A mount seen by pyinfra's commands and Asterisk (the lab's sshd mount namespace)."""
        subprocess.run(["nsenter", "-t", str(self.lab._sshd_pid), "-m", "sh", "-c", script], check=True, timeout=30)

    def faulty_run(self, at: str, fault) -> tuple[int, str, bool]:
        """A report-mode deploy; `fault()` is called as soon as the step named `at` starts.
        (exit status, output, whether the step came and the fault hit)."""
        proc = self.start_deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        lines: list[str] = []
        hit: list[str] = []

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if not hit and step_name(line) == at:
                    try:
                        fault(proc)
                    except Exception as e:  # said, and the step counts as not hit: never a silent pass
                        lines.append(f"\n[the fault could not be applied at this step: {e!r}]\n")
                    else:
                        hit.append(at)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        hung = False
        try:
            proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            hung = True  # said in the output below, for check_run to name with the step
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        reader.join(timeout=10)
        output = "".join(lines) + ("\n[the run did not exit within 180 s: killed]\n" if hung else "")
        return proc.returncode, output, bool(hit)

    def serving_problems(self) -> list[str]:
        """What is wrong with the PBX now, waited for where it comes back by itself."""
        problems = []
        if until(lambda: self.lab.asterisk("core show version").startswith("Asterisk "), 20) is None:
            return ["Asterisk does not answer its CLI"]
        # Registered still, or again within the registration interval (what the issue asks):
        # Restart=always is 1 s and the contacts come back from Asterisk's database, but a
        # phone whose re-REGISTER met a killed Asterisk retries only after baresip's failure
        # wait (30 to 60 s), and its contact expires meanwhile.
        interval = max(phone.regint for phone in self.phones.values()) + 60
        if until(lambda: self.registered() == set(PORTS), interval, step=0.5) is None:
            problems.append(f"not every phone is registered: {self.contacts()}")
        # televoc names each phone's auth after its endpoint; Asterisk loads no auth without
        # its password: an endpoint without its auth is an account without its password.
        endpoints = set(re.findall(r"^\s*Endpoint:\s+([^<\s/]+)/", self.lab.asterisk("pjsip show endpoints"), re.M))
        auths = set(re.findall(r"^\s*Auth:\s+([^<\s/]+)/", self.lab.asterisk("pjsip show auths"), re.M))
        if not endpoints:
            problems.append("Asterisk has no endpoint at all")
        for endpoint in sorted(endpoints - auths):
            problems.append(f"endpoint {endpoint} has no loaded auth (an account without its password)")
        # The room's profile (in the PINs file) is loaded: a room with a PIN lets callers in.
        profiles = self.lab.asterisk("confbridge show profile users")
        if f"televoc-pin-{ROOM}" not in profiles:
            problems.append(f"the room {ROOM} has no PIN profile loaded (nobody gets in): {profiles}")
        listing = self.lab.run(f"ls -A {STATE}", check=False).stdout.split()
        problems += [f"a partial upload is left: {STATE}/{name}" for name in listing if "televoc-new" in name]
        return problems

    def converges(self) -> list[str]:
        """A run without a fault exits 0, the PBX serves, and a next run has nothing to change.
        (Report mode: saal3 is never plugged in.)"""
        run = self.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        if run.returncode != 0:
            return [f"the rerun failed:\n{run.output[-3000:]}"]
        review = self.deploy("--dry", yes=False)  # what a next run would change
        changed = [line for line in review.output.splitlines() if re.search(r"will (change|switch|reload)", line)]
        if review.returncode != 0 or changed:
            return [f"after the rerun, a next run would still change: {changed or review.output[-2000:]}"]
        return self.serving_problems()


CAUSES = {"read-only": "Read-only file system", "full": "No space left on device"}


def disk_fault_round(pbx: FaultSteps, directory: str, fault: str) -> list[str]:
    """A small tmpfs over `directory` holding what it held (mounted where pyinfra's commands
    and Asterisk see it: the lab's sshd mount namespace; the chroot has no mount command);
    at each step it turns read-only or fills up; after the run it is writable again. What
    each run and the PBX show (FaultSteps.at_each_step), and what the round left."""
    where = pbx.lab.root / directory.lstrip("/")
    pbx.in_sshd_namespace(
        f"mkdir -p {where} && cp -a {where} {where}.saved && mount -t tmpfs -o size=4m,mode=0755 tmpfs {where} "
        f"&& cp -a {where}.saved/. {where}/"
    )

    def hit(proc) -> None:
        if fault == "read-only":
            # The kernel refuses the remount (exit 32, busy) while a file there is open for
            # writing, as for an instant when a step writes: a few tries, 5 s at most.
            pbx.in_sshd_namespace(
                f"i=0; until mount -o remount,ro {where}; do i=$((i+1)); [ $i -lt 50 ] || exit 32; sleep 0.1; done"
            )
        else:
            pbx.in_sshd_namespace(f"dd if=/dev/zero of={where}/.fill bs=4k 2>/dev/null || true")

    failed: list[int] = []

    def named(code: int, output: str) -> list[str]:
        failed.extend([code] if code != 0 else [])
        if fault == "read-only":
            pbx.in_sshd_namespace(f"mount -o remount,rw {where}")
        else:
            pbx.in_sshd_namespace(f"rm -f {where}/.fill")
        said = rf"could not (write|remove) {re.escape(directory)}/\S+: {CAUSES[fault]}"
        if code != 0 and not re.search(said, output):
            return [f"failed without naming the file and the cause ({CAUSES[fault]}):\n{output[-2000:]}"]
        return []

    try:
        problems = pbx.at_each_step(hit, named)
        if not failed:  # else the fault never met a write: the round proved nothing
            problems.append(f"no run failed: {fault} {directory} never stopped a write")
        return problems
    finally:
        # What the round wrote stays (the PBX runs with it): copied back under the mount.
        pbx.in_sshd_namespace(f"cp -a {where}/. {where}.saved/ && umount {where} && cp -a {where}.saved/. {where}/")
        pbx.in_sshd_namespace(f"rm -rf {where}.saved")
