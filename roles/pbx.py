"""The PBX read once per run (roles/shared/snapshot.py): what each role's steps compare.

    pbx.render_ahead(directory)                        # group_data/all.py, before connecting
    plan, snapshot = pbx.planned_and_read(directory)   # deploy.py: the read goes out first
    snapshot = pbx.read(plan)                          # teardown.py: the plan rendered before

Each role names its own files (its `snapshot_paths`, from its settings, so `--data` moves
them here too); the nixos role's come from the plan's module (the files beside it, what
NixOS serves from it).
"""

from __future__ import annotations

import gevent
from pyinfra import host

from roles import asterisk, calllog, nixos, plancache, selfservice, snom
from roles.event import Directory
from roles.plan import Plan, Where, buildup, where
from roles.shared import connection, pbxcli, runs
from roles.shared.beside import beside
from roles.shared.ops import deploy
from roles.shared.settings import defaults
from roles.shared.settings import read as read_settings
from roles.shared.snapshot import PbxSnapshot, Snapshot

ALL_SETTINGS = (
    *asterisk.ALL_SETTINGS,
    *nixos.SETTINGS,
    *snom.SETTINGS,
    *runs.SETTINGS,
    *selfservice.SETTINGS,
    *calllog.SETTINGS,
)


def _arguments(settings, module_paths: list[str], commands, aors: int | None, board: bool = False) -> dict:
    """PbxSnapshot's arguments: the roles' files, their commands, how many aors (`board`: the
    crew's hashed password for the board and the file where the page keeps who it saw, too)."""
    snom_digests, snom_texts = snom.snapshot_paths(settings)
    board_paths = (selfservice.BOARD_HASH, selfservice.BOARD_SEEN) if board else ()
    return {
        "digests": (*module_paths, *asterisk.snapshot_paths(settings), *snom_digests, *board_paths),
        "texts": (*snom_texts, *runs.snapshot_paths(settings), *asterisk.snapshot_texts(settings)),
        "cli_command": settings.asterisk__cli,
        "configuration": settings.nixos__configuration,
        "module": nixos.import_name(settings),
        "commands": tuple(commands),
        "aors": aors,
    }


def arguments_of(settings, plan: Plan) -> dict:
    """PbxSnapshot's arguments for what `plan` puts on the PBX."""
    return _arguments(
        settings,
        nixos.snapshot_paths(settings, plan.module),
        (
            *nixos.snapshot_commands(settings, plan.module),
            *asterisk.snapshot_commands(settings, plan.asterisk),
            *selfservice.snapshot_commands(plan.selfservice.claimable),
            *calllog.snapshot_commands(),
        ),
        # how many aors Asterisk serves: this event's phones; at a teardown, not known
        None
        if plan.asterisk.removal is not None
        else pbxcli.listed_aors(len(plan.asterisk.expected.phones), plan.asterisk.expected.claimable is not None),
        board=plan.board is not None or plan.asterisk.removal is not None,  # a teardown removes it
    )


@deploy("PBX", data_defaults=defaults(ALL_SETTINGS))
def read(plan: Plan) -> Snapshot:
    """Everything the run compares, in one remote command, before anything changes."""
    connection.send_at_once(host)  # the run's first remote command: no packet waits from here on
    return host.get_fact(PbxSnapshot, **arguments_of(read_settings(ALL_SETTINGS), plan))


@deploy("PBX", data_defaults=defaults(ALL_SETTINGS))
def planned_and_read(directory: Directory) -> tuple[Plan, Snapshot]:
    """The deploy's plan (roles/plan.py for_deploy) and read() of it, side by side: the one
    remote command goes out first, and the PBX answers while the plan renders in a thread of
    its own (the renderers are pure: no host, no pyinfra). What the command reads is known
    before the plan (the files NixOS serves are Asterisk's CONF_FILES, the module ships the
    provisioning server's code, one aor per account); should the plan name other files, it
    is read again. (10,000 phones: rendering 0.25 s, the read 0.16 s.)"""
    connection.send_at_once(host)  # the run's first remote command: no packet waits from here on
    settings = read_settings(ALL_SETTINGS)
    wanted, control = where(), snom.control(directory)
    known = known_arguments(settings, directory)
    ahead = _rendered_ahead(directory, wanted, control)
    keep_later = ahead[1] if ahead is not None else []
    rendering = (
        ahead[0]
        if ahead is not None
        else gevent.get_hub().threadpool.spawn(
            _planned, buildup, directory, wanted, control, host.data.get("televoc_event_dir"), keep_later
        )
    )
    try:
        snapshot = host.get_fact(PbxSnapshot, **known)
    finally:
        plan = rendering.get()  # (the render's own error first, if both failed)
    _keep_beside(keep_later)
    if same_read(arguments_of(settings, plan), known):
        return plan, snapshot
    return plan, host.get_fact(PbxSnapshot, **arguments_of(settings, plan))


# render_ahead's renderings: (directory, Where, control, the rendering in its thread, the plan
# it leaves to seal: _planned's keep_later)
_ahead: list[tuple[Directory, Where, dict, gevent.threadpool.ThreadResult, list]] = []


def render_ahead(directory: Directory, event_dir: str | None = None) -> None:
    """Start rendering the deploy's plan of `directory` now, in a thread of its own, with the
    default settings and nothing told to the provisioning server: group_data/all.py calls it
    once the directory is valid, so the rendering runs while pyinfra connects (the main
    thread waits on the network then) and while deploy.py starts. planned_and_read takes it
    only when it renders from exactly what it would render from itself (the same Directory
    object, an equal Where and control), else renders as before. Either way the plan comes
    through _planned: the sealed plan of the last run when every input is the same
    (roles/plancache.py), else rendered. `event_dir`: where the event secret is named."""
    where, control, keep_later = Where(), dict[str, object](), list[tuple]()
    rendering = gevent.get_hub().threadpool.spawn(_planned, buildup, directory, where, control, event_dir, keep_later)
    _ahead.append((directory, where, control, rendering, keep_later))


def _rendered_ahead(directory: Directory, where: Where, control: dict):
    """render_ahead's rendering of the plan buildup(directory, where, control) and the list
    it leaves the plan to seal in, taken once; None when there is none."""
    for i, (d, w, c, rendering, keep_later) in enumerate(_ahead):
        if d is directory and w == where and c == control:
            del _ahead[i]
            return rendering, keep_later
    return None


def known_arguments(settings, directory: Directory) -> dict:
    """PbxSnapshot's arguments for a deploy of `directory`, before its plan is rendered: the
    files NixOS serves are Asterisk's config files (asterisk.conf_file_names), the module
    ships the provisioning server's code and the self-service database's command beside it,
    Asterisk serves an aor per account; where self-service or the board is served, the page
    and its templates too (and the board's files)."""
    embedded = [snom.PROVISIOND.name, selfservice.CLAIMSDB.name]
    if selfservice.registration_on(directory) or selfservice.board_on(directory):
        embedded += [selfservice.PAGE.name, selfservice.TEMPLATES_FILE, *selfservice.board_files(directory)]
    etc = [f"{nixos.ASTERISK_ETC}/{name}" for name in asterisk.conf_file_names(directory)]
    return _arguments(
        settings,
        nixos.paths_named(settings, embedded, etc),
        (
            *nixos.commands_named(settings, embedded),
            *selfservice.snapshot_commands(selfservice.claimable(directory)),
            *calllog.snapshot_commands(),
        ),
        pbxcli.listed_aors(len({a.name for a in directory.accounts}), selfservice.claimable(directory) is not None),
        board=selfservice.board_on(directory),
    )


def _planned(
    render, directory: Directory, wanted: Where, control: dict, event_dir: str | None, keep_later: list | None = None
) -> Plan:
    """The plan (_compared), taken from the sealed copy a run before kept when every input is
    the same (plancache.py), else rendered, and kept for the next run: sealed here, or, given
    `keep_later`, appended to it as (Kept, plan) for the caller to seal beside the run's
    remote commands (_keep_beside)."""
    kept = plancache.kept(render, directory, wanted, control, event_dir)
    plan = kept.load() if kept is not None else None
    if plan is None:
        plan = _compared(render, directory, wanted, control)
        if kept is not None and keep_later is not None:
            keep_later.append((kept, plan))
        elif kept is not None:
            kept.store(plan)
    return plan


def _keep_beside(keep_later: list) -> None:
    """Seal the plans _planned left in `keep_later` in a native thread (roles/shared/beside.py):
    0.2 s at 10,000 phones that the run no longer waits for."""
    while keep_later:
        kept, plan = keep_later.pop()
        beside(kept.store, plan)


def _compared(render, *args) -> Plan:
    """The plan, with what every run compares with the snapshot worked out too (each is
    worked out once, when first asked for): the phones' summary, the provisioning files'
    digests."""
    plan = render(*args)
    _ = plan.asterisk.summary_text, plan.provisioning.digests
    return plan


def same_read(a: dict, b: dict) -> bool:
    """The same read, whatever the order of the files in it."""
    return all(
        sorted(a[k]) == sorted(b[k]) if k in ("digests", "texts", "commands") else a[k] == b[k] for k in a.keys() | b
    )
