# The televoc lab's stand-in for nixpkgs as a flake: lib.nixosSystem (and lib.version), the
# modules evaluated by the lab's own module system, eval-config.nix beside this file (a copy
# of the stand-in's, see there; nothing of nixpkgs' code). lab.py installs this directory as
# the git repository /usr/local/lib/televoc-lab/nixpkgs with two commits: an older revision
# (release 25.05 in .version) and the current one (25.11); they differ in .version only. A
# flake host takes it as its input, locked by revision as github:NixOS/nixpkgs would be:
#
#   inputs.nixpkgs.url = "git+file:///usr/local/lib/televoc-lab/nixpkgs";
#   outputs = { self, nixpkgs }: {
#     nixosConfigurations.pbx = nixpkgs.lib.nixosSystem { modules = [ ./configuration.nix ]; };
#   };
#
# nixosConfigurations.<name>.config is the merged configuration; its system.build.toplevel is
# what the nixos-rebuild stand-in evaluates with `nix eval --json` (NixOS: `nix build` of
# the system derivation; here the attribute set eval-config.nix gives the stand-in in channel
# mode, so Nix names the same attribute in its messages). Like nixpkgs' flake, it records
# itself in every system: system.nixos.release, .versionSuffix (.<date>.<short revision>) and
# .revision (the input's git revision, null when dirty).
{
  description = "televoc lab: a stand-in for nixpkgs (lib.nixosSystem)";

  outputs = { self }:
    let
      release = builtins.head (builtins.match "([^\n]*)\n*" (builtins.readFile ./.version));
      date = builtins.substring 0 8 (self.lastModifiedDate or "19700101");
      versionSuffix = ".${date}.${self.shortRev or "dirty"}";
      version = {
        system.nixos.release = release;
        system.nixos.versionSuffix = versionSuffix;
        system.nixos.revision = self.rev or null;
      };
    in {
      lib = {
        version = release + versionSuffix;
        nixosSystem = { modules, specialArgs ? { }, system ? null, ... }:
          let
            evaluated = import ./eval-config.nix {
              configuration = { imports = [ version ] ++ modules; };
              inherit specialArgs;
              forFlake = true;
            };
            config = evaluated.config;
          in {
            _type = "configuration";
            class = "nixos";
            config = config // {
              system = (config.system or { }) // {
                build = (config.system.build or { }) // { inherit (evaluated) toplevel; };
              };
            };
          };
      };
    };
}
