"""The main job against the built-in lab: build the lab, deploy the example event with the real
pyinfra CLI, plug in simulated phones (baresip) while it runs, and show the verification table.

    ./televoc deploy            (or: python -m tests.demo [--keep])
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
from tests.lab.deploys import LAB_NETWORK, PYINFRA, REPO, copy_example_event, write_inventory
from tests.lab.lab import Lab
from tests.lab.wait import until

PHONE_PORT_BASE = 5071


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.demo")
    parser.add_argument("--keep", action="store_true", help="leave the lab running afterwards")
    parser.add_argument("--workdir", default=str(REPO / ".lab" / "demo"))
    args = parser.parse_args(argv)

    workdir = Path(args.workdir)
    lab = Lab(workdir)
    if workdir.exists():
        lab.down()  # a lab left over from an earlier --keep
    event_dir = workdir.parent / "demo-event"
    shutil.rmtree(event_dir, ignore_errors=True)
    copy_example_event(event_dir)
    print(f"televoc demo: the example event, with the lab's phone network {LAB_NETWORK} ({event_dir})")
    event = Event.model_validate(yaml.safe_load((event_dir / "event.yml").read_text()))
    secret = secret_path(event, event_dir)
    if create_secret(secret):
        print(f"televoc demo: created the example event's secret {secret}")
    accounts = load_directory(event_dir).accounts

    print("televoc demo: starting the lab (Debian sid chroot, Asterisk 22, sshd) ...", flush=True)
    lab.up()
    phones = []
    try:
        inventory = write_inventory(workdir.parent / "demo-inventory.py", lab.pyinfra_host_data())

        def plug_in():  # phones come up as soon as the PBX answers, as on a buildup day
            until(lambda: "Asterisk" in lab.asterisk("core show version"), 120, step=0.5)
            for i, account in enumerate(accounts):
                phones.append(lab.start_phone(account.name, account.password, PHONE_PORT_BASE + i))

        threading.Thread(target=plug_in, daemon=True).start()
        print(f"televoc demo: pyinfra {inventory.name} deploy.py", flush=True)
        code = subprocess.call(
            [PYINFRA, str(inventory), "deploy.py", "-y", "--data", "televoc_register_wait=60"],
            cwd=REPO, stdin=subprocess.DEVNULL, env=dict(os.environ, TELEVOC_EVENT_DIR=str(event_dir)),
        )
        if args.keep:
            print(f"televoc demo: lab kept running; ssh -i {lab.ssh_key} -p {lab.ssh_port} root@127.0.0.1;"
                  f" stop it with: python -m tests.lab down --workdir {workdir}")
        return code
    finally:
        if not args.keep:
            for phone in phones:
                phone.stop()
            lab.down()


if __name__ == "__main__":
    sys.exit(main())
