"""Load, validate and render one event directory in this fresh process, as a deploy does before
it connects, and say how long it took and how many passwords zxcvbn judged.

    python -m lab.bench.passwords EVENT_DIR      (TELEVOC_SECRET_FILE, XDG_CACHE_HOME as given)

Prints one line of JSON: `imports` (roles.event and roles.plan), `validate`
(roles.event.load_directory: YAML, every rule, the passwords judged or found in the record of
passwords judged strong, roles/event/strength_record.py), `render` (roles.plan.buildup: every
file of the run), each in wall and CPU seconds; `judged` (how many passwords were handed to
zxcvbn), `zxcvbn_imported`, `phones`. The benchmark runs it with an empty record (cold) and
again with the record that run left (warm); a fresh process each time, so nothing is kept in
memory between them.
"""

from __future__ import annotations

import json
import sys
import time


def _timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str]) -> int:
    (event_dir,) = argv
    wall, cpu = time.perf_counter(), time.process_time()
    from roles import plan
    from roles.event import load_directory, unique

    imports = (time.perf_counter() - wall, time.process_time() - cpu)
    judged = 0
    weakness = unique.weakness

    def counted(password, user_inputs):
        nonlocal judged
        judged += 1
        return weakness(password, user_inputs)

    unique.weakness = counted  # the one caller of zxcvbn
    directory, validate, validate_cpu = _timed(lambda: load_directory(event_dir))
    _, render, render_cpu = _timed(lambda: plan.buildup(directory))
    result = {
        "phones": len(directory.accounts),
        "imports": imports[0],
        "imports_cpu": imports[1],
        "validate": validate,
        "validate_cpu": validate_cpu,
        "render": render,
        "render_cpu": render_cpu,
        "judged": judged,
        "zxcvbn_imported": "zxcvbn" in sys.modules,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
