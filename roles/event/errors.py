"""The one error of the event directory: every problem at once."""

from __future__ import annotations


class EventError(Exception):
    """The event directory cannot be deployed; `problems` lists every reason, one line each."""

    def __init__(self, problems: list[str], directory: str | None = None):
        self.problems = problems
        self.directory = directory
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        where = f"the event directory {directory}" if directory else "the event directory"
        lines = "\n".join(f"  - {p}" for p in problems)
        # This is what pyinfra shows (group_data/all.py raises it as an InventoryError).
        super().__init__(f"{where} has {count}; nothing was deployed:\n{lines}")
