"""The PBX read once per run (roles/snapshot.py): which files each role compares, where.

    snapshot = pbx.read()     # in deploy.py / teardown.py, before the first step

Every path comes from the roles' settings, so `--data` moves them here too.
"""

from __future__ import annotations

import posixpath

from pyinfra import host
from pyinfra.api import deploy

from roles import asterisk, nixos, runs, snom
from roles.asterisk.deploy import CREDENTIALS_FILE, SUMMARY_FILE
from roles.asterisk.render import CONF_FILES
from roles.nixos.deploy import APPLIED_MARKER
from roles.nixos.render import PROVISIOND_FILE
from roles.names import PROVISIONING_CONTROL, PROVISIONING_SERVICE
from roles.settings import defaults, read as read_settings
from roles.snapshot import NAMES, PbxSnapshot, Snapshot

ALL_SETTINGS = (*asterisk.SETTINGS, *nixos.SETTINGS, *snom.SETTINGS, *runs.SETTINGS)


class Paths:
    """Where each role keeps what it compares (from the settings of this run)."""

    def __init__(self, settings):
        s = settings
        here = posixpath.dirname(s.nixos__module_path)
        self.module = s.nixos__module_path
        self.provisiond = posixpath.join(here, PROVISIOND_FILE)
        self.applied = posixpath.join(here, APPLIED_MARKER)
        self.configuration = s.nixos__configuration
        self.import_name = s.nixos__module_path.replace("/etc/nixos/", "", 1)
        self.asterisk_etc = tuple(f"/etc/asterisk/{name}" for name in CONF_FILES)
        self.secrets = s.asterisk__secrets_path
        self.credentials = posixpath.join(posixpath.dirname(s.asterisk__secrets_path), CREDENTIALS_FILE)
        self.summary = posixpath.join(posixpath.dirname(s.asterisk__secrets_path), SUMMARY_FILE)
        self.pending = s.snom__pending_path
        self.manifest = posixpath.join(posixpath.dirname(s.snom__pending_path), "provisioning.manifest")
        self.control = posixpath.join(s.snom__provisioning_dir, PROVISIONING_CONTROL)
        self.provisioning_state = f"/var/lib/{PROVISIONING_SERVICE}/state.json"
        self.teardown_record = s.snom__teardown_record
        self.run_marker = s.televoc_run_marker

    @property
    def digests(self) -> tuple[str, ...]:
        return (self.module, self.provisiond, self.applied, *self.asterisk_etc, self.secrets,
                self.credentials, self.summary, self.control, self.teardown_record)

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.manifest, NAMES + self.pending, self.provisioning_state, self.teardown_record,
                self.run_marker)


def paths() -> Paths:
    return Paths(read_settings(ALL_SETTINGS))


@deploy("PBX", data_defaults=defaults(ALL_SETTINGS))
def read() -> Snapshot:
    """Everything the run compares, in one remote command, before anything changes."""
    settings = read_settings(ALL_SETTINGS)
    where = Paths(settings)
    return host.get_fact(
        PbxSnapshot,
        digests=where.digests,
        texts=where.texts,
        cli_command=settings.asterisk__cli,
        configuration=where.configuration,
        module=where.import_name,
    )
