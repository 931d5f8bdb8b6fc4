"""NixOS: render televoc's module (services.asterisk, televoc's services, firewall, fail2ban),
put it on the server, switch."""

from .deploy import SETTINGS, import_name, module_dir, module_imported, module_switched, snapshot_paths
from .render import ASTERISK_ETC, AsteriskService, Daemon, Embedded, Jail, Module, nix_indented_string, render_module

__all__ = [
    "ASTERISK_ETC",
    "SETTINGS",
    "AsteriskService",
    "Daemon",
    "Embedded",
    "Jail",
    "Module",
    "import_name",
    "module_dir",
    "module_imported",
    "module_switched",
    "nix_indented_string",
    "render_module",
    "snapshot_paths",
]
