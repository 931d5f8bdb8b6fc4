"""One read of the PBX per run: everything the steps compare, in one remote command.

A run with nothing to change costs what pyinfra's own floor costs plus this one command: each
step decides from the snapshot (taken before anything is changed) instead of asking the PBX
itself. A step that changes something reads what it needs again after its change (the reload
confirms from a fresh read, the verification polls while phones are missing).

    snapshot = pbx.read()                              # roles/pbx.py gathers the paths
    snapshot.digest("/var/lib/televoc/pjsip-secrets.conf")   # FileDigest or None (absent)
    snapshot.text("/var/lib/televoc/notify-pending")         # lines, or None (absent)
    snapshot.asterisk                                        # PbxState (running=False: down)
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

from pyinfra.api import FactBase
from pyinfra.api.exceptions import FactProcessError

from roles.shared import packed, pbxcli
from roles.shared.files import FileDigest, FileDigests

SECTION = "@@snapshot "
MISSING = "@@snapshot-missing"
NAMES = "names:"


@dataclass(frozen=True)
class Snapshot:
    """What the PBX held when the run began.

    + digests: path -> FileDigest, None when absent
    + texts: path -> lines, None when absent
    + asterisk: what Asterisk serves (running=False when its CLI cannot connect)
    + import_lines: configuration.nix lines that name televoc's module; None: no such file
    + outputs: name -> what a role's own command printed (the live firewall, say)
    + not_files: path -> what is there instead (directory, fifo, ...) for each path read that
      exists but is not a file: televoc keeps only files there (runs.started refuses to start)
    """

    digests: dict[str, FileDigest | None] = field(default_factory=dict)
    texts: dict[str, list[str] | None] = field(default_factory=dict)
    asterisk: pbxcli.PbxState = field(default_factory=lambda: pbxcli.PbxState(running=False))
    import_lines: list[str] | None = None
    outputs: dict[str, list[str]] = field(default_factory=dict)
    not_files: dict[str, str] = field(default_factory=dict)

    def digest(self, path: str) -> FileDigest | None:
        if path not in self.digests:
            raise KeyError(f"{path} is not in the snapshot (roles/pbx.py lists what it reads)")
        return self.digests[path]

    def text(self, path: str) -> list[str] | None:
        if path not in self.texts:
            raise KeyError(f"{path} is not in the snapshot (roles/pbx.py lists what it reads)")
        return self.texts[path]

    def text_json(self, path: str) -> dict | None:
        """A JSON object file; None when absent; ValueError when it is not a JSON object."""
        lines = self.text(path)
        if lines is None:
            return None
        value = json.loads("\n".join(lines))
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected a JSON object")
        return value


class PbxSnapshot(FactBase[Snapshot]):
    """
    Digests of `digests`, the contents of `texts`, the lines of `configuration` that name
    `module`, Asterisk's state and what each of `commands` prints, in one remote command.

    + digests, texts: paths
    + cli_command: the Asterisk CLI (with -C)
    + configuration, module: configuration.nix and the module's name to look for
    + commands: (name, shell command) of the roles' own readings; they run side by side with
      the rest (their answers in Snapshot.outputs)
    + aors: about how many aors Asterisk serves (how its state is read: pbxcli.aor_listings)
    """

    @staticmethod
    def default():
        return None

    def command(
        self, digests, texts, cli_command: str, configuration: str, module: str, commands=(), aors: int | None = None
    ) -> str:
        q = shlex.quote
        # Asterisk's state and the roles' commands run in the background while the files are
        # read; printed at the end.
        background = [f'( {pbxcli.state_script(cli_command, aors)} ) > "$o/asterisk" 2>&1 & true']
        background += [f'( {shell} ) > "$o/{i}" 2>&1 & true' for i, (_, shell) in enumerate(commands)]
        parts = ["o=$(mktemp -d) || exit 1", *background]
        parts += [f"echo {q(SECTION + 'digests')}", FileDigests().command(tuple(digests)).get_raw_value()]
        reals = [p[len(NAMES) :] if p.startswith(NAMES) else p for p in (*digests, *texts)]
        if reals:  # what is there instead of a file: "directory|/var/lib/televoc/notify-pending"
            parts.append(
                f"echo {q(SECTION + 'notfiles')}; for f in {' '.join(q(p) for p in reals)}; do "
                'if [ -e "$f" ] && [ ! -f "$f" ]; then echo "$(stat -L -c %F "$f")|$f"; fi; done'
            )
        for path in texts:
            # names:PATH keeps only the lines that are phone names (the pending-NOTIFY list)
            names = path.startswith(NAMES)
            real = path[len(NAMES) :] if names else path
            read = (
                f"LC_ALL=C grep -a -E {q('^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$')} {q(real)}" if names else f"cat {q(real)}"
            )
            parts.append(
                f"echo {q(SECTION + 'text ' + path)}; if [ -e {q(real)} ]; then {read}; echo; else echo {MISSING}; fi"
            )
        parts.append(
            f"echo {q(SECTION + 'import')}; if [ -e {q(configuration)} ]; then "
            f"grep -F -e {q(module)} {q(configuration)}; else echo {MISSING}; fi"
        )
        parts.append("wait")
        parts.append(f'echo {q(SECTION + "asterisk")}; cat "$o/asterisk"')
        parts += [f'echo {q(SECTION + "output " + name)}; cat "$o/{i}"' for i, (name, _) in enumerate(commands)]
        parts.append('rm -rf "$o"')
        # One line back (roles/packed.py): printable ASCII only, compressed.
        return packed.command("; ".join(parts))

    def process(self, output):
        sections: dict[str, list[str]] = {}
        current = None
        for line in packed.lines(output):
            if line.startswith(SECTION):
                current = line[len(SECTION) :].rstrip("\n")
                sections[current] = []
            elif current is not None:
                sections[current].append(line)
        if "asterisk" not in sections or "digests" not in sections:
            raise FactProcessError("the PBX did not answer every part of the snapshot")
        texts: dict[str, list[str] | None] = {}
        outputs = {name[7:]: lines for name, lines in sections.items() if name.startswith("output ")}
        for name, lines in sections.items():
            if name.startswith("text "):
                if [line.strip() for line in lines] == [MISSING]:
                    texts[name[5:]] = None
                else:
                    texts[name[5:]] = lines[:-1] if lines and lines[-1] == "" else lines
        imported = sections.get("import", [])
        try:
            asterisk = pbxcli.parse_state(sections["asterisk"])
        except ValueError as e:
            raise FactProcessError(f"unexpected Asterisk CLI output: {e}") from e
        return Snapshot(
            digests=FileDigests().process(sections["digests"]),
            texts=texts,
            asterisk=asterisk,
            import_lines=None if [line.strip() for line in imported] == [MISSING] else imported,
            outputs=outputs,
            not_files=_not_files(sections.get("notfiles", [])),
        )


def current_of(snapshot: Snapshot | None, path: str) -> dict:
    """`current=` for managed_file from the run's snapshot, when it read `path` ({} otherwise:
    the step reads it itself)."""
    if snapshot is None or path not in snapshot.digests:
        return {}
    return {"current": snapshot.digests[path]}


def _not_files(lines: list[str]) -> dict[str, str]:
    """path -> kind from the snapshot's "kind|path" lines."""
    found = {}
    for line in lines:
        kind, sep, path = line.strip().partition("|")
        if sep and path:
            found[path] = kind
    return found
