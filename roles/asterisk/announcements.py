"""The announcements' audio files on the PBX: one upload and one command for all of them,
only when their manifest differs from the one in place (or removed when the event has none).

    announcements_in_place(announcements=config.announcements, current=snapshot.digest(path))
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, QuoteString, StringCommand, operation

from roles.shared.files import UNREAD, FileDigests, sha256, swap_in_archive, write_failure_cause

from .render import Announcements

MANIFEST_MEMBER = ".manifest"


def archive(announcements: Announcements) -> bytes:
    """The files and their manifest as a gzipped tar; the same files give the same bytes."""
    raw = io.BytesIO()
    members = {**announcements.files, MANIFEST_MEMBER: announcements.manifest.encode()}
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o640, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def _publish(state, host, announcements: Announcements, group: str) -> bool:
    """Upload the archive and swap the directory; whatever fails leaves the old one in place
    and nothing of this run's upload behind."""
    directory = announcements.directory
    parent = posixpath.dirname(directory)
    upload = f"{parent}/.announcements.tar.gz"
    _, done, _ = swap_in_archive(host, archive(announcements), upload, directory, group, announcements.manifest_path)
    if done:
        return True
    logger.error(
        f"{host.print_prefix}could not put the announcements into {directory}: "
        f"{write_failure_cause(host, parent)}. The announcements in place before stay."
    )
    return False


@operation()
def announcements_in_place(announcements: Announcements, group: str = "asterisk", current=UNREAD):
    """
    The announcements' audio files in their directory (root:`group` 0640), uploaded as one
    archive with one command when their manifest differs from the one on the PBX; removed
    (one command) when the event has none.

    + announcements: the rendered Announcements (AsteriskConfig.announcements)
    + group: the group that reads them (Asterisk's)
    + current: the manifest's FileDigest as the run's snapshot read it (None: absent);
      without it, the operation reads it

    .. code:: python

        announcements_in_place(name="Announcements are in place", announcements=config.announcements)
    """
    path = announcements.manifest_path
    if current is UNREAD:
        current = host.get_fact(FileDigests, paths=(path,)).get(path)
    count = len(announcements.files)
    if not announcements.files:
        if current is None:
            host.noop("the event has no announcements")
            return
        yield StringCommand("rm", "-rf", QuoteString(announcements.directory), QuoteString(path))
        return
    if current is not None and current.sha256 == sha256(announcements.manifest):
        host.noop(f"{count} announcement{'s are' if count != 1 else ' is'} already in place")
        return
    parent = posixpath.dirname(announcements.directory)
    yield StringCommand("install", "-d", "-m", "750", "-o", "root", "-g", QuoteString(group), QuoteString(parent))
    yield FunctionCommand(_publish, (announcements, group), {})
