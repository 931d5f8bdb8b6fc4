"""The nixos role's steps, as pyinfra deploys: check the import, put the module in place, switch.

    from roles import nixos
    nixos.module_imported()
    nixos.asterisk_config_switched(module_text, expected_files, "the event's Asterisk config")
"""

from __future__ import annotations

from pyinfra.api import deploy

import posixpath

from roles.files import managed_file, sha256
from roles import runs
from roles.ops import when_needed
from roles.settings import Setting, absolute_path, boolean, declare, defaults, read, text

from . import operations
from .render import PROVISIOND_FILE

# Next to the module: names the module (and the code it runs) of the last successful switch,
# so that a change that does not touch /etc/asterisk (the provisioning server, the firewall)
# still switches.
APPLIED_MARKER = ".applied"

SETTINGS = declare(
    Setting("nixos__module_path", "/etc/nixos/televoc/asterisk.nix",
            "Where televoc writes its NixOS module on the server.", absolute_path),
    Setting("nixos__configuration", "/etc/nixos/configuration.nix",
            "The NixOS configuration that must import the module (checked, never rewritten).",
            absolute_path),
    Setting("nixos__import_line", "imports = [ ./televoc/asterisk.nix ];",
            "The line televoc tells the crew to add to that configuration.", text),
    Setting("nixos__check_import", True,
            "false when the module is imported from another file than configuration.nix: the "
            "text check is skipped (the check of the live config after the switch still runs).",
            boolean),
    Setting("nixos__rebuild", "nixos-rebuild switch", "The command that applies the configuration.", text),
)


@deploy("NixOS", data_defaults=defaults(SETTINGS))
def module_imported(snapshot=None):
    """Stop the run, naming the line to add, unless configuration.nix imports televoc's module.
    `snapshot`: the run's one read of the PBX (roles/pbx.py), if taken."""
    settings = read(SETTINGS)
    if settings.nixos__check_import:
        (when_needed if snapshot is not None else _now)(
            operations.module_imported,
            name=runs.check("NixOS configuration imports televoc's module"),
            configuration=settings.nixos__configuration,
            module_path=settings.nixos__module_path,
            import_line=settings.nixos__import_line,
            **({} if snapshot is None else {"lines": snapshot.import_lines}),
        )


@deploy("NixOS", data_defaults=defaults(SETTINGS))
def asterisk_config_switched(module: str, expected: dict, what: str, snapshot=None):
    """
    Put televoc's module (and the provisioning server's code beside it) in place and switch
    when /etc/asterisk differs from `expected`.

    + module: the module's text (no secrets: it goes into the world-readable Nix store)
    + expected: file name in /etc/asterisk -> sha256 of its content (None: must be absent)
    + what: what NixOS serves afterwards, for the step's name
    + snapshot: the run's one read of the PBX (roles/pbx.py), if taken
    """
    from roles.snom.render import PROVISIOND  # the code the module runs (no secrets either)

    settings = read(SETTINGS)
    here = posixpath.dirname(settings.nixos__module_path)
    code = PROVISIOND.read_text(encoding="utf-8")
    known = {} if snapshot is None else snapshot.digests
    op = when_needed if snapshot is not None else _now
    provisiond = posixpath.join(here, PROVISIOND_FILE)
    op(
        managed_file,
        name="The provisioning server's code is in place next to the module",
        path=provisiond,
        content=code,
        show_diff=True,
        **({"current": known[provisiond]} if provisiond in known else {}),
    )
    op(
        managed_file,
        name="televoc's NixOS module is in place (no secrets in it)",
        path=settings.nixos__module_path,
        content=module,
        show_diff=True,
        **({"current": known[settings.nixos__module_path]} if settings.nixos__module_path in known else {}),
    )
    op(
        operations.switched,
        name=f"NixOS serves {what}",
        rebuild=settings.nixos__rebuild,
        expected=expected,
        marker=posixpath.join(here, APPLIED_MARKER),
        marker_text=sha256(module + "\0" + code),
        live=known or None,
    )


def _now(operation, **kwargs):
    """The operation, created whatever it has to do (no snapshot to decide from)."""
    return operation(**kwargs)
