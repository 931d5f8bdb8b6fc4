"""What NixOS said when it refused a configuration, read for the crew. Pure: no host, no I/O.

When `nixos-rebuild` stops at evaluation (an error, a failed assertion, a definition that
conflicts with the crew's own), its message names files and lines, or an option and the
files that define it. Where it points into televoc's module, the crew should see that part
of the module beside NixOS's words, without opening the file on the server.
"""

from __future__ import annotations

import re

# switch-to-configuration's exit status when the new generation is active but units failed
UNITS_FAILED = 4


def pointed_lines(output: list[str], module_text: str, module_path: str) -> list[tuple[int, str]]:
    """(line number, line) of televoc's module that NixOS's `output` points at: a position
    (`asterisk.nix:42:5`), an option it defines (`The option `services.asterisk.enable' ...`
    with the module among the definitions), or one of its assertions' messages."""
    lines = module_text.splitlines()
    name = re.escape(module_path.rsplit("/", 1)[-1])
    found: list[int] = []
    for line in output:
        for match in re.finditer(rf"{name}:(\d+)(?::\d+)?", line):
            found.append(int(match[1]))
    text = "\n".join(output)
    if module_path.rsplit("/", 1)[-1] in text:
        for option in re.findall(r"[Tt]he option `([^']+)'", text):
            found += _defining(lines, option.split("."))
    for message in re.findall(r"^\s*- (televoc: .{20})", text, re.M):
        found += [i + 1 for i, line in enumerate(lines) if message in line]
    seen = list(dict.fromkeys(n for n in found if 0 < n <= len(lines)))
    return [(n, lines[n - 1].strip()) for n in seen[:5]]


def _defining(lines: list[str], path: list[str]) -> list[int]:
    """The line numbers in the module that define option `path` (its last name, inside the
    block its parent opens, else anywhere)."""
    last = re.escape(path[-1].strip('"'))
    defines = re.compile(rf'^\s*(?:[\w.-]+\.)?"?{last}"?\s*=')
    if len(path) > 1:
        parent = re.escape(path[-2].strip('"'))
        opens = re.compile(rf'^\s*(?:[\w.-]+\.)?"?{parent}"?\s*=\s*\{{')
        for i, line in enumerate(lines):
            if opens.match(line):
                depth = 0
                for j in range(i, len(lines)):
                    depth += lines[j].count("{") - lines[j].count("}")
                    if j > i and defines.match(lines[j]):
                        return [j + 1]
                    if depth <= 0 and j > i:
                        break
    return [i + 1 for i, line in enumerate(lines) if defines.match(line)]


def failed_units(output: list[str]) -> list[str]:
    """The units switch-to-configuration says failed ("the following units failed: a, b")."""
    for line in output:
        match = re.search(r"the following units failed: (.*)$", line)
        if match:
            return [unit.strip() for unit in match[1].split(",") if unit.strip()]
    return []
