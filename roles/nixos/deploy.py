"""The nixos role's steps, as pyinfra deploys: check the import, put the module in place, switch.

    from roles import nixos
    nixos.module_imported()
    nixos.asterisk_config_switched(module_text, expected_files, "the event's Asterisk config")
"""

from __future__ import annotations

from pyinfra.api import deploy

from roles.files import managed_file
from roles.settings import Setting, absolute_path, boolean, declare, defaults, read, text

from . import operations

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
def module_imported():
    """Stop the run, naming the line to add, unless configuration.nix imports televoc's module."""
    settings = read(SETTINGS)
    if settings.nixos__check_import:
        operations.module_imported(
            name="NixOS configuration imports televoc's module",
            configuration=settings.nixos__configuration,
            module_path=settings.nixos__module_path,
            import_line=settings.nixos__import_line,
        )


@deploy("NixOS", data_defaults=defaults(SETTINGS))
def asterisk_config_switched(module: str, expected: dict, what: str):
    """
    Put televoc's module in place and switch when /etc/asterisk differs from `expected`.

    + module: the module's text (no secrets: it goes into the world-readable Nix store)
    + expected: file name in /etc/asterisk -> sha256 of its content (None: must be absent)
    + what: what NixOS serves afterwards, for the step's name
    """
    settings = read(SETTINGS)
    managed_file(
        name="televoc's NixOS module is in place (no secrets in it)",
        path=settings.nixos__module_path,
        content=module,
    )
    operations.switched(name=f"NixOS serves {what}", rebuild=settings.nixos__rebuild, expected=expected)
