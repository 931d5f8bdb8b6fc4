"""Defaults of the nixos role, each overridable as pyinfra data (`--data NAME=VALUE`)."""

# Where televoc writes its NixOS module on the server.
nixos__module_path = "/etc/nixos/televoc/asterisk.nix"
# The configuration that must import the module (checked, never rewritten).
nixos__configuration = "/etc/nixos/configuration.nix"
# The line the user adds to that configuration.
nixos__import_line = "imports = [ ./televoc/asterisk.nix ];"
# Set to false when the module is imported from another file than configuration.nix: the
# textual check is skipped, the check of the live config after the switch still runs.
nixos__check_import = True
# The command that applies the configuration.
nixos__rebuild = "nixos-rebuild switch"
