# <nixpkgs/nixos> of the televoc lab's stand-in nixpkgs: what nixpkgs' nixos/default.nix is
# to a channel host. The configuration is $NIXOS_CONFIG when set and not empty, else
# <nixos-config> (NIX_PATH's nixos-config=/etc/nixos/configuration.nix on NixOS), as nixpkgs
# picks it (lib/from-env.nix); the lab's module system (../eval-config.nix, the one the
# flake's lib.nixosSystem uses too) evaluates it. It gives `config` (the merged
# configuration, lazily: each option's value; config.system.build.toplevel is what the
# nixos-rebuild stand-in builds a generation from), `pkgs` and `system` (the toplevel):
#
#   nix-instantiate --eval --strict --json -E '(import <nixpkgs/nixos> { }).config.networking.firewall.enable'
#   nix-instantiate --eval --strict --json '<nixpkgs/nixos>' -A config.system.build.toplevel
#
# `system` (the platform) is accepted and ignored; there is no `options`, `vm` or
# `vmWithBootLoader`.
{ configuration ? (let fromEnv = builtins.getEnv "NIXOS_CONFIG"; in
    if fromEnv != "" then fromEnv else <nixos-config>)
, system ? builtins.currentSystem
}:
let
  eval = import ../eval-config.nix { inherit configuration; withConfig = true; };
in {
  inherit (eval) config pkgs;
  system = eval.config.system.build.toplevel;
}
