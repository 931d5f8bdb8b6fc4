"""NixOS: render the module that sets services.asterisk, put it on the server, switch."""

from .render import nix_indented_string, render_module

__all__ = ["nix_indented_string", "render_module"]
