"""The televoc lab: a Debian sid chroot that stands in for the NixOS PBX.

    from lab.lab import Lab
    with Lab(tmp_path / "lab") as lab:
        lab.run("nixos-rebuild switch")          # or deploy with pyinfra: lab.pyinfra_host_data()
        assert lab.register("saal1", "secret", 5070)

Each instance is an overlayfs over the cached rootfs (build-rootfs.sh) in its own network
namespace, with the chroot's sshd reachable from the host through a socat forwarder on a
free loopback port. Inside the namespace the PBX is 127.0.0.1:5060, exactly as on a
server, and several labs can run side by side. Needs root (mounts, namespaces).

The phone network: a second namespace ("phones") joined to the PBX's by a veth pair. The
PBX's end is its `eth0` with PBX_PHONE_IP (10.23.0.2/24, the example event's phone network)
and PBX_OUTSIDE_IP (10.24.0.2/24, a network "outside the phone network" on the same link);
the phones' end gets addresses on demand (`phone_address`). Traffic from there reaches the
PBX through its firewall, as a real phone's would; 127.0.0.x inside the PBX's namespace is
loopback, which a NixOS firewall always accepts. Nothing leaves the two namespaces.
The PBX has a host name of its own, "pbx" (PBX_HOSTNAME, CONFIGURATION_NIX's
networking.hostName): every command inside (sshd and what it starts, run(), exec()) runs in
a UTS namespace of the lab's, kept by a bind mount at workdir/uts; a switch sets it from
networking.hostName as NixOS's activation script does. The phones' namespace keeps the host's.
See standin/nixos-rebuild for what the NixOS stand-in does and does not simulate.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import sip
from .machine import (  # noqa: F401  (the lab's tests take them from here)
    BUILD_SCRIPT,
    CACHE,
    CHANNEL_NIX_PATH,
    CHANNELS,
    CHROOT,
    CHROOT_ENV,
    IP,
    LAB_DIR,
    NSENTER,
    OUTSIDE_NET,
    PBX_HOSTNAME,
    PBX_OUTSIDE_IP,
    PBX_PHONE_IP,
    PHONE_NET,
    REPO,
    SOCAT,
    UNSHARE,
)

CONFIGURATION_NIX = """\
{ config, lib, pkgs, ... }:
{
  imports = [ ./televoc/asterisk.nix ];
  networking.hostName = "pbx";
}
"""
# The stand-in nixpkgs flake in the chroot (a git repository, see standin/nixpkgs/flake.nix):
# an older revision (NIXPKGS_OLDER_RELEASE in .version) and the current one.
NIXPKGS_DIR = "/usr/local/lib/televoc-lab/nixpkgs"
NIXPKGS_URL = f"git+file://{NIXPKGS_DIR}"
NIXPKGS_OLDER_RELEASE = "25.05"
# The stand-in nixpkgs' files (standin/nixpkgs/), installed into NIXPKGS_DIR
NIXPKGS_FILES = ("flake.nix", ".version", "default.nix", "nixos/default.nix")
SSHD_CONFIG = """\
# televoc lab: key login as root on the namespace's loopback only
Port 22
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
UsePAM no
# NixOS gives every session NIX_PATH through PAM (pam_env, environment.sessionVariables);
# without PAM, root's ~/.ssh/environment does (nixos-rebuild writes the generation's).
PermitUserEnvironment NIX_PATH
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
PrintMotd no
Subsystem sftp /usr/lib/openssh/sftp-server
"""


# /usr/local/lib/televoc-lab/eval-config.nix: the module system of the lab's channel (the
# one <nixpkgs/nixos> and nixos-rebuild use), called as eval-config.nix was before the
# channel: `nix-instantiate --eval --strict --json eval-config.nix --arg configuration FILE`
# gives the attribute set the nixos-rebuild stand-in acts on.
EVAL_CONFIG_NIX = f"""\
# televoc lab: the stand-in module system of root's channel "nixos" (lab.py)
{{ configuration ? /etc/nixos/configuration.nix, specialArgs ? {{ }}, withConfig ? false }}:
import {CHANNELS}/nixos/eval-config.nix {{ inherit configuration specialArgs withConfig; }}
"""


def upstream_version(debian: str) -> str:
    """A Debian package's version -> the upstream version, as nixpkgs' `version` has it
    ("1:22.10.1+dfsg+~cs6.17.60671434-1" -> "22.10.1")."""
    return re.split(r"[+~-]", debian.strip().split(":", 1)[-1], maxsplit=1)[0]


class LabError(RuntimeError):
    pass


class CommandError(subprocess.CalledProcessError):
    """A command inside the lab failed; str() includes its output."""

    def __str__(self) -> str:
        return f"{super().__str__()}\n--- stdout:\n{self.stdout or ''}\n--- stderr:\n{self.stderr or ''}"


def _free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, in mount order (from /proc/self/mountinfo)."""
    prefix = str(path)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            mp = line.split()[4]
            # mountinfo escapes space, tab, newline and backslash as octal
            mp = mp.encode().decode("unicode_escape").encode("latin-1").decode()
            if mp == prefix or mp.startswith(prefix + "/"):
                found.append(mp)
    return found


def _proc_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


def _kill_and_wait(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM, wait (bounded), SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_proc_alive(p) for p in pids):
            time.sleep(0.05)
        pids = [p for p in pids if _proc_alive(p)]
        if not pids:
            return


class Lab:
    """One lab instance under `workdir` (created by up(), removed by down())."""

    ssh_host = "127.0.0.1"

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir).resolve()
        self.root = self.workdir / "root"
        self.known_hosts = self.workdir / "known_hosts"
        self.ssh_key = CACHE / "id_ed25519"
        self.ssh_port: int | None = None
        self._netns: str | None = None  # set by up() or attach()
        self._phones_netns: str | None = None
        self._uts: Path | None = None  # the PBX's UTS namespace (bind mount), set by up()
        self.rootfs: Path | None = None
        self.phones: list[sip.Phone] = []
        self._sshd_pid: int | None = None
        self._socat_pid: int | None = None
        self._popens: list[subprocess.Popen] = []

    @property
    def netns(self) -> str:
        """The PBX's network namespace."""
        if self._netns is None:
            raise LabError("the lab is not up")
        return self._netns

    @property
    def phones_netns(self) -> str:
        """The phone network's namespace."""
        if self._phones_netns is None:
            raise LabError("the lab is not up")
        return self._phones_netns

    # --- life cycle -------------------------------------------------------------------
    def __enter__(self) -> Lab:
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()

    def up(self) -> Lab:
        """Build or reuse the rootfs and start a fresh instance; Asterisk is not running."""
        if os.geteuid() != 0:
            raise LabError("the lab needs root (mounts and network namespaces)")
        if _mounts_under(self.workdir) or (self.workdir / "lab.json").exists():
            raise LabError(f"{self.workdir} holds another lab instance: down() it first")
        r = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1800, check=False)
        if r.returncode != 0:
            raise LabError(f"build-rootfs.sh failed:\n{r.stderr}")
        self.rootfs = Path(r.stdout.strip().splitlines()[-1])
        self._netns = f"televoc-lab-{secrets.token_hex(4)}"
        self._phones_netns = f"{self._netns}-phones"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._save_state()  # from here on, down() knows what to clean up
        try:
            self._mount_root()
            subprocess.run([IP, "netns", "add", self.netns], check=True, timeout=10)
            subprocess.run([IP, "netns", "add", self.phones_netns], check=True, timeout=10)
            self._make_uts()
            self._setup_links()
            self._mount_inside()
            self._install_files()
            self._start_sshd()
            self._start_forwarder()
            self._save_state()
        except BaseException:
            self.down()
            raise
        return self

    def _mount_root(self) -> None:
        upper, work = self.workdir / "upper", self.workdir / "work"
        for d in (upper, work, self.root):
            d.mkdir(exist_ok=True)
        opts = f"lowerdir={self.rootfs},upperdir={upper},workdir={work}"
        r = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", opts, str(self.root)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if r.returncode != 0:  # no overlayfs here: a full copy (slower, same result)
            subprocess.run(["cp", "-a", f"{self.rootfs}/.", str(self.root)], check=True, timeout=600)

    def _make_uts(self) -> None:
        """The PBX's own UTS namespace (its host name, PBX_HOSTNAME), kept by a bind mount
        at workdir/uts that _inside() enters; down() unmounts it with the rest."""
        uts = self.workdir / "uts"
        uts.touch()
        subprocess.run(
            [UNSHARE, f"--uts={uts}", sys.executable, "-c", f"import socket; socket.sethostname({PBX_HOSTNAME!r})"],
            check=True,
            timeout=10,
        )
        self._uts = uts

    def _setup_links(self) -> None:
        """lo up in both namespaces, and the phone network: a veth pair whose PBX end is the
        PBX's `eth0` (PBX_PHONE_IP/24 and PBX_OUTSIDE_IP/24) and whose other end is `eth0`
        of the phones' namespace (addresses come with phone_address()).

        eth0 is also what Asterisk (server and `asterisk -rx` alike) seeds its entity ID
        from: the MAC of an interface with an IPv4 address; without one, every CLI call
        prints "No ethernet interface found for seeding global EID" on stdout.
        """
        pbx, phones = self.netns, self.phones_netns
        steps = [
            (pbx, ["link", "set", "lo", "up"]),
            (phones, ["link", "set", "lo", "up"]),
            (pbx, ["link", "add", "eth0", "type", "veth", "peer", "name", "phones0", "netns", phones]),
            (phones, ["link", "set", "phones0", "name", "eth0"]),
            (pbx, ["addr", "add", f"{PBX_PHONE_IP}/24", "dev", "eth0"]),
            (pbx, ["addr", "add", f"{PBX_OUTSIDE_IP}/24", "dev", "eth0"]),
            (pbx, ["link", "set", "eth0", "up"]),
            (phones, ["link", "set", "eth0", "up"]),
        ]
        for ns, args in steps:
            subprocess.run([IP, "-n", ns, *args], check=True, timeout=10)

    def _mount_inside(self) -> None:
        root = self.root
        steps = [
            ["mount", "-t", "proc", "proc", f"{root}/proc"],
            ["mount", "--rbind", "/dev", f"{root}/dev"],
            ["mount", "--make-rslave", f"{root}/dev"],
            ["mount", "-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "tmpfs", f"{root}/run"],
        ]
        for cmd in steps:
            subprocess.run(cmd, check=True, timeout=30)

    def _install_files(self) -> None:
        root = self.root
        standin = LAB_DIR / "standin"
        lib = root / "usr/local/lib/televoc-lab"
        lib.mkdir(parents=True, exist_ok=True)
        shutil.copy(standin / "labsys.py", lib / "labsys.py")
        (lib / "eval-config.nix").write_text(EVAL_CONFIG_NIX)
        # The stand-in nixpkgs: NIXPKGS_FILES, its own copy of eval-config.nix (a flake reads
        # nothing outside its directory) and the versions of the Debian packages its `pkgs`
        # stands for, committed below; root's channel is its current revision.
        nixpkgs = root / NIXPKGS_DIR.lstrip("/")
        for name in NIXPKGS_FILES:
            (nixpkgs / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(standin / "nixpkgs" / name, nixpkgs / name)
        shutil.copy(standin / "eval-config.nix", nixpkgs / "eval-config.nix")
        asterisk = self.run("dpkg-query -W -f '${Version}' asterisk").stdout
        (nixpkgs / "debian-versions.json").write_text(json.dumps({"asterisk": upstream_version(asterisk)}) + "\n")
        for name, dest in (
            ("nixos-rebuild", "usr/local/sbin"),
            ("nixos-version", "usr/local/bin"),
            ("systemctl", "usr/local/bin"),
            ("journalctl", "usr/local/bin"),
        ):
            shutil.copy(standin / name, root / dest / name)
            os.chmod(root / dest / name, 0o755)
        shutil.copytree(LAB_DIR / "sipp", root / sip.SIPP_DIR.lstrip("/"), dirs_exist_ok=True)
        # sshd: the stable host key and the client's key for root
        for suffix, mode in (("", 0o600), (".pub", 0o644)):
            key = root / f"etc/ssh/ssh_host_ed25519_key{suffix}"
            shutil.copy(CACHE / f"ssh_host_ed25519_key{suffix}", key)
            os.chmod(key, mode)
        (root / "etc/ssh/sshd_config").write_text(SSHD_CONFIG)
        ssh_dir = root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.copy(CACHE / "id_ed25519.pub", ssh_dir / "authorized_keys")
        os.chmod(ssh_dir / "authorized_keys", 0o600)
        # NixOS's nixbld group (misc/ids.nix), which Nix's build-users-group names: without
        # it every Nix command would warn that it does not exist
        self.run("groupadd -g 30000 nixbld")
        # The sessions' NIX_PATH until the first switch: a fresh channel host's
        (ssh_dir / "environment").write_text(f"NIX_PATH={CHANNEL_NIX_PATH}\n")
        os.chmod(ssh_dir / "environment", 0o600)
        # No name service in the namespace: queries go to its loopback and fail at once.
        (root / "etc/resolv.conf").unlink(missing_ok=True)
        (root / "etc/resolv.conf").write_text("nameserver 127.0.0.1\n")
        (root / "etc/hostname").write_text(f"{PBX_HOSTNAME}\n")
        (root / "etc/hosts").write_text(f"127.0.0.1\tlocalhost {PBX_HOSTNAME}\n::1\tlocalhost ip6-localhost\n")
        # NixOS: the user's configuration (the deploy uploads televoc/asterisk.nix)
        (root / "etc/nixos").mkdir(exist_ok=True)
        (root / "etc/nixos/configuration.nix").write_text(CONFIGURATION_NIX)
        # /run/asterisk is not made here: on NixOS Asterisk makes its astrundir at its start
        self.run("mkdir -p /run/sshd /run/televoc-lab /var/log/televoc-lab")
        # The PBX's UTS namespace, as /proc/self/ns/uts names it: the nixos-rebuild stand-in
        # sets the host name only there (it cannot read PID 1's namespace from the chroot).
        if self._uts:
            (root / "run/televoc-lab/uts").write_text(f"uts:[{os.stat(self._uts).st_ino}]\n")
        # Likewise its network namespace: the stand-in writes a net.* sysctl only there.
        (root / "run/televoc-lab/netns").write_text(f"net:[{os.stat(f'/run/netns/{self.netns}').st_ino}]\n")
        self._commit_nixpkgs()
        self._install_channel()

    def _commit_nixpkgs(self) -> None:
        """The stand-in nixpkgs as a git repository with two revisions, the older one differing
        in .version only (fixed identity and dates: the same revisions in every lab). The
        identity is given to these commands only: root has none in the chroot."""
        ident = (
            "GIT_AUTHOR_NAME=televoc-lab GIT_AUTHOR_EMAIL=lab@televoc.invalid"
            " GIT_COMMITTER_NAME=televoc-lab GIT_COMMITTER_EMAIL=lab@televoc.invalid"
        )
        current = (LAB_DIR / "standin/nixpkgs/.version").read_text()
        self.run(
            f"cd {NIXPKGS_DIR} && git init -q -b main"
            f" && printf '%s\\n' {NIXPKGS_OLDER_RELEASE} > .version && git add -A"
            f" && env {ident} GIT_AUTHOR_DATE=2025-05-23T00:00:00Z GIT_COMMITTER_DATE=2025-05-23T00:00:00Z"
            f" git commit -q -m 'stand-in nixpkgs {NIXPKGS_OLDER_RELEASE}'"
            f" && printf %s {shlex.quote(current)} > .version"
            f" && env {ident} GIT_AUTHOR_DATE=2025-11-30T00:00:00Z GIT_COMMITTER_DATE=2025-11-30T00:00:00Z"
            f" git commit -q -a -m 'stand-in nixpkgs {current.strip()}'"
        )

    def _install_channel(self) -> None:
        """Root's channel "nixos", as nix-channel leaves it on a NixOS host: the channels
        profile (CHANNELS -> channels-1-link -> a user environment in the store) whose `nixos`
        is a channel in the store, here the stand-in nixpkgs' current revision with the files
        nixpkgs' make-channel.nix adds (.version-suffix ".<revCount>.<12 hex>", .git-revision,
        the `nixpkgs` link to itself); /root/.nix-channels names it."""
        profiles = CHANNELS.rsplit("/", 1)[0]
        self.run(
            "set -e; export NIX_CONFIG='build-users-group ='; d=$(mktemp -d)"
            f"; cd {NIXPKGS_DIR}; rev=$(git rev-parse HEAD); release=$(cat .version)"
            '; suffix=".$(git rev-list --count HEAD).$(printf %.12s "$rev")"'
            '; tree="$d/nixos-$release$suffix"; mkdir -p "$tree/nixos"'
            '; git archive HEAD | tar -x -C "$tree/nixos"'
            '; printf %s "$suffix" > "$tree/nixos/.version-suffix"; printf %s "$rev" > "$tree/nixos/.git-revision"'
            '; ln -s . "$tree/nixos/nixpkgs"; channel=$(nix-store --add "$tree")'
            '; mkdir "$d/user-environment"; ln -s "$channel/nixos" "$d/user-environment/nixos"'
            f'; env=$(nix-store --add "$d/user-environment"); mkdir -p {profiles}'
            f'; ln -s "$env" {profiles}/channels-1-link; ln -s channels-1-link {CHANNELS}'
            '; echo "https://nixos.org/channels/nixos-$release nixos" > /root/.nix-channels; rm -rf "$d"',
            timeout=60,
        )

    def _start_sshd(self) -> None:
        log = open(self.workdir / "sshd.log", "ab")  # noqa: SIM115 (kept by the child)
        p = subprocess.Popen(
            self._inside(["/usr/sbin/sshd", "-D", "-e"]),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=CHROOT_ENV,
            start_new_session=True,
        )
        log.close()
        self._popens.append(p)
        self._sshd_pid = p.pid

    def _start_forwarder(self) -> None:
        """socat on a free host loopback port -> sshd on the namespace's 127.0.0.1:22. Both of
        its TCP ends send at once (nodelay): a server has no forwarder, and Nagle's algorithm
        in one held each of SSH's small request-and-answer packets for a delayed ACK (40 ms
        per remote command)."""
        host_pub = (CACHE / "ssh_host_ed25519_key.pub").read_text().split()
        for _attempt in range(5):  # the free port can be taken between probe and bind
            port = _free_tcp_port()
            inner = f"{IP} netns exec {self.netns} {SOCAT} STDIO TCP4:127.0.0.1:22,nodelay"
            p = subprocess.Popen(
                [SOCAT, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay", f"EXEC:'{inner}'"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._popens.append(p)
            self._socat_pid, self.ssh_port = p.pid, port
            self.known_hosts.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
            if self._wait_ssh(p):
                return
            _kill_and_wait([p.pid])
        raise LabError(f"sshd did not answer; sshd.log:\n{self._tail('sshd.log')}")

    def _wait_ssh(self, forwarder: subprocess.Popen, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        for _ in range(100):  # bounded in count and time
            if forwarder.poll() is not None or time.monotonic() > deadline:
                return False
            r = subprocess.run(
                self.ssh_command("true", connect_timeout=2),
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=15,
                check=False,
            )
            if r.returncode == 0:
                return True
            time.sleep(0.2)
        return False

    def down(self) -> None:
        """Stop everything, unmount, delete the namespace and the workdir (idempotent)."""
        self.stop_all_phones()
        if self._socat_pid and f"netns exec {self._netns} " in _cmdline(self._socat_pid):
            try:  # the forwarder and its per-connection children share its process group
                os.killpg(self._socat_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            _kill_and_wait([self._socat_pid], timeout=3)
        for ns in (self._phones_netns, self._netns):
            if not ns or not Path(f"/run/netns/{ns}").exists():
                continue
            for _round in range(3):  # processes may fork while we kill: a few rounds
                r = subprocess.run([IP, "netns", "pids", ns], capture_output=True, text=True, timeout=10, check=False)
                pids = [int(p) for p in r.stdout.split() if p.isdigit()]
                if not pids:
                    break
                _kill_and_wait(pids)
        for p in self._popens:
            if p.poll() is None:
                _kill_and_wait([p.pid])
            p.wait(timeout=5)
        self._popens.clear()
        self._unmount_all()
        for ns in (self._phones_netns, self._netns):  # deleting either removes the veth pair
            if ns and Path(f"/run/netns/{ns}").exists():
                subprocess.run([IP, "netns", "delete", ns], check=False, timeout=10)
        if self.workdir.exists():
            if _mounts_under(self.workdir):
                raise LabError(f"mounts remain under {self.workdir}; not deleting it")
            subprocess.run(["rm", "-rf", "--one-file-system", str(self.workdir)], check=True, timeout=300)

    def _unmount_all(self) -> None:
        for lazy in (False, False, True):  # retry, lazily as a last resort
            mounts = _mounts_under(self.workdir)
            if not mounts:
                return
            for mp in reversed(mounts):  # children were mounted after their parents
                cmd = ["umount", "-l", mp] if lazy else ["umount", mp]
                subprocess.run(cmd, capture_output=True, timeout=30, check=False)

    # --- state for the CLI ------------------------------------------------------------
    def _save_state(self) -> None:
        state = {
            "ssh_host": self.ssh_host,
            "ssh_port": self.ssh_port,
            "ssh_key": str(self.ssh_key),
            "known_hosts": str(self.known_hosts),
            "netns": self._netns,
            "phones_netns": self._phones_netns,
            "uts": str(self._uts) if self._uts else None,
            "root": str(self.root),
            "rootfs": str(self.rootfs),
            "sshd_pid": self._sshd_pid,
            "socat_pid": self._socat_pid,
        }
        (self.workdir / "lab.json").write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def attach(cls, workdir: Path) -> Lab:
        """A Lab for an instance that another process started (reads workdir/lab.json)."""
        lab = cls(workdir)
        state = json.loads((lab.workdir / "lab.json").read_text())
        lab.ssh_port, lab._netns = state["ssh_port"], state["netns"]
        lab._phones_netns = state.get("phones_netns")
        lab._uts = Path(state["uts"]) if state.get("uts") else None
        lab.rootfs = Path(state["rootfs"]) if state.get("rootfs") else None
        lab._sshd_pid, lab._socat_pid = state.get("sshd_pid"), state.get("socat_pid")
        return lab

    # --- access -----------------------------------------------------------------------
    def pyinfra_host_data(self) -> dict:
        return {
            "ssh_hostname": self.ssh_host,
            "ssh_port": self.ssh_port,
            "ssh_user": "root",
            "ssh_key": str(self.ssh_key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",
        }

    def ssh_command(self, command: str, connect_timeout: int = 5) -> list[str]:
        """argv of `ssh root@lab COMMAND` from the host, with the lab's key and known_hosts."""
        return [
            "ssh",
            "-i",
            str(self.ssh_key),
            "-p",
            str(self.ssh_port),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"ConnectTimeout={connect_timeout}",
            f"root@{self.ssh_host}",
            command,
        ]

    def _inside(self, argv: list[str]) -> list[str]:
        uts = [NSENTER, f"--uts={self._uts}"] if self._uts else []
        return [*uts, IP, "netns", "exec", self.netns, CHROOT, str(self.root), *argv]

    def exec(self, argv: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run argv inside the namespace and chroot as root (text, output captured)."""
        r = subprocess.run(
            self._inside(argv),
            env=CHROOT_ENV,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and r.returncode != 0:
            raise CommandError(r.returncode, argv, r.stdout, r.stderr)
        return r

    def run(self, cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a shell command inside the namespace and chroot as root."""
        return self.exec(["/bin/sh", "-c", cmd], check=check, timeout=timeout)

    # --- links between labs (an upstream network, another venue) -----------------------
    def link(self, other: Lab, address: str, other_address: str, prefix: int = 30) -> str:
        """A veth pair from this lab's PBX namespace to `other`'s, with `address` here and
        `other_address` there (both /prefix); the name of this end. Deleting either namespace
        (down()) removes the pair. Nothing else is routed: the two PBXes reach each other only."""
        name = f"lnk{secrets.token_hex(3)}"
        steps = [
            (self.netns, ["link", "add", name, "type", "veth", "peer", "name", f"{name}p", "netns", other.netns]),
            (self.netns, ["addr", "add", f"{address}/{prefix}", "dev", name]),
            (other.netns, ["addr", "add", f"{other_address}/{prefix}", "dev", f"{name}p"]),
            (self.netns, ["link", "set", name, "up"]),
            (other.netns, ["link", "set", f"{name}p", "up"]),
        ]
        for ns, args in steps:
            subprocess.run([IP, "-n", ns, *args], check=True, timeout=10)
        return name

    # --- the phone network -------------------------------------------------------------
    def phone_address(self, ip: str, prefix: int = 24) -> str:
        """Give the phones' end of the phone network the address `ip` (idempotent); return it.

        10.23.0.x is in the phone network (PHONE_NET), 10.24.0.x outside it (OUTSIDE_NET):
        both reach the PBX over its eth0, through its firewall.
        """
        r = subprocess.run(
            [IP, "-n", self.phones_netns, "-o", "addr", "show", "dev", "eth0"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        if f" {ip}/" not in r.stdout:
            subprocess.run(
                [IP, "-n", self.phones_netns, "addr", "add", f"{ip}/{prefix}", "dev", "eth0"], check=True, timeout=10
            )
        return ip

    def phone_command(self, argv: list[str], chroot: bool = True) -> list[str]:
        """argv run in the phones' namespace: with the chroot's binaries (chroot=True, run it
        with env=CHROOT_ENV) or the host's (e.g. `[sys.executable, "-m", ...]`, cwd=REPO)."""
        inner = [CHROOT, str(self.root), *argv] if chroot else list(argv)
        return [IP, "netns", "exec", self.phones_netns, *inner]

    def exec_phone(self, argv: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Like exec(), in the phones' namespace: argv with the chroot's binaries (SIPp,
        curl, ...), as root, text, output captured."""
        r = subprocess.run(
            self.phone_command(argv),
            env=CHROOT_ENV,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and r.returncode != 0:
            raise CommandError(r.returncode, argv, r.stdout, r.stderr)
        return r

    def run_phone(self, cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Like run(), in the phones' namespace: a shell command with the chroot's binaries."""
        return self.exec_phone(["/bin/sh", "-c", cmd], check=check, timeout=timeout)

    def http_status_phone(self, source: str, url: str) -> str:
        """HTTP status of a GET of `url` from `source` in the phones' namespace ("000": no
        answer within 3 s)."""
        return self.run_phone(
            f"curl -s -o /dev/null --max-time 3 --interface {shlex.quote(source)} "
            f"-w '%{{http_code}}' {shlex.quote(url)}",
            check=False,
        ).stdout

    def python_phone(
        self, args: list[str], check: bool = True, timeout: float = 30, input: str | None = None
    ) -> subprocess.CompletedProcess:
        """The host's Python in the phones' namespace (cwd: the repository root), e.g.
        `lab.python_phone(["-m", "lab.snomsim", ...])` or `["-c", code]`."""
        argv = self.phone_command([sys.executable, *args], chroot=False)
        r = subprocess.run(
            argv,
            cwd=REPO,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and r.returncode != 0:
            raise CommandError(r.returncode, args, r.stdout, r.stderr)
        return r

    def popen_phone_python(self, args: list[str], **kwargs) -> subprocess.Popen:
        """A long-running host Python in the phones' namespace (cwd: the repository root);
        kwargs go to Popen. The caller stops it (down() kills what is left)."""
        kwargs.setdefault("cwd", REPO)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(self.phone_command([sys.executable, *args], chroot=False), **kwargs)
        self._popens.append(p)
        return p

    def asterisk(self, cmd: str) -> str:
        """stdout of `asterisk -rx CMD` (its exit code means little: see the field notes)."""
        return self.run(f"asterisk -C /etc/asterisk/asterisk.conf -rx {shlex.quote(cmd)}", check=False).stdout

    def _tail(self, name: str, lines: int = 20) -> str:
        try:
            return "\n".join((self.workdir / name).read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    # --- SIP (see sip.py) -------------------------------------------------------------
    def register(
        self,
        user: str,
        password: str,
        local_port: int,
        expires: int = 3600,
        timeout: float = 10,
        local_ip: str = "127.0.0.1",
        pbx: str | None = None,
    ) -> bool:
        """SIPp REGISTER; from a non-127.x local_ip it runs in the phone network (see sip.py)."""
        return sip.register(self, user, password, local_port, expires, timeout, local_ip, pbx)

    def unregister(
        self, user: str, password: str, local_port: int, local_ip: str = "127.0.0.1", pbx: str | None = None
    ) -> bool:
        return sip.register(self, user, password, local_port, 0, local_ip=local_ip, pbx=pbx)

    def start_phone(self, user: str, password: str, local_port: int) -> sip.Phone:
        phone = sip.Phone.start(self, user, password, local_port)
        self.phones.append(phone)
        return phone

    def call(
        self,
        user: str,
        password: str,
        extension: str,
        local_port: int,
        hold_seconds: float = 2,
        expect_bye: bool = False,
        timeout: float = 20,
    ) -> sip.CallResult:
        return sip.call(self, user, password, extension, local_port, hold_seconds, expect_bye, timeout)

    def stop_all_phones(self) -> None:
        while self.phones:
            self.phones.pop().stop()

    # -- failure injection -------------------------------------------------------------------

    def drop_ssh_connections(self) -> int:
        """Cut every open SSH connection into the lab, as a pulled cable would: kill the
        forwarder's per-connection children (ours). The forwarder keeps listening.
        Returns how many connections were cut."""
        children = [pid for pid in _all_pids() if _ppid(pid) == self._socat_pid]
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(children)

    def pids_running(self, name: str) -> list[int]:
        """PIDs in the lab's namespace whose command line contains `name`."""
        r = subprocess.run([IP, "netns", "pids", self.netns], capture_output=True, text=True, timeout=10, check=False)
        return [int(p) for p in r.stdout.split() if p.isdigit() and name in _cmdline(int(p))]


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1
