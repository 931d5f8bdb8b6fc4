"""The deploy's client-side work for N phones, timed in this process without a host (CPU
seconds, time.process_time; the best of a few repeats).

- validate: roles.event.load_directory (YAML, the models, every rule, passwords derived);
- render: everything deploy.py renders, the run's plan (roles/plan.py buildup): the routes
  resolved, Asterisk's files with the fingerprints and the summary (render_asterisk), every
  phone's provisioning file (render_provisioning), the NixOS module around them;
- verify: what the verification does with one AsteriskState answer for N registered phones:
  parse_state on Asterisk 22's text (asterisk_text.py), registration_problems and
  registration_table.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from roles import plan
from roles.asterisk import report
from roles.asterisk.render import render_asterisk
from roles.event import load_directory, phonebook
from roles.event.routing import resolve
from roles.shared import pbxcli as cli
from roles.snom.render import provisioning_service, render_provisioning

from . import asterisk_text

SECRET_ENV = "TELEVOC_SECRET_FILE"


@contextmanager
def secret_env(path: Path):
    """TELEVOC_SECRET_FILE set to `path` within the block (the event directory's secret)."""
    old = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = old


def _cpu(function, repeats: int):
    """(the least CPU seconds of `repeats` calls, the last result)."""
    best, result = None, None
    for _ in range(repeats):
        started = time.process_time()
        result = function()
        took = time.process_time() - started
        best = took if best is None else min(best, took)
    return best, result


@dataclass
class ClientTimings:
    phones: int
    validate: float
    render: float
    verify: float
    parts: dict[str, float] = field(default_factory=dict)  # render and verify, step by step
    state_chars: int = 0  # the size of the AsteriskState answer verified


def measure(event_dir: Path, secret: Path, repeats: int = 3) -> ClientTimings:
    with secret_env(secret):
        validate, directory = _cpu(lambda: load_directory(event_dir), repeats)
    phones = directory.accounts
    parts = {}
    parts["resolve"], routing = _cpu(lambda: resolve(directory), repeats)
    parts["render_asterisk"], config = _cpu(lambda: render_asterisk(directory, routing), repeats)
    parts["render_provisioning"], _ = _cpu(lambda: render_provisioning(directory), repeats)
    parts["render_module"], _ = _cpu(lambda: plan.module(directory, config, provisioning_service(directory)), repeats)
    render, _ = _cpu(lambda: plan.buildup(directory), repeats)
    # the directory's every format (print, CSV, JSON, vCard, Yealink): not part of a deploy
    parts["directory_exports"], _ = _cpu(lambda: [r(directory) for _, r in phonebook.FORMATS.values()], repeats)

    names = [a.name for a in phones]
    output = asterisk_text.state_output(
        names, asterisk_text.snom_contacts(names), config.generation, config.dialplan_generation
    )
    lines = output.splitlines()
    parts["parse_state"], state = _cpu(lambda: cli.parse_state(lines), repeats)
    parts["registration_problems"], problems = _cpu(lambda: report.registration_problems(state, phones), repeats)
    parts["registration_table"], _ = _cpu(lambda: report.registration_table(state, phones), repeats)

    def verify():
        s = cli.parse_state(output.splitlines())
        return report.registration_problems(s, phones), report.registration_table(s, phones)

    took, (problems, _table) = _cpu(verify, repeats)
    if problems or len(state.contacts) != len(phones):
        raise AssertionError(f"the synthetic state of {len(phones)} registered phones is not all ready: {problems[:3]}")
    return ClientTimings(len(phones), validate, render, took, parts, len(output))
