# <nixpkgs> of the televoc lab's stand-in nixpkgs: `import <nixpkgs> { }` gives the stand-in's
# `pkgs` (Debian's packages in the lab's chroot, see ../eval-config.nix), pkgs.lib with
# lib.version, lib.release and lib.codeName. nixpkgs' arguments (config, overlays, system,
# ...) are accepted and ignored.
{ ... }:
(import ./eval-config.nix { configuration = { }; withConfig = true; }).pkgs
