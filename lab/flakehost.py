"""A flake host: /etc/nixos as most NixOS servers have it, for tests of televoc on such hosts.

    from lab.flakehost import make_flake_host
    host = make_flake_host(lab)
    lab.run("nixos-rebuild switch")                # flake mode: /etc/nixos/flake.nix exists

/etc/nixos becomes a git repository (branch main) holding
  - flake.nix: `inputs.nixpkgs.url = "git+file:///usr/local/lib/televoc-lab/nixpkgs"` (the
    lab's stand-in nixpkgs flake, standin/nixpkgs/flake.nix; no network) and
    `nixosConfigurations."<name>" = nixpkgs.lib.nixosSystem { modules = [ ./configuration.nix ]; }`,
    plus one configuration per entry of `configurations` (./<attribute>.nix);
  - configuration.nix: the lab's CONFIGURATION_NIX with networking.hostName = "<name>",
    importing ./televoc/asterisk.nix or not (`import_module`);
  - flake.lock, made by real `nix flake lock` (`lock`); `nixpkgs="older"` locks the input to
    the stand-in's older revision (release 25.05): as on a host locked before nixpkgs moved
    on, the stand-in's repository is at that revision while Nix locks, then back at the
    current one;
  - `module`: televoc/asterisk.nix's text, written and left untracked (as a deploy uploads it).
With `commit`, everything but the module is committed (identity given to that command only:
root has no git identity afterwards, as on a host whose admin commits as himself);
without, it is staged and not committed (a dirty tree: Nix warns "Git tree ... is dirty").
Everything that was in /etc/nixos before goes.

Nix's flake commands take `--extra-experimental-features 'nix-command flakes'` here: the
lab's Nix has no nix.conf enabling them (see standin/nixos-rebuild).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .lab import CONFIGURATION_NIX, NIXPKGS_DIR, NIXPKGS_URL

if TYPE_CHECKING:
    from .lab import Lab

NIXOS = "/etc/nixos"
# What the lab's Nix needs for flakes (no nix.conf: the features on the command line, as
# nixos-rebuild passes them; no nixbld1..32: no build users).
NIX = "NIX_CONFIG='build-users-group =' nix --extra-experimental-features 'nix-command flakes'"
IDENTITY = "-c user.name='PBX admin' -c user.email=admin@pbx.invalid"
IMPORT_LINE = "  imports = [ ./televoc/asterisk.nix ];\n"


@dataclass
class FlakeHost:
    """What make_flake_host made (the flake is /etc/nixos)."""

    lab: Lab
    names: list[str]  # the attributes of nixosConfigurations, the host's first
    nixpkgs_revs: dict[str, str] = field(default_factory=dict)  # "older"/"current" -> revision

    def git(self, args: str, check: bool = True):
        """`git -C /etc/nixos ARGS` inside the lab."""
        return self.lab.run(f"git -C {NIXOS} {args}", check=check)

    def locked_nixpkgs_rev(self) -> str | None:
        """The revision flake.lock pins nixpkgs to (None: no flake.lock)."""
        r = self.lab.run(f"cat {NIXOS}/flake.lock", check=False)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)["nodes"]["nixpkgs"]["locked"].get("rev")

    def nix(self, args: str, check: bool = True, timeout: float = 120):
        """`nix ARGS` inside the lab, flakes enabled for this command."""
        return self.lab.run(f"{NIX} {args}", check=check, timeout=timeout)


def nixpkgs_revisions(lab: Lab) -> dict[str, str]:
    """The stand-in nixpkgs' revisions: {"older": ..., "current": ...}."""
    revs = lab.run(f"git -C {NIXPKGS_DIR} rev-list --reverse main").stdout.split()
    return {"older": revs[0], "current": revs[-1]}


def configuration_nix(name: str, import_module: bool) -> str:
    text = CONFIGURATION_NIX.replace('networking.hostName = "pbx";', f"networking.hostName = {_nix_str(name)};")
    return text if import_module else text.replace(IMPORT_LINE, "")


def flake_nix(names: list[str]) -> str:
    configs = "".join(
        f"    nixosConfigurations.{_nix_str(n)} = nixpkgs.lib.nixosSystem {{\n"
        '      system = "x86_64-linux";\n'
        f"      modules = [ ./{'configuration' if i == 0 else n}.nix ];\n"
        "    };\n"
        for i, n in enumerate(names)
    )
    return (
        "{\n"
        '  description = "The PBX\'s NixOS configuration";\n'
        f"  inputs.nixpkgs.url = {_nix_str(NIXPKGS_URL)};\n"
        "  outputs = { self, nixpkgs }: {\n"
        f"{configs}"
        "  };\n"
        "}\n"
    )


def _nix_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${") + '"'


def make_flake_host(
    lab: Lab,
    name: str = "pbx",
    *,
    import_module: bool = True,
    lock: bool = True,
    commit: bool = True,
    nixpkgs: str = "current",
    configurations: dict[str, str] | None = None,
    module: str | None = None,
) -> FlakeHost:
    """Make /etc/nixos a flake host (see the module's docstring); `configurations`: more
    nixosConfigurations, attribute -> the text of its module (./<attribute>.nix)."""
    if nixpkgs not in ("current", "older"):
        raise ValueError(f"nixpkgs: 'current' or 'older', not {nixpkgs!r}")
    extra = dict(configurations or {})
    host = FlakeHost(lab, [name, *extra], nixpkgs_revisions(lab))
    root = lab.root / NIXOS.lstrip("/")
    lab.run(f"rm -rf {NIXOS} && mkdir -p {NIXOS}")
    files = {"flake.nix": flake_nix(host.names), "configuration.nix": configuration_nix(name, import_module)}
    files.update({f"{n}.nix": text for n, text in extra.items()})
    for rel, text in files.items():
        (root / rel).write_text(text)
    if module is not None:
        (root / "televoc").mkdir()
        (root / "televoc/asterisk.nix").write_text(module)
    host.git("init -q -b main")
    host.git("add " + " ".join(shlex.quote(f) for f in files))
    if lock:
        older = nixpkgs == "older"
        if older:  # the stand-in's repository as it was when the host locked its input
            lab.run(f"git -C {NIXPKGS_DIR} reset -q --hard {host.nixpkgs_revs['older']}")
        try:
            host.nix(f"flake lock {NIXOS}")
        finally:
            if older:
                lab.run(f"git -C {NIXPKGS_DIR} reset -q --hard {host.nixpkgs_revs['current']}")
        host.git("add flake.lock")
    if commit:
        lab.run(f"git {IDENTITY} -C {NIXOS} commit -q -m {shlex.quote('The PBX, a flake')}")
    return host
