"""The nixos role's steps, as pyinfra deploys: check the import, put the module in place, switch.

from roles import nixos
nixos.module_imported(snapshot)
nixos.module_switched(plan.module, "the event's Asterisk config", snapshot)
"""

from __future__ import annotations

import posixpath
import shlex

from roles.shared import runs
from roles.shared.files import UNREAD, managed_file
from roles.shared.ops import as_needed, deploy
from roles.shared.settings import Setting, absolute_path, boolean, declare, defaults, read, text
from roles.shared.snapshot import Snapshot

from . import firewall, operations
from . import host as nixos_host
from .render import Module

# Names the module (and the code it runs) of the last successful switch, so that a change
# that does not touch /etc/asterisk (the provisioning server, the firewall) still switches.
# In televoc's state directory, not beside the module: a flake's git repository would show it.
APPLIED_MARKER = "/var/lib/televoc/nixos-module.applied"

SETTINGS = declare(
    Setting(
        "nixos__module_path",
        "/etc/nixos/televoc/asterisk.nix",
        "Where televoc writes its NixOS module on the server.",
        absolute_path,
    ),
    Setting(
        "nixos__configuration",
        "/etc/nixos/configuration.nix",
        "The NixOS configuration that must import the module (checked, never rewritten).",
        absolute_path,
    ),
    Setting(
        "nixos__import_line",
        "imports = [ ./televoc/asterisk.nix ];",
        "The line televoc tells the crew to add to that configuration.",
        text,
    ),
    Setting(
        "nixos__check_import",
        True,
        "false when the module is imported from another file than configuration.nix: the "
        "text check is skipped (the check of the live config after the switch still runs).",
        boolean,
    ),
    Setting("nixos__rebuild", "nixos-rebuild switch", "The command that applies the configuration.", text),
    Setting(
        "nixos__flake_output",
        "",
        "On a host configured by a flake: the configuration televoc switches to "
        "(nixosConfigurations.<name>); empty: the host's name, as nixos-rebuild takes it.",
        str,
    ),
)


def module_dir(settings) -> str:
    """The directory of televoc's module on the host (its embedded files sit beside it)."""
    return posixpath.dirname(settings.nixos__module_path)


def snapshot_paths(settings, module: Module) -> list[str]:
    """The files whose digests the run's one read of the PBX (roles/pbx.py) reads for this
    role's steps: the module, the files beside it, the mark of the last switch, and what
    NixOS serves from it."""
    return paths_named(settings, [e.name for e in module.embedded], list(module.etc))


def paths_named(settings, embedded: list[str], etc: list[str]) -> list[str]:
    """snapshot_paths of a module that ships `embedded` (file names) beside it and makes
    NixOS serve `etc` (paths): known before the module is rendered."""
    here = module_dir(settings)
    return [settings.nixos__module_path, *(posixpath.join(here, name) for name in embedded), APPLIED_MARKER, *etc]


# The snapshot's readings of the live firewall and of the host's kind (Snapshot.outputs).
FIREWALL = "firewall"
HOST = "host"


def _files(settings, module: Module) -> tuple[str, ...]:
    """televoc's files in the NixOS configuration: the module and the files beside it."""
    return _files_named(settings, [e.name for e in module.embedded])


def _files_named(settings, embedded: list[str]) -> tuple[str, ...]:
    here = module_dir(settings)
    return (settings.nixos__module_path, *(posixpath.join(here, name) for name in embedded))


def snapshot_commands(settings, module: Module) -> tuple[tuple[str, str], ...]:
    """What the run's one read of the PBX runs for this role besides reading files: the live
    firewall (roles/nixos/firewall.py) and the host's kind (roles/nixos/host.py)."""
    return commands_named(settings, [e.name for e in module.embedded])


def commands_named(settings, embedded: list[str]) -> tuple[tuple[str, str], ...]:
    """snapshot_commands of a module that ships `embedded` (file names) beside it."""
    return (
        (FIREWALL, firewall.command()),
        (HOST, nixos_host.command(_files_named(settings, embedded), import_name(settings))),
    )


def host_of(snapshot: Snapshot | None) -> nixos_host.NixosHost | None:
    """The host's kind as the snapshot read it (None: not read)."""
    if snapshot is None or HOST not in snapshot.outputs:
        return None
    return nixos_host.parse(snapshot.outputs[HOST])


def rebuild_command(settings, kind: nixos_host.NixosHost | None) -> str:
    """nixos-rebuild for this host: on a flake host with the flake and its configuration named
    (the host's name unless nixos__flake_output names another), never changing flake.lock."""
    if kind is None or kind.flake is None:
        return settings.nixos__rebuild
    output = settings.nixos__flake_output or kind.name
    return f"{settings.nixos__rebuild} --flake {shlex.quote(f'{kind.flake}#{output}')} --no-update-lock-file"


def import_name(settings) -> str:
    """The module as configuration.nix names it (`televoc/asterisk.nix`)."""
    return settings.nixos__module_path.replace("/etc/nixos/", "", 1)


@deploy("NixOS", data_defaults=defaults(SETTINGS))
def module_imported(snapshot: Snapshot | None = None):
    """Stop the run, naming the line to add, unless the host's configuration imports televoc's
    module: configuration.nix on a host without a flake; on a flake host, a file of the flake,
    which must also hold the module and its flake.lock.
    `snapshot`: the run's one read of the PBX (roles/pbx.py), if taken."""
    settings = read(SETTINGS)
    kind = host_of(snapshot)
    if kind is not None and kind.flake is not None:
        as_needed(snapshot)(
            operations.flake_ready,
            name=runs.check("The host's flake imports televoc's module and has its flake.lock"),
            flake=kind.flake,
            module_path=settings.nixos__module_path,
            output=settings.nixos__flake_output or kind.name,
            locked=kind.locked,
            import_lines=kind.import_lines,
            check_import=settings.nixos__check_import,
        )
    elif settings.nixos__check_import:
        as_needed(snapshot)(
            operations.module_imported,
            name=runs.check("NixOS configuration imports televoc's module"),
            configuration=settings.nixos__configuration,
            module_path=settings.nixos__module_path,
            import_line=settings.nixos__import_line,
            **({} if snapshot is None else {"lines": snapshot.import_lines}),
        )


@deploy("NixOS", data_defaults=defaults(SETTINGS))
def module_switched(module: Module, what: str, snapshot: Snapshot | None = None) -> bool:
    """
    Put televoc's module (and the files shipped beside it) in place and switch when what
    NixOS serves differs from `module.etc` or the module changed since the last switch.

    + module: the rendered module (roles.nixos.render_module); no secrets in it
    + what: what NixOS serves afterwards, for the step's name
    + snapshot: the run's one read of the PBX (roles/pbx.py), if taken

    Returns whether this run switches (what the snapshot read of the PBX is then out of date).
    """
    settings = read(SETTINGS)
    here = module_dir(settings)
    known = {} if snapshot is None else snapshot.digests
    op = as_needed(snapshot)
    kind = host_of(snapshot)
    for embedded in module.embedded:
        path = posixpath.join(here, embedded.name)
        op(
            managed_file,
            name=f"{embedded.label} is in place next to the module",
            path=path,
            content=embedded.text,
            show_diff=True,
            **({"current": known[path]} if path in known else {}),
        )
    op(
        managed_file,
        name="televoc's NixOS module is in place (no secrets in it)",
        path=settings.nixos__module_path,
        content=module.text,
        show_diff=True,
        **({"current": known[settings.nixos__module_path]} if settings.nixos__module_path in known else {}),
    )
    if kind is not None and kind.flake is not None and kind.git:
        op(
            operations.visible_to_flake,
            name="The flake sees televoc's files (git add --intent-to-add; nothing is committed)",
            flake=kind.flake,
            paths=_files(settings, module),
            indexed=kind.indexed,
        )
    switch = op(
        operations.switched,
        name=f"NixOS serves {what}",
        rebuild=rebuild_command(settings, kind),
        expected=module.etc,
        marker=APPLIED_MARKER,
        marker_text=module.marker,
        live=known or None,
        module=(module.text, settings.nixos__module_path),
    )
    return switch is not None


@deploy("NixOS", data_defaults=defaults(SETTINGS))
def firewall_checked(module: Module, snapshot: Snapshot | None = None, switched: bool = True):
    """The PBX's live firewall opens each port of `module` to its sources and to no other, and
    fail2ban runs the module's jails; the run fails naming each difference. From the
    snapshot when this run did not switch (`switched`), else read after the switch."""
    live = UNREAD
    if snapshot is not None and not switched and FIREWALL in snapshot.outputs:
        live = firewall.parse(firewall.split(snapshot.outputs[FIREWALL]))
    as_needed(snapshot)(
        operations.firewall_as_opened,
        name=runs.check("The firewall opens televoc's ports to the sources that need them only"),
        openings=module.openings,
        jails=module.jails,
        **({} if live is UNREAD else {"live": live}),
    )
