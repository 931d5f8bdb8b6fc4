"""What kind of NixOS host the PBX is: configured by a flake or by configuration.nix alone.
Pure: the command that asks the host, and its parser.

`nixos-rebuild` uses /etc/nixos/flake.nix when it exists (a link: its target's directory is
the flake), and then evaluates `nixosConfigurations.<host name>` of that flake. A flake in a
git repository sees only the files git knows: televoc's module, written next to the crew's
files, is invisible to it until it is in git's index. So the run reads, in its one remote
command: the host name, the flake's directory, whether it is a git repository, which of
televoc's files git knows, whether flake.lock exists, and the lines of the flake's .nix files
that name televoc's module.
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass

from roles.shared.sections import split

FLAKE = "/etc/nixos/flake.nix"
MARK = "@@host "
# git refuses a repository another user owns ("dubious ownership") unless told it is safe.
GIT = "git -c safe.directory='*'"


@dataclass(frozen=True)
class NixosHost:
    """The PBX as NixOS sees it.

    + name: its host name (the flake's default `nixosConfigurations.<name>`)
    + flake: the flake's directory; None when the host has no /etc/nixos/flake.nix
    + git: the flake is in a git repository
    + indexed: which of the paths asked about git knows (committed, staged or intent-to-add)
    + locked: the flake has a flake.lock
    + import_lines: lines of the flake's .nix files that name televoc's module
      ("configuration.nix:5:  imports = [ ./televoc/asterisk.nix ];")
    """

    name: str
    flake: str | None = None
    git: bool = False
    indexed: frozenset[str] = frozenset()
    locked: bool = False
    import_lines: tuple[str, ...] = ()


def command(paths: tuple[str, ...], import_name: str) -> str:
    """The shell command that prints what NixosHost holds, each part after a marker line.
    `paths`: televoc's files in the flake (is each in git's index?); `import_name`: the
    module as a .nix file names it (televoc/asterisk.nix)."""
    q = shlex.quote
    indexed = "; ".join(
        f'if [ -n "$({GIT} -C "$d" ls-files -- {q(p)} 2>/dev/null)" ]; then echo {q(p)}; fi' for p in paths
    )
    return (
        f"echo '{MARK}name'; hostname; "
        f'echo \'{MARK}flake\'; if [ -e {FLAKE} ]; then d=$(dirname "$(readlink -f {FLAKE})"); echo "$d"; '
        f"echo '{MARK}git'; {GIT} -C \"$d\" rev-parse --show-toplevel 2>/dev/null; "
        f"echo '{MARK}indexed'; {indexed}; "
        f"echo '{MARK}lock'; if [ -e \"$d/flake.lock\" ]; then echo yes; fi; "
        f"echo '{MARK}imports'; ( cd \"$d\" && grep -n -F -e {q(import_name)} -- *.nix 2>/dev/null ); fi"
    )


def parse(lines: list[str]) -> NixosHost:
    sections = {
        name: [line.rstrip("\n") for line in answer if line.strip()] for name, answer in split(lines, MARK).items()
    }
    name = (sections.get("name") or ["nixos"])[0].strip()
    flake = sections.get("flake") or []
    return NixosHost(
        name=name,
        flake=flake[0].strip() if flake else None,
        git=bool(sections.get("git")),
        indexed=frozenset(p.strip() for p in sections.get("indexed", [])),
        locked=bool(sections.get("lock")),
        import_lines=tuple(sections.get("imports", [])),
    )


def inside(path: str, directory: str) -> bool:
    """`path` lies in `directory` (both absolute)."""
    return posixpath.commonpath([posixpath.normpath(path), posixpath.normpath(directory)]) == posixpath.normpath(
        directory
    )


def imported(lines: tuple[str, ...] | list[str]) -> bool:
    """Some line names the module outside a comment (`file:line:text` or plain text)."""
    for line in lines:
        text = line.split(":", 2)[-1] if line.count(":") >= 2 and line.split(":", 2)[1].isdigit() else line
        if text.strip() and not text.lstrip().startswith("#"):
            return True
    return False
