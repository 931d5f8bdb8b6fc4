"""Command line for the lab (run as root from the repository root).

python -m lab up --workdir DIR      start an instance; writes DIR/lab.json and
                                    returns, leaving the instance running
python -m lab down --workdir DIR    stop it and remove DIR
python -m lab ssh --workdir DIR [-- CMD...]
                                    ssh into it (as root), or run CMD there
python -m lab phones --workdir DIR --csv FILE
                                    start one baresip phone per CSV row
                                    (user,password,local_port) and keep them
                                    running until Ctrl-C (or SIGTERM)
"""

import argparse
import csv
import os
import signal
import sys
import time
from pathlib import Path

from .lab import Lab


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("command", choices=["up", "down", "ssh", "phones"])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--csv", type=Path, help="phones: CSV of user,password,local_port")
    argv = sys.argv[1:] if argv is None else argv
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []  # ssh: the command to run
    args = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)

    if args.command == "up":
        t = time.monotonic()
        lab = Lab(args.workdir).up()
        print(
            f"lab up in {time.monotonic() - t:.1f} s: ssh -p {lab.ssh_port} root@127.0.0.1 "
            f"(state: {lab.workdir / 'lab.json'})"
        )
        return 0
    if args.command == "down":
        if not (args.workdir / "lab.json").exists():
            print(f"no lab at {args.workdir}", file=sys.stderr)
            return 1
        Lab.attach(args.workdir).down()
        print(f"lab at {args.workdir} stopped (its processes, mounts and namespaces) and removed")
        return 0
    lab = Lab.attach(args.workdir)
    if args.command == "ssh":
        # like ssh itself: the words after -- are one command line for the remote shell
        ssh = lab.ssh_command(" ".join(rest)) if rest else lab.ssh_command("")[:-1]
        os.execvp(ssh[0], ssh)
    if args.command == "phones":
        if not args.csv:
            ap.error("phones needs --csv FILE")
        with open(args.csv, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
        for user, password, port in rows:
            lab.start_phone(user.strip(), password.strip(), int(port))
        print(f"{len(rows)} phones running; Ctrl-C stops them", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while any(p.running() for p in lab.phones):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            lab.stop_all_phones()
    return 0


if __name__ == "__main__":
    sys.exit(main())
