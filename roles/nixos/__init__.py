"""NixOS: render televoc's module (services.asterisk, televoc's services, firewall, fail2ban),
put it on the server, switch."""

from .deploy import (
    SETTINGS,
    firewall_checked,
    host_of,
    import_name,
    module_dir,
    module_imported,
    module_switched,
    snapshot_commands,
    snapshot_paths,
)
from .render import (
    ASTERISK_ETC,
    AsteriskService,
    Daemon,
    Embedded,
    Jail,
    Module,
    Opening,
    Tool,
    nix_indented_string,
    render_module,
)

__all__ = [
    "ASTERISK_ETC",
    "SETTINGS",
    "firewall_checked",
    "host_of",
    "AsteriskService",
    "Daemon",
    "Embedded",
    "Jail",
    "Module",
    "Opening",
    "Tool",
    "import_name",
    "module_dir",
    "module_imported",
    "module_switched",
    "nix_indented_string",
    "render_module",
    "snapshot_commands",
    "snapshot_paths",
]
