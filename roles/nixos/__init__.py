"""NixOS: render the module that sets services.asterisk, put it on the server, switch."""

from .deploy import SETTINGS, asterisk_config_switched, module_imported
from .render import nix_indented_string, render_module

__all__ = ["SETTINGS", "asterisk_config_switched", "module_imported", "nix_indented_string", "render_module"]
