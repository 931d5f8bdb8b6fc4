"""Is this box fit for the event? Pure: the answers of the host (read.py) judged, finding by
finding, each with its fix. No host, no I/O.

The preflight asks what a deploy depends on and would otherwise find out halfway through
buildup day: which NixOS, configured how (a flake or configuration.nix) and whether it
imports televoc's module, which Asterisk the host's own nixpkgs builds, which firewall it
runs (and what televoc will do with it), whether Asterisk is set up by hand already, whether
someone else holds televoc's ports, whether there is room in /nix/store and /var, whether
the SSH host key is pinned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from roles.nixos.host import imported

# NixOS releases televoc's module has been written against; older ones are reported, not
# refused (checked only in the lab, which follows current nixpkgs).
OLDEST_KNOWN = (24, 5)


@dataclass(frozen=True)
class Finding:
    """One line of the report: `ok` when it holds, else it blocks a deploy and says the fix."""

    ok: bool
    text: str
    fix: str = ""
    warning: bool = False  # worth saying, does not block a deploy


@dataclass
class Answers:
    """What the host answered (read.py parses them).

    + version: `nixos-version`'s line; None: not NixOS
    + flake: the flake's directory, None: configuration.nix; git, locked, import_lines as
      roles.nixos.host reads them; name: the configuration the deploy would switch
    + evaluated: the host's configuration evaluated with televoc's module left out (keys
      asterisk, asteriskEnabled, confFiles, firewall, backend, nftables, firewalld); None
      when it could not be; eval_error: Nix's message then
    + by_hand: lines of the crew's .nix files that set services.asterisk
    + listening: (protocol, port, process, pid) of every listening socket
    + televoc_pids: the main pids of televoc's services: asterisk.service when /etc/asterisk
      holds televoc's config, televoc-provisioning.service
    + free_mb: mount -> free megabytes, for /nix/store and /var
    """

    version: str | None
    flake: str | None = None
    git: bool = False
    locked: bool = False
    name: str = ""
    import_lines: tuple[str, ...] = ()
    configuration_lines: tuple[str, ...] | None = None  # configuration.nix lines naming the module
    evaluated: dict | None = None
    eval_error: str = ""
    by_hand: tuple[str, ...] = ()
    listening: tuple[tuple[str, int, str, int], ...] = ()
    televoc_pids: frozenset[int] = frozenset()
    free_mb: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Needs:
    """What the event needs of the host (from the plan and the settings)."""

    module_path: str
    configuration: str
    ports: tuple[tuple[str, int, str], ...]  # (protocol, port, what)
    store_mb: int
    var_mb: int
    ssh_pinned: str | None  # the known_hosts file that pins the host key; None: not pinned
    check_import: bool = True


def _release(version: str) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def findings(a: Answers, need: Needs) -> list[Finding]:
    out: list[Finding] = []
    if a.version is None:
        return [
            Finding(
                False,
                "this host is not NixOS (`nixos-version` does not answer)",
                "televoc deploys to a NixOS host: install NixOS on the PBX",
            )
        ]
    release = _release(a.version)
    if release is not None and release < OLDEST_KNOWN:
        out.append(
            Finding(
                True,
                f"NixOS {a.version}: older than {OLDEST_KNOWN[0]}.{OLDEST_KNOWN[1]:02}, which televoc "
                "has not been checked with (its module may use options this release lacks)",
                warning=True,
            )
        )
    else:
        out.append(Finding(True, f"NixOS {a.version}"))
    out += _configuration(a, need)
    out += _evaluated(a, need)
    out += _ports(a, need)
    for mount, wanted in (("/nix/store", need.store_mb), ("/var", need.var_mb)):
        free = a.free_mb.get(mount)
        if free is None:
            out.append(Finding(False, f"free space in {mount} unknown (df did not answer)", f"check `df -h {mount}`"))
        elif free < wanted:
            out.append(
                Finding(
                    False,
                    f"{free} MB free in {mount}, fewer than the {wanted} MB a switch and the event's "
                    "logs and state need",
                    "free space there (e.g. `nix-collect-garbage -d` for the store)",
                )
            )
        else:
            out.append(Finding(True, f"{free} MB free in {mount}"))
    if need.ssh_pinned:
        out.append(Finding(True, f"the SSH host key is pinned ({need.ssh_pinned}, strict checking)"))
    else:
        out.append(
            Finding(
                False,
                "the PBX's SSH host key is not pinned: the first deploy sends the SIP passwords to "
                "whoever answers at that address",
                "read the key on the PBX's console (cat "
                "/etc/ssh/ssh_host_ed25519_key.pub) into pbx.known_hosts and give the host "
                "ssh_known_hosts_file and ssh_strict_host_key_checking: yes (README, step 1)",
            )
        )
    return out


def _configuration(a: Answers, need: Needs) -> list[Finding]:
    relative = "./" + need.module_path.rsplit("/", 2)[-2] + "/" + need.module_path.rsplit("/", 1)[-1]
    if a.flake is None:
        kind = Finding(True, f"configured by {need.configuration} (no flake)")
        if not need.check_import:
            return [kind]
        if a.configuration_lines is None:
            return [kind, Finding(False, f"{need.configuration} does not exist", "is this the host's configuration?")]
        if not imported(a.configuration_lines):
            return [
                kind,
                Finding(
                    False,
                    f"{need.configuration} does not import televoc's module",
                    f"add `imports = [ {relative} ];` inside its top-level braces",
                ),
            ]
        return [kind, Finding(True, f"{need.configuration} imports televoc's module")]
    found = [
        Finding(True, f"configured by the flake in {a.flake}{' (git)' if a.git else ''}, nixosConfigurations.{a.name}")
    ]
    if not a.locked:
        found.append(
            Finding(
                False,
                f"the flake in {a.flake} has no flake.lock (televoc never writes it)",
                f"run `nix flake lock` in {a.flake} and commit it",
            )
        )
    if need.check_import and not imported(a.import_lines):
        found.append(
            Finding(
                False,
                f"the flake in {a.flake} does not import televoc's module",
                f"add {relative} to the modules of nixosConfigurations.{a.name} in flake.nix, or "
                f"`imports = [ {relative} ];` to the configuration.nix it imports",
            )
        )
    elif need.check_import:
        found.append(Finding(True, f"the flake imports televoc's module ({a.import_lines[0].split(':', 1)[0]})"))
    return found


def _evaluated(a: Answers, need: Needs) -> list[Finding]:
    e = a.evaluated
    if e is None:
        first = next((line for line in a.eval_error.splitlines() if line.strip()), "no answer")
        return [
            Finding(
                False,
                f"the host's configuration does not evaluate: {first.strip()}",
                "run `nixos-rebuild dry-build` on the PBX and fix what it says",
            )
        ]
    out = [Finding(True, f"Asterisk {e.get('asterisk')} from the host's own nixpkgs")]
    if e.get("asteriskEnabled"):
        where = f" ({', '.join(a.by_hand[:3])})" if a.by_hand else ""
        out.append(
            Finding(
                False,
                f"the configuration enables Asterisk by itself{where}: televoc's module sets "
                "services.asterisk, and the two would conflict",
                "remove the services.asterisk settings "
                "from your files: televoc's module is the one that configures Asterisk",
            )
        )
    backend = e.get("backend") or ("nftables" if e.get("nftables") else "iptables")
    if e.get("firewalld"):
        backend = "firewalld"
    if not e.get("firewall"):
        out.append(
            Finding(
                False,
                "the firewall is off (networking.firewall.enable = false): every port would be "
                "open to every network, and televoc's module refuses it",
                "set networking.firewall.enable = true (its default)",
            )
        )
    elif backend == "firewalld":
        out.append(
            Finding(
                False,
                "the firewall is firewalld (services.firewalld.enable), where televoc writes no "
                "rules, and televoc's module refuses it",
                "services.firewalld.enable = false, with the "
                "iptables (default) or nftables firewall (networking.nftables.enable = true)",
            )
        )
    else:
        option = "extraInputRules" if backend == "nftables" else "extraCommands"
        out.append(
            Finding(
                True,
                f"the firewall is NixOS's, backend {backend}: televoc opens its ports to the sources "
                f"that need them only (networking.firewall.{option})",
            )
        )
    return out


def _ports(a: Answers, need: Needs) -> list[Finding]:
    out = []
    for protocol, port, what in need.ports:
        holders = [(proc, pid) for p, number, proc, pid in a.listening if p == protocol and number == port]
        others = [(proc, pid) for proc, pid in holders if pid not in a.televoc_pids]
        if others:
            who = ", ".join(f"{proc} (pid {pid})" for proc, pid in others)
            out.append(
                Finding(
                    False,
                    f"{protocol.upper()} {port} ({what}) is held by {who}",
                    "stop it, or give the event another port (event.yml: sip.port, provisioning.http_port)",
                )
            )
        else:
            state = "televoc's own" if holders else "free"
            out.append(Finding(True, f"{protocol.upper()} {port} ({what}) is {state}"))
    return out


def report(found: list[Finding]) -> list[str]:
    """One line per finding: `ok`, `note` or `FIX` and what; the fix on the next line."""
    lines = []
    for f in found:
        tag = "ok  " if f.ok and not f.warning else "note" if f.ok else "FIX "
        lines.append(f"{tag}  {f.text}")
        if not f.ok:
            lines.append(f"        fix: {f.fix}")
    return lines


def fit(found: list[Finding]) -> bool:
    return all(f.ok for f in found)
