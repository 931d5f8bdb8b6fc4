"""A file with known content, mode and owner, written atomically; shared by every role."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from pyinfra import host, logger
from pyinfra.api import (
    FactBase,
    FunctionCommand,
    HiddenValue,
    QuoteString,
    StringCommand,
    operation,
)

from roles.shared import packed


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    mode: str  # octal, as stat prints it: "640"
    user: str
    group: str


class FileDigests(FactBase):
    """
    sha256, mode and owner of several files in one remote command; None for a missing file.
    Symlinks are followed (a NixOS /etc file is a link into the store).

    + paths: the files

    .. code:: python

        host.get_fact(FileDigests, paths=("/etc/asterisk/pjsip.conf",))
    """

    _ROW = re.compile(r"^(?P<sha>[0-9a-f]{64}|-) (?P<mode>[0-7]+|-) (?P<user>\S+) (?P<group>\S+) (?P<path>.+)$")

    @staticmethod
    def default():
        return {}

    # One sha256sum and one stat for all the files (not a few processes per file: 20 files
    # took 0.07 s), joined by path: a line "<sha> <mode> <user> <group> <path>" each.
    _JOIN = (
        "awk 'NR == FNR { s[substr($0, 67)] = substr($0, 1, 64); next } "
        '{ p = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", p); if (p in s) print s[p], $1, $2, $3, p }\''
    )

    def command(self, paths) -> StringCommand:
        bits = ["(", "set", "--;", "for", "f", "in", *[QuoteString(p) for p in paths], ";", "do"]
        bits += [
            'if [ -f "$f" ]; then set -- "$@" "$f"; else echo "- - - - $f"; fi;',
            "done;",
            "if [ $# -gt 0 ]; then t=$(mktemp -d) || exit 1;",
            'sha256sum -- "$@" > "$t/sha"; stat -L -c \'%a %U %G %n\' -- "$@" > "$t/stat";',
            f'{self._JOIN} "$t/sha" "$t/stat"; rm -rf "$t"; fi',
            ")",
        ]
        return StringCommand(*bits)

    def process(self, output):
        result: dict[str, FileDigest | None] = {}
        for line in output:
            match = self._ROW.match(line.strip())
            if not match:
                continue
            if match["sha"] == "-":
                result[match["path"]] = None
            else:
                result[match["path"]] = FileDigest(match["sha"], match["mode"], match["user"], match["group"])
        return result


def flag(value) -> bool:
    """A yes/no data value, as Python or as `--data NAME=VALUE` text gives it."""
    if isinstance(value, str):
        if value.strip().lower() in ("true", "yes", "1", "on"):
            return True
        if value.strip().lower() in ("false", "no", "0", "off", ""):
            return False
        raise ValueError(f"expected true or false, not {value!r}")
    return bool(value)


def _text(content: str | HiddenValue) -> str:
    return content.unmask() if isinstance(content, HiddenValue) else content


def sha256(content: str | HiddenValue) -> str:
    return hashlib.sha256(_text(content).encode()).hexdigest()


def write_failure_cause(host, directory: str) -> str:
    """Why a file cannot be written in `directory`, in the kernel's words (read-only file
    system, no space left, ...), with the free space there."""
    probe = shlex.quote(f"{directory}/.televoc-probe")
    script = (
        f"dd if=/dev/zero of={probe} bs=64k count=1 2>&1 >/dev/null | grep -v records; rm -f {probe}; "
        f"df -Pk {shlex.quote(directory)} 2>/dev/null | tail -n 1"
    )
    _, output = host.run_shell_command(StringCommand("sh", "-c", shlex.quote(script)), print_output=False)
    lines = [line.strip() for line in output.output_lines if line.strip()]
    reasons = [line.rsplit(": ", 1)[-1] for line in lines if line.startswith("dd:")]
    free = [line.split()[3] for line in lines if len(line.split()) >= 6 and line.split()[3].isdigit()]
    space = f"{int(free[0]) // 1024} MB free there" if free else "free space unknown"
    return f"{reasons[0] if reasons else 'the upload failed'} ({directory}: {space})"


STAGED, REPLACED = ".televoc-new", ".televoc-old"  # beside a directory swap_in_archive replaces
UNLIKE = "@@televoc-unlike-manifest"  # swap_in_archive(keep=True): a served file is not the manifest's


def swap_in_archive(
    host,
    data: bytes,
    upload: str,
    directory: str,
    group: str,
    manifest_path: str,
    before_swap: Sequence[str] = (),
    keep: bool = False,
) -> tuple[bool, bool, bool]:
    """Upload `data` (a gzipped tar with a `.manifest` member: `sha256  name` lines, what
    sha256sum -c reads) to `upload` (0600), unpack it into `directory` + STAGED as
    root:`group` (directory 0750, files 0640), run the shell lines `before_swap` there, move
    its manifest to `manifest_path` and swap it in for `directory`, all in one remote
    command. (uploaded, done, unlike): whatever fails leaves the old directory in place and
    neither the upload nor the staged directory behind (the caller says why, with
    write_failure_cause); `unlike`: it failed because a kept file is not the manifest's (or
    the served directory is gone).

    `keep`: the archive holds only the files that differ from the served directory's; the
    staged directory starts as hard links to the served files (nothing copied, nothing
    written: 10,000 files took 0.3 to 2.6 s to unpack, depending on the disk's load), the
    archive's files replace theirs (unlinked first: a served file is never written
    through), every file must then match the manifest (sha256sum -c) or nothing is swapped,
    and what the manifest does not name (a file, a link) is removed."""
    q = shlex.quote
    new, old = directory + STAGED, directory + REPLACED
    # the manifest's names, sorted (keep): beside the manifest, where only the manifest's
    # readers may read (the names are the phones' MACs, what a guesser is kept from)
    names = manifest_path + STAGED + "-names"
    try:
        host.put_file(BytesIO(data), upload, print_output=False)
        uploaded = True
    except Exception:  # noqa: BLE001 (SFTP errors: OSError, IOError, SSHException)
        uploaded = False
    start = (
        [f"[ -d {q(directory)} ] || {{ echo {UNLIKE}; exit 1; }}", f"cp -al {q(directory)} {q(new)}"]  # links
        if keep
        else [f"install -d -m 750 -o root -g {q(group)} {q(new)}"]
    )
    checked = [f"( cd {q(new)} && sha256sum -c --quiet --status .manifest ) || {{ echo {UNLIKE}; exit 1; }}"]
    checked = checked if keep else []
    pruned = [
        f"cut -c67- {q(new + '/.manifest')} | LC_ALL=C sort > {q(names)}",
        f"( cd {q(new)} && find . ! -type d ! -path ./.manifest | sed 's|^[.]/||' | LC_ALL=C sort"
        f" | LC_ALL=C comm -23 - {q(names)} | xargs -r -d '\\n' rm -f -- )",
    ]
    script = [
        "set -e",
        f"trap 'rm -rf {q(new)} {q(upload)} {q(names)}' EXIT",  # on success too: all gone by then
        f"chmod 600 {q(upload)}",
        f"rm -rf {q(new)} {q(old)}",
        f"mkdir -p {q(os.path.dirname(directory))}",
        *start,
        f"tar -xzf {q(upload)} -C {q(new)} --no-same-owner --unlink-first",
        f"chown -R root:{q(group)} {q(new)}",
        f"chmod 750 {q(new)}",
        f"find {q(new)} -type f -exec chmod 640 {{}} +",
        *checked,
        *before_swap,
        *(pruned if keep else []),
        f"mv {q(new + '/.manifest')} {q(manifest_path)}",
        f"if [ -e {q(directory)} ]; then mv {q(directory)} {q(old)}; fi",
        f"mv {q(new)} {q(directory)}",
        f"rm -rf {q(old)}",
    ]
    unlike = False
    if uploaded:
        status, output = host.run_shell_command(StringCommand("sh", "-c", q("; ".join(script))), print_output=False)
        if status:
            return True, True, False
        unlike = UNLIKE in output.stdout_lines
    host.run_shell_command(StringCommand("rm", "-rf", q(upload), q(new), q(names)), print_output=False)
    return uploaded, False, unlike


COMPRESS_FROM = 16 * 1024  # bytes from which put_file_atomically uploads gzipped (provisiond.py: 22 kB)


def put_file_atomically(
    host, data: bytes, path: str, mode: str = "600", user: str = "root", group: str = "root", unchanged: str = ""
) -> bool:
    """
    Upload `data` beside `path` and rename it into place (with owner and mode); on failure
    remove the partial upload, and log which file, why (read-only, disk full, ...) and
    `unchanged` (what still holds, e.g. "Asterisk keeps serving its current config").
    For FunctionCommands; managed_file uses it too.
    """
    directory, name = os.path.split(path)
    temp = f"{directory}/.{name}.televoc-new"
    # A large file goes up gzipped and is unpacked beside its target (the SSH file transfer
    # moves about 20 MB/s here: 10,000 phones' module, 6.8 MB, took 0.4 s; gzipped, 0.02 s).
    zipped = len(data) >= COMPRESS_FROM
    error = None
    try:
        host.put_file(
            BytesIO(gzip.compress(data, 1, mtime=0) if zipped else data),
            f"{temp}.gz" if zipped else temp,
            print_output=False,
        )
    except Exception as e:  # noqa: BLE001 (SFTP errors come as OSError, IOError, SSHException)
        error = str(e) or type(e).__name__
    if error is None:
        unzip = ["(", "umask", "077;", "gzip", "-dc", QuoteString(f"{temp}.gz"), ">", QuoteString(temp), ")", "&&"]
        unzip += ["rm", "-f", QuoteString(f"{temp}.gz"), "&&"]
        status, output = host.run_shell_command(
            StringCommand(
                *(unzip if zipped else []),
                "chown",
                QuoteString(f"{user}:{group}"),
                QuoteString(temp),
                "&&",
                "chmod",
                mode,
                QuoteString(temp),
                "&&",
                "mv",
                "-f",
                "-T",  # a directory at `path` is an error, not a place to move into
                QuoteString(temp),
                QuoteString(path),
            ),
            print_output=False,
        )
        if status:
            return True
        error = " ".join(output.stderr_lines)[:200]
    host.run_shell_command(StringCommand("rm", "-f", QuoteString(temp), QuoteString(f"{temp}.gz")), print_output=False)
    logger.error(
        f"{host.print_prefix}could not write {path}: {write_failure_cause(host, directory)}. The partial upload "
        f"was removed and {path} is as it was. {unchanged}".rstrip()
    )
    return False


def _reviewing() -> bool:
    """pyinfra's --diff, at the moment a change is shown once: during change detection, or
    while executing when detection was skipped (-y)."""
    from pyinfra import state

    from roles.shared.ops import probing

    return (
        bool(state.config.DIFF) and not probing() and (not state.is_executing or not state.should_check_for_changes())
    )


def _log_diff(path: str, current, text: str) -> None:
    import difflib

    old = (host.get_fact(TextFile, path=path) or []) if current is not None else []
    diff = difflib.unified_diff(old, text.splitlines(), f"{path} (on the PBX)", f"{path} (this run)", lineterm="", n=2)
    for line in diff:
        logger.info(f"    {line}")


def _write(state, host, content, path, mode, user, group, unchanged) -> bool:
    return put_file_atomically(host, _text(content).encode(), path, mode, user, group, unchanged)


UNREAD = object()  # "not read yet": managed_file reads the file's digest itself


@operation()
def managed_file(
    path: str,
    content: str | HiddenValue,
    mode: str = "644",
    user: str = "root",
    group: str = "root",
    dir_mode: str | None = None,
    unchanged: str = "",
    current=UNREAD,
    show_diff: bool = False,
):
    """
    Put `content` at `path` with `mode` and owner, atomically (upload beside it, then rename).
    The content never appears in output or commands; pass a HiddenValue for secrets.

    + path: the file on the host
    + content: its text (str or HiddenValue)
    + mode, user, group: of the file
    + dir_mode: its directory gets this mode, root and the file's group (created if missing);
      None: an existing directory is left as it is, a missing one is created 0755 root:root
    + unchanged: what still holds when the file cannot be written, for the message
    + current: the file's FileDigest as the run's snapshot read it (None: absent); without
      it, the operation reads it (one remote command)
    + show_diff: with pyinfra's --diff, print the unified diff of the change (never for a
      file that holds a secret: its content would be printed)

    .. code:: python

        managed_file(name="Secrets installed", path="/var/lib/televoc/x.conf",
                     content=HiddenValue(text), mode="640", group="asterisk")
    """
    if current is UNREAD:
        current = host.get_fact(FileDigests, paths=(path,)).get(path)
    wanted = FileDigest(sha256(content), mode, user, group)
    if current == wanted:
        host.noop(f"{path} is already up to date")
        return
    if show_diff and not isinstance(content, HiddenValue) and _reviewing():
        _log_diff(path, current, _text(content))
    directory = os.path.dirname(path)
    if dir_mode is None:
        yield StringCommand("mkdir", "-p", QuoteString(directory))
    else:
        yield StringCommand(
            "install", "-d", "-m", dir_mode, "-o", "root", "-g", QuoteString(group), QuoteString(directory)
        )
    yield FunctionCommand(_write, (content, path, mode, user, group, unchanged), {})


class TextFile(FactBase):
    """
    The lines of a text file (UTF-8); None when it does not exist. It travels packed, every
    byte of it (roles/shared/packed.py): at 10,000 phones the passwords file (40,000 lines)
    took 0.3 to 0.4 s to read line by line, pyinfra handing each line on its own.

    + path: the file
    """

    _MISSING = "@@televoc-missing"

    @staticmethod
    def default():
        return None

    def command(self, path) -> StringCommand:
        q = shlex.quote(path)
        script = f"if [ -e {q} ]; then {packed.command(f'cat {q}', printable=False)}; else echo {self._MISSING}; fi"
        return StringCommand("sh", "-c", shlex.quote(script))

    def process(self, output):
        if [line.strip() for line in output if line.strip()] == [self._MISSING]:
            return None
        return packed.lines(output, "utf-8")


# (host, path, sha256 as the run's snapshot found it) -> the file's lines, read once per run
_read_once: dict[tuple[str, str, str], list[str] | None] = {}


def text_as_found(host, path: str, found) -> list[str] | None:
    """The lines of `path` as the run's snapshot found it (`found`: its FileDigest there; None:
    absent, nothing read), read once per run: pyinfra runs an operation's decision up to three
    times (televoc's probe, the operation, its execution), and at 10,000 phones each read of
    the summary or the credentials was a round trip and 0.1 s of its output."""
    if found is None:
        return None
    key = (host.name, path, found.sha256)
    if key not in _read_once:
        _read_once[key] = host.get_fact(TextFile, path=path)
    return _read_once[key]


class ExistingPaths(FactBase):
    """
    Which of `paths` exist (files, directories or links), in one remote command.

    + paths: the paths to look for
    """

    @staticmethod
    def default():
        return []

    def command(self, paths) -> StringCommand:
        return StringCommand(
            "for",
            "p",
            "in",
            *[QuoteString(p) for p in paths],
            ";",
            "do",
            'if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi;',
            "done",
        )

    def process(self, output):
        return [line.strip() for line in output if line.strip()]


@operation()
def paths_absent(paths, present=None, removed: list[str] | None = None):
    """
    Remove files and directories (recursively) that exist, in one remote command.

    + paths: what must not exist
    + present: which of them exist, as the run's snapshot found (None: read them)
    + removed: gets "files: <those removed>" once they are (a teardown's Leftovers.removed)
    """
    if present is None:
        present = host.get_fact(ExistingPaths, paths=tuple(paths))
    present = [p for p in paths if p in set(present)]  # in the order of `paths`
    if not present:
        host.noop(f"already absent: {', '.join(paths)}")
        return
    yield StringCommand("rm", "-rf", *[QuoteString(p) for p in present])
    if removed is not None:
        yield FunctionCommand(_noted, (removed, f"files: {', '.join(present)}"), {})


def _noted(state, host, removed: list[str], text: str) -> bool:
    removed.append(text)
    return True


def run_per_line(host, lines: list[str], list_path: str, script: str) -> tuple[bool, list[str]]:
    """Run `script` (sh, reading the list on its standard input) over `lines` uploaded to
    `list_path` first: a list of 10,000 phones does not fit on one command line (the kernel
    refuses a command over 128 KiB). The list is removed afterwards. (status, output lines)"""
    if not put_file_atomically(host, "".join(f"{line}\n" for line in lines).encode(), list_path, "600"):
        return False, []
    command = f"{{ {script} ; }} < {shlex.quote(list_path)}; rc=$?; rm -f {shlex.quote(list_path)}; exit $rc"
    status, output = host.run_shell_command(StringCommand("sh", "-c", shlex.quote(command)), print_output=False)
    return status, output.output_lines
