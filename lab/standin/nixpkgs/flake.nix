# The televoc lab's stand-in for nixpkgs as a flake: lib.nixosSystem (and lib.version,
# lib.release, lib.versionSuffix), the modules evaluated by the lab's own module system,
# eval-config.nix beside this file (a copy of the stand-in's, see there; nothing of nixpkgs'
# code). lab.py installs this directory as the git repository
# /usr/local/lib/televoc-lab/nixpkgs with two commits: an older revision (release 25.05 in
# .version) and the current one (25.11); they differ in .version only. A flake host takes it
# as its input, locked by revision as github:NixOS/nixpkgs would be:
#
#   inputs.nixpkgs.url = "git+file:///usr/local/lib/televoc-lab/nixpkgs";
#   outputs = { self, nixpkgs }: {
#     nixosConfigurations.pbx = nixpkgs.lib.nixosSystem { modules = [ ./configuration.nix ]; };
#   };
#
# nixosConfigurations.<name>.config is the merged configuration, an attribute set evaluated
# lazily as NixOS's is (`nix eval '/etc/nixos#nixosConfigurations."pbx".config.services.
# asterisk.package.version'`); its system.build.toplevel is what the nixos-rebuild stand-in
# evaluates with `nix eval --json` (NixOS: `nix build` of the system derivation; here the
# attribute set the stand-in builds the generation from, the same one nixos/default.nix
# gives in channel mode, so Nix names the same attribute in its messages). As nixpkgs' flake
# does, it sets nixpkgs.flake.source to itself (so the system's NIX_PATH is
# "nixpkgs=flake:nixpkgs" and the registry pins it) and overrides lib.trivial's versionSuffix
# (".<date>.<short revision>", ".<date>.dirty" for a dirty tree) and the revision (the
# input's git revision, null when dirty): config.system.nixos.version is
# "25.11.20251130.<short revision>" as on a NixOS flake host.
{
  description = "televoc lab: a stand-in for nixpkgs (lib.nixosSystem)";

  outputs = { self }:
    let
      release = builtins.head (builtins.match "([^\n]*)\n*" (builtins.readFile ./.version));
      date = builtins.substring 0 8 (self.lastModifiedDate or "19700101");
      trivial = {
        versionSuffix = ".${date}.${self.shortRev or "dirty"}";
        revision = self.rev or null;
      };
    in {
      lib = {
        inherit release;
        inherit (trivial) versionSuffix;
        version = release + trivial.versionSuffix;
        nixosSystem = { modules, specialArgs ? { }, system ? null, ... }:
          import ./eval-config.nix {
            configuration = { imports = [ { nixpkgs.flake.source = self.outPath; } ] ++ modules; };
            inherit specialArgs trivial;
            withConfig = true;
          } // { _type = "configuration"; class = "nixos"; };
      };
    };
}
