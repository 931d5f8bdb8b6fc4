"""`python -m roles.event check|new-secret --event DIR`: validate a directory, create its secret."""

import argparse
import sys
from pathlib import Path

import yaml

from .load import EVENT_FILE, EventError, create_secret, load_directory, secret_path
from .model import Event


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roles.event")
    parser.add_argument("command", choices=["check", "new-secret"])
    parser.add_argument("--event", default="group_data/event", help="the event directory")
    args = parser.parse_args(argv)
    directory = Path(args.event)

    if args.command == "new-secret":
        raw = yaml.safe_load((directory / EVENT_FILE).read_text(encoding="utf-8"))
        path = secret_path(Event.model_validate(raw), directory)
        if create_secret(path):
            print(f"created event secret {path} (mode 0600): keep it out of git, back it up")
        else:
            print(f"event secret {path} already exists: kept it")
        return 0

    try:
        directory_model = load_directory(directory)
    except EventError as e:
        print(f"televoc: {e}", file=sys.stderr)
        return 2
    print(f"{directory}: event '{directory_model.event.name}', {len(directory_model.accounts)} phones: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
