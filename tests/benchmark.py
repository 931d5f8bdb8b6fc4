"""Benchmark (not a test): remote commands and wall time of a deploy against the lab, for
10, 100 and 1000 phones, first deploy and no-change rerun. The command count must stay flat.

    ./televoc bench            (or: python -m tests.benchmark [--phones 10 100 1000])

Every phone is a provisioned snom (its settings file is published and it is told to resync).
Phones are not registered here (televoc_verify=report, no wait): the verification still reads
Asterisk's state once, in one remote command for all phones.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

from tests.lab.deploys import REPO, write_inventory
from tests.lab.lab import Lab


def make_event(directory: Path, phones: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "event.yml").write_text(f"name: bench-{phones}\nnetwork: 10.23.0.0/16\npbx_address: 127.0.0.1\n")
    lines = ["phones:"]  # every phone a provisioned snom: the heaviest path
    lines += [
        f"  - {{name: phone{i:04d}, extension: {2000 + i}, mac: '000413{i:06X}', model: snom320}}"
        for i in range(phones)
    ]
    (directory / "phones.yml").write_text("\n".join(lines) + "\n")
    secret = directory.parent / "event.secret"
    secret.write_text(secrets.token_urlsafe(48) + "\n")
    secret.chmod(0o600)  # televoc refuses a secret others can read
    return secret


def counted_deploy(inventory: Path, event: Path, secret: Path, counts: Path) -> tuple[int, dict, float]:
    env = {"TELEVOC_EVENT_DIR": str(event), "TELEVOC_SECRET_FILE": str(secret)}
    import os

    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.pyinfra_counted", str(counts), "--", str(inventory), "deploy.py",
         "-y", "--data", "televoc_verify=report", "--data", "televoc_register_wait=0"],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=900,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
    return proc.returncode, json.loads(counts.read_text()), elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark")
    parser.add_argument("--phones", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--workdir", default=str(REPO / ".lab" / "bench"))
    parser.add_argument("--show-commands", action="store_true")
    args = parser.parse_args(argv)

    rows = []
    for phones in args.phones:
        work = Path(args.workdir) / f"{phones}"
        lab = Lab(work / "lab")
        if (work / "lab").exists():
            lab.down()
        lab.up()
        try:
            secret = make_event(work / "event", phones)
            inventory = write_inventory(work / "inventory.py", lab.pyinfra_host_data())
            for run in ("first deploy", "no-change rerun"):
                code, counts, elapsed = counted_deploy(inventory, work / "event", secret, work / "counts.json")
                rows.append((phones, run, counts["remote_commands"], counts["uploads"], elapsed, code))
                print(f"{phones:>6} phones  {run:<16} {counts['remote_commands']:>3} remote commands "
                      f"{counts['uploads']:>2} uploads  {elapsed:6.1f} s  exit {code}", flush=True)
                if args.show_commands:
                    print("\n".join(f"        {c}" for c in counts["commands"]))
        finally:
            lab.down()

    print("\nphones  run               remote commands  uploads  wall time  exit")
    for phones, run, commands, uploads, elapsed, code in rows:
        print(f"{phones:>6}  {run:<16}  {commands:>15}  {uploads:>7}  {elapsed:8.1f} s  {code:>4}")
    firsts = {r[2] for r in rows if r[1] == "first deploy"}
    reruns = {r[2] for r in rows if r[1] == "no-change rerun"}
    flat = len(firsts) == 1 and len(reruns) == 1
    print(f"\ncommand count flat across sizes: {'yes' if flat else 'NO'}")
    return 0 if flat and all(r[5] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
