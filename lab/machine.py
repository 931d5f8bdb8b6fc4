"""What the lab takes from this machine, and its fixed addresses: the tools it runs, where
its root filesystem is cached, the phone network's addresses. Imported by every part of the
lab; imports none of them."""

from __future__ import annotations

import shutil
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
REPO = LAB_DIR.parent  # the repository root (cwd for host Python modules)
# The phone network (see lab.py's docstring): the PBX's addresses on its eth0.
PHONE_NET, PBX_PHONE_IP = "10.23.0.0/24", "10.23.0.2"
OUTSIDE_NET, PBX_OUTSIDE_IP = "10.24.0.0/24", "10.24.0.2"
CACHE = Path("/var/cache/televoc-lab")
BUILD_SCRIPT = LAB_DIR / "build-rootfs.sh"
IP = shutil.which("ip") or "/usr/sbin/ip"
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
SOCAT = shutil.which("socat") or "/usr/bin/socat"
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
# The PBX's host name (its own UTS namespace), as CONFIGURATION_NIX's networking.hostName.
PBX_HOSTNAME = "pbx"
# NIX_PATH as a NixOS channel host's sessions have it (nix-channel.nix's nix.nixPath, through
# pam_env): nixpkgs is root's channel "nixos" (the lab's: the stand-in nixpkgs, see lab.py).
CHANNELS = "/nix/var/nix/profiles/per-user/root/channels"
CHANNEL_NIX_PATH = f"nixpkgs={CHANNELS}/nixos:nixos-config=/etc/nixos/configuration.nix:{CHANNELS}"
# The environment of every command run inside the chroot (the host's is not passed on). Not a
# session: NIX_PATH is always the fresh channel host's, where SSH sessions get the current
# generation's (a flake host's after its first switch: "nixpkgs=flake:nixpkgs:...", see lab.py).
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "NIX_PATH": CHANNEL_NIX_PATH,
}
