"""The PBX read once per run (roles/shared/snapshot.py): what each role's steps compare.

    plan = plan.for_deploy(directory)   # in deploy.py / teardown.py, before the first step
    snapshot = pbx.read(plan)

Each role names its own files (its `snapshot_paths`, from its settings, so `--data` moves
them here too); the nixos role's come from the plan's module (the files beside it, what
NixOS serves from it).
"""

from __future__ import annotations

from pyinfra import host

from roles import asterisk, nixos, selfservice, snom
from roles.plan import Plan
from roles.shared import connection, runs
from roles.shared.ops import deploy
from roles.shared.settings import defaults
from roles.shared.settings import read as read_settings
from roles.shared.snapshot import PbxSnapshot, Snapshot

ALL_SETTINGS = (*asterisk.ALL_SETTINGS, *nixos.SETTINGS, *snom.SETTINGS, *runs.SETTINGS, *selfservice.SETTINGS)


@deploy("PBX", data_defaults=defaults(ALL_SETTINGS))
def read(plan: Plan) -> Snapshot:
    """Everything the run compares, in one remote command, before anything changes."""
    connection.send_at_once(host)  # the run's first remote command: no packet waits from here on
    settings = read_settings(ALL_SETTINGS)
    snom_digests, snom_texts = snom.snapshot_paths(settings)
    return host.get_fact(
        PbxSnapshot,
        digests=(*nixos.snapshot_paths(settings, plan.module), *asterisk.snapshot_paths(settings), *snom_digests),
        texts=(*snom_texts, *runs.snapshot_paths(settings), *asterisk.snapshot_texts(settings)),
        cli_command=settings.asterisk__cli,
        configuration=settings.nixos__configuration,
        module=nixos.import_name(settings),
        commands=(
            *nixos.snapshot_commands(settings, plan.module),
            *asterisk.snapshot_commands(settings, plan.asterisk),
            *selfservice.snapshot_commands(),
        ),
        # how many aors Asterisk serves: this event's phones; at a teardown, not known
        aors=None if plan.asterisk.removal is not None else len(plan.asterisk.expected.phones),
    )
