"""Many lines in one log record print as one record per line would (pyinfra's formatter).
pyinfra_cli patches the standard library for gevent when imported: the comparison runs in
a Python of its own."""

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import logging
from types import SimpleNamespace
from pyinfra import logger
from pyinfra_cli.log import LogFormatter
from roles.asterisk.operations import _log_lines

lines = ["+ saal1 (1001): new, provisioned", "- saal9 (1009): removed", "~ saal2 (1002): password"]
records = []
logger.info = lambda msg: records.append(logging.LogRecord("x", logging.INFO, "", 0, msg, None, None))
_log_lines(SimpleNamespace(print_prefix="[lab] "), lines, "will change: ")
_log_lines(SimpleNamespace(print_prefix="[lab] "), [])
each = [logging.LogRecord("x", logging.INFO, "", 0, f"[lab] will change: {line}", None, None) for line in lines]
print(len(records), LogFormatter().format(records[0]) == "\\n".join(LogFormatter().format(r) for r in each))
"""


def test_lines_in_one_record_print_as_one_record_each():
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=repo, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["1", "True"], done.stdout + done.stderr
