"""What the preflight asks the host, in one remote command, and its parser.

The host's configuration is evaluated by the host's own Nix (its nixpkgs, its flake.lock), on
a copy in a temporary directory where televoc's module is an empty module: so the crew's own
settings are what is judged (an Asterisk enabled by hand, the firewall), it evaluates before
televoc's module was ever written, and nothing of the host changes (the copy goes afterwards;
a flake is evaluated with --no-update-lock-file --no-write-lock-file).
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex

from roles.nixos import host as nixos_host
from roles.shared.sections import split

from .judge import Answers

MARK = "@@preflight "
# What the evaluation returns of the configuration `c` (televoc's module left out).
EXPRESSION = (
    "{ asterisk = c.services.asterisk.package.version; asteriskEnabled = c.services.asterisk.enable; "
    "firewall = c.networking.firewall.enable; backend = c.networking.firewall.backend or null; "
    "nftables = c.networking.nftables.enable; firewalld = c.services.firewalld.enable or false; }"
)
EMPTY_MODULE = "{ ... }: { }"
NIX_FLAKES = "nix --extra-experimental-features 'nix-command flakes'"


def command(module_path: str, configuration: str, flake_output: str, import_name: str) -> str:
    """The shell command: every answer after its marker line."""
    q = shlex.quote
    conf_dir = posixpath.dirname(configuration)
    rel_conf = posixpath.basename(configuration)
    module_rel = posixpath.relpath(module_path, conf_dir)
    channel_eval = (
        f't=$(mktemp -d) && cp -a {q(conf_dir)}/. "$t"/ && mkdir -p "$(dirname "$t/"{q(module_rel)})" '
        f'&& printf %s {q(EMPTY_MODULE)} > "$t/"{q(module_rel)} '
        f'&& nix-instantiate --eval --strict --json -I nixos-config="$t/"{q(rel_conf)} '
        f"-E {q('let c = (import <nixpkgs/nixos> {}).config; in ' + EXPRESSION)}; "
        'rm -rf "$t"'
    )
    flake_eval = (
        f't=$(mktemp -d) && cp -a "$d"/. "$t"/ && rel=$(realpath -m --relative-to="$d" {q(module_path)}) '
        f'&& mkdir -p "$(dirname "$t/$rel")" && printf %s {q(EMPTY_MODULE)} > "$t/$rel" '
        f'&& {{ {nixos_host.GIT} -C "$t" add --intent-to-add -- "$rel" 2>/dev/null; true; }} '
        f"&& {NIX_FLAKES} eval --json --no-update-lock-file --no-write-lock-file "
        f'"$t#nixosConfigurations.\\"$name\\".config" --apply {q("c: " + EXPRESSION)}; '
        'rm -rf "$t"'
    )
    televoc_dir = "./" + posixpath.relpath(posixpath.dirname(module_path), conf_dir) + "/"
    by_hand = (
        f"( cd {q(conf_dir)} && grep -rn --include='*.nix' -e 'services.asterisk' -e 'asterisk = {{' . 2>/dev/null "
        f"| grep -v -F -e {q(televoc_dir)} | sed 's|^\\./||' ) || true"
    )
    parts = [
        f"echo '{MARK}version'; nixos-version 2>/dev/null",
        f"echo '{MARK}host'; " + nixos_host.command((module_path,), import_name),
        f"echo '{MARK}configuration'; if [ -e {q(configuration)} ]; then echo present; "
        f"grep -F -e {q(import_name)} {q(configuration)}; fi",
        f"d=''; if [ -e {nixos_host.FLAKE} ]; then d=$(dirname \"$(readlink -f {nixos_host.FLAKE})\"); fi; "
        f'name={q(flake_output)}; [ -n "$name" ] || name=$(hostname)',
        f"echo '{MARK}eval'; if [ -n \"$d\" ]; then {flake_eval}; else {channel_eval}; fi 2>&1",
        f"echo '{MARK}byhand'; {by_hand}",
        f"echo '{MARK}listening'; ss -H -lntup 2>/dev/null",
        f"echo '{MARK}pids'; for u in asterisk televoc-provisioning; do echo \"$u $(systemctl show -p MainPID "
        f'--value "$u".service 2>/dev/null)"; done; '
        "if grep -q 'managed by televoc' /etc/asterisk/pjsip.conf 2>/dev/null; then echo televoc-asterisk; fi",
        f"echo '{MARK}df'; df -Pk /nix/store /var 2>/dev/null",
    ]
    return "; ".join(parts)


_SS = re.compile(r"^(?P<proto>udp|tcp)\s+\S+\s+\d+\s+\d+\s+(?P<local>\S+)\s+\S+(?:\s+users:\(\((?P<users>.*)\)\))?")


def _listening(lines: list[str]) -> tuple[tuple[str, int, str, int], ...]:
    found = []
    for line in lines:
        match = _SS.match(line.strip())
        if not match:
            continue
        port = match["local"].rsplit(":", 1)[-1]
        user = re.match(r'"([^"]+)",pid=(\d+)', match["users"] or "")
        if port.isdigit():
            found.append((match["proto"], int(port), user[1] if user else "?", int(user[2]) if user else 0))
    return tuple(found)


def _free(lines: list[str]) -> list[int]:
    """Free megabytes of each row of `df -Pk PATH...`, in the order the paths were asked."""
    return [int(f[3]) // 1024 for f in (line.split() for line in lines) if len(f) >= 6 and f[3].isdigit()]


def parse(lines: list[str], flake_output: str = "") -> Answers:
    s = split(lines, MARK)
    version = next((line.strip() for line in s.get("version", []) if line.strip()), None)
    kind = nixos_host.parse(s.get("host", []))
    evaluated, error = None, ""
    text = "\n".join(s.get("eval", []))
    try:
        value = json.loads(text.strip().splitlines()[-1]) if text.strip() else None
        if isinstance(value, dict):
            evaluated = value
    except (ValueError, IndexError):
        pass
    if evaluated is None:
        error = text
    configuration = s.get("configuration", [])
    pids = {}
    for line in s.get("pids", []):
        unit, _, pid = line.strip().partition(" ")
        if pid.isdigit() and int(pid) > 0:
            pids[unit] = int(pid)
    televoc_asterisk = any(line.strip() == "televoc-asterisk" for line in s.get("pids", []))
    ours = {pids["televoc-provisioning"]} if "televoc-provisioning" in pids else set()
    if televoc_asterisk and "asterisk" in pids:
        ours.add(pids["asterisk"])
    free = _free(s.get("df", []))  # a row per path asked, in order
    free_by_path = dict(zip(("/nix/store", "/var"), free, strict=True)) if len(free) == 2 else {}
    return Answers(
        version=version,
        flake=kind.flake,
        git=kind.git,
        locked=kind.locked,
        name=flake_output or kind.name,
        import_lines=kind.import_lines,
        configuration_lines=None if not configuration else tuple(line for line in configuration[1:] if line.strip()),
        evaluated=evaluated,
        eval_error=error,
        by_hand=tuple(line.strip() for line in s.get("byhand", []) if line.strip()),
        listening=_listening(s.get("listening", [])),
        televoc_pids=frozenset(ours),
        free_mb=free_by_path,
    )
