"""televoc roles: one package per concern (event directory, Asterisk, NixOS)."""
