"""The no-change rerun with the kept plan and without it, taking turns with pyinfra's floor
in one lab (roles/plancache.py; docs/costs.md, "A no-change rerun").

    python -m lab.bench.turns [--phones 10000] [--rounds 5] [--workdir .lab/bench-turns]

A fresh lab, the bench's event of N provisioned snoms (lab/bench/__main__.py make_event),
its first deploy (which keeps the plan), then `rounds` times: pyinfra's floor (`exec --
true`), the rerun taking the kept plan, the rerun rendering (TELEVOC_PLAN_CACHE=off); each
the real pyinfra CLI over SSH, `televoc_verify=report`, no phone registered. Prints each
run, then per kind the fastest and the median wall time over the floor's, and the fastest
CPU (the process's, as the kernel counts it) over the floor's. Exits 1 when a run fails.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

from ..deploys import REPO, write_inventory
from ..lab import Lab

KINDS = ("floor", "rerun, plan kept", "rerun, rendered")


def main(argv: list[str] | None = None) -> int:
    from .__main__ import make_event
    from .runs import counted_pyinfra

    parser = argparse.ArgumentParser(prog="python -m lab.bench.turns", description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", default=str(REPO / ".lab" / "bench-turns"))
    args = parser.parse_args(argv)
    work = Path(args.workdir)
    if (work / "lab" / "lab.json").exists():
        Lab.attach(work / "lab").down()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    event = work / "event"
    secret = make_event(event, args.phones)
    report = ["--data", "televoc_verify=report", "--data", "televoc_register_wait=0"]
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}
    failed = 0
    with Lab(work / "lab") as lab:
        inventory = str(write_inventory(work / "inventory.py", lab.pyinfra_host_data()))
        code, _, wall, _ = counted_pyinfra(
            [inventory, "deploy.py", "-y", *report], event, secret, work / "c.json", work / "first.log"
        )
        print(f"first deploy {wall:.1f} s, exit {code}", flush=True)
        failed += code != 0
        for _ in range(args.rounds):  # bounded: rounds x 3 runs, each with the bench's timeout
            for kind in KINDS:
                argv_ = [inventory, "exec", "-y", "--", "true"] if kind == "floor" else [inventory, "deploy.py", "-y"]
                extra = {} if kind != "rerun, rendered" else {"TELEVOC_PLAN_CACHE": "off"}
                code, counts, wall, _ = counted_pyinfra(
                    [*argv_, *(report if kind != "floor" else [])],
                    event,
                    secret,
                    work / "c.json",
                    work / f"{kind.replace(' ', '-').replace(',', '')}.log",
                    env=extra,
                )
                cpu = counts.get("client_cpu_seconds", float("nan"))
                runs[kind].append((wall, cpu))
                failed += code != 0
                print(f"{kind:<18} {wall:5.2f} s  CPU {cpu:5.2f} s  exit {code}", flush=True)
    floor_wall = min(w for w, _ in runs["floor"])
    floor_median = statistics.median(w for w, _ in runs["floor"])
    floor_cpu = min(c for _, c in runs["floor"])
    print(f"\n{args.phones} phones          fastest wall  /floor  median /floor  fastest CPU  over the floor's")
    for kind in KINDS:
        walls, cpus = [w for w, _ in runs[kind]], [c for _, c in runs[kind]]
        over = f"{min(cpus) - floor_cpu:16.2f} s" if kind != "floor" else ""
        print(
            f"{kind:<22} {min(walls):8.2f} s {min(walls) / floor_wall:7.2f} "
            f"{statistics.median(walls) / floor_median:13.2f} {min(cpus):10.2f} s{over}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
