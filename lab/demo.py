"""The main job against the built-in lab: build the lab, deploy the example event (or your own)
with the real pyinfra CLI, plug in simulated phones (baresip, one per phone of the event) while
it runs, and show the verification.

    ./televoc deploy            (or: python -m lab.demo [--keep] [--event DIR])

Everything of a demo lives in its workdir (.lab/demo: the lab, the event's copy with the lab's
network, the inventory); `python -m lab down --workdir .lab/demo/lab` removes it all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from roles.event import create_secret, load_directory, secret_path
from roles.event.model import Event

from .deploys import EXAMPLE_EVENT, LAB_NETWORK, PYINFRA, REPO, copy_example_event, write_inventory
from .lab import Lab
from .wait import until

PHONE_PORT_BASE = 5071


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.demo")
    parser.add_argument("--keep", action="store_true", help="leave the lab running afterwards")
    parser.add_argument(
        "--event", type=Path, default=EXAMPLE_EVENT, help="the event directory to deploy (default: the example event)"
    )
    parser.add_argument("--workdir", default=str(REPO / ".lab" / "demo"))
    args = parser.parse_args(argv)

    base = Path(args.workdir)
    workdir = base / "lab"
    lab = Lab(workdir)
    if (workdir / "lab.json").exists():
        lab.down()  # a lab left over from an earlier --keep
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    event_dir = base / "event"
    copy_example_event(event_dir, args.event)
    print(f"televoc demo: {args.event}, with the lab's phone network {LAB_NETWORK} and PBX 127.0.0.1 ({event_dir})")
    event = Event.model_validate(yaml.safe_load((event_dir / "event.yml").read_text()))
    secret = secret_path(event, event_dir)
    if create_secret(secret):
        print(f"televoc demo: created the example event's secret {secret}")
    accounts = load_directory(event_dir).accounts

    print("televoc demo: starting the lab (Debian sid chroot, Asterisk 22, sshd) ...", flush=True)
    lab.up()
    phones = []
    try:
        inventory = write_inventory(base / "inventory.py", lab.pyinfra_host_data())

        def plug_in():  # phones come up as soon as the PBX answers, as on a buildup day
            until(lambda: "Asterisk" in lab.asterisk("core show version"), 120, step=0.5)
            for i, account in enumerate(accounts):
                phones.append(lab.start_phone(account.name, account.password, PHONE_PORT_BASE + i))

        threading.Thread(target=plug_in, daemon=True).start()
        print(f"televoc demo: pyinfra {inventory.name} deploy.py", flush=True)
        code = subprocess.call(
            [PYINFRA, str(inventory), "deploy.py", "-y", "--data", "televoc_register_wait=60"],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, TELEVOC_EVENT_DIR=str(event_dir)),
        )
        if args.keep:
            print(
                f"televoc demo: the lab keeps running, with its {len(phones)} phones.\n"
                f"  deploy again:  TELEVOC_EVENT_DIR={event_dir} .venv/bin/pyinfra {inventory} deploy.py -y\n"
                f"  a shell on the PBX:  .venv/bin/python -m lab ssh --workdir {workdir}\n"
                f"  a command there:  .venv/bin/python -m lab ssh --workdir {workdir} -- "
                "asterisk -rx 'pjsip show contacts'\n"
                f"  stop it (phones, lab, event copy, inventory):  .venv/bin/python -m lab down --workdir {workdir}"
                f" && rm -rf {base}"
            )
        return code
    finally:
        if not args.keep:
            for phone in phones:
                phone.stop()
            lab.down()
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
