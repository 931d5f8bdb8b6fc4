"""One remote command, several answers: each printed after a marker line (`echo '@@x name'`),
split back into its answers by name. Every fact that asks several things at once (Asterisk's
state, the firewall, the NixOS host, the preflight) reads its output with this.

    split(["@@x a", "1", "@@x b", "2", "3"], "@@x ")   # {"a": ["1"], "b": ["2", "3"]}
"""

from __future__ import annotations

from collections.abc import Iterable


def split(lines: Iterable[str], mark: str) -> dict[str, list[str]]:
    """The lines after each marker line (`mark` + name), by name; lines before the first
    marker belong to no answer and are dropped."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines:
        if line.startswith(mark):
            current = line[len(mark) :].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections
