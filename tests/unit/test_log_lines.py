"""Many lines in one log record print as one record per line would (pyinfra's formatter)."""

import logging
from types import SimpleNamespace

from pyinfra import logger
from pyinfra_cli.log import LogFormatter

from roles.asterisk.operations import _log_lines


def test_lines_in_one_record_print_as_one_record_each(monkeypatch):
    host = SimpleNamespace(print_prefix="[lab] ")
    lines = ["+ saal1 (1001): new, provisioned", "- saal9 (1009): removed", "~ saal2 (1002): password"]
    records: list[logging.LogRecord] = []
    monkeypatch.setattr(
        logger, "info", lambda msg: records.append(logging.LogRecord("x", logging.INFO, "", 0, msg, None, None))
    )
    _log_lines(host, lines, "will change: ")
    joined = LogFormatter().format(records[0])
    each = [
        LogFormatter().format(logging.LogRecord("x", logging.INFO, "", 0, f"[lab] will change: {line}", None, None))
        for line in lines
    ]
    assert len(records) == 1 and joined == "\n".join(each)
    records.clear()
    _log_lines(host, [])
    assert records == []
