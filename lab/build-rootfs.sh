#!/bin/bash
# Build (or reuse) the Debian sid root file system that stands in for the NixOS PBX.
#
#   tests/lab/build-rootfs.sh        -> prints the rootfs path as the last line of stdout
#
# The rootfs is cached at /var/cache/televoc-lab/rootfs-<key>, where <key> is a short hash
# of this script: editing the script builds a new rootfs, an unchanged script reuses the
# cached one in milliseconds. The build goes to a temporary directory that is renamed into
# place only when complete, so an interrupted build never leaves a half-made cache entry.
# Old rootfs-<key> directories go when a new one is built, but only once no lab mounts one
# as its lowerdir and no checkout has used it for 3 days ($CACHE/used-<key>, touched on every
# use): parallel checkouts whose scripts differ share the cache and keep their own builds.
#
# Also created once, and kept across rebuilds (pyinfra must see a stable host key):
#   /var/cache/televoc-lab/ssh_host_ed25519_key{,.pub}   the lab sshd's host key
#   /var/cache/televoc-lab/id_ed25519{,.pub}             the client key that logs in as root
#
# Asterisk exists only in Debian sid, which needs sid's libc: hence a chroot, not the host.
# The mirror is taken from the host's apt configuration at run time (never written here).
set -euo pipefail

CACHE=/var/cache/televoc-lab
SELF=$(readlink -f "${BASH_SOURCE[0]}")
KEY=$(sha256sum "$SELF" | cut -c1-12)
ROOTFS=$CACHE/rootfs-$KEY
LOG=$CACHE/build-$KEY.log

mkdir -p "$CACHE"
chmod 700 "$CACHE"

# One builder at a time (parallel test runs share the cache). Bounded wait: 20 minutes.
exec 9>"$CACHE/build.lock"
flock -w 1200 9 || { echo "build-rootfs: timed out waiting for $CACHE/build.lock" >&2; exit 1; }

make_key() {  # make_key FILE COMMENT: an ed25519 key pair, created once and then kept
    [ -s "$1" ] && [ -s "$1.pub" ] && return 0
    rm -f "$1" "$1.pub"
    ssh-keygen -q -t ed25519 -N '' -C "$2" -f "$1"
}
make_key "$CACHE/ssh_host_ed25519_key" televoc-lab-host
make_key "$CACHE/id_ed25519" televoc-lab-client

if [ -d "$ROOTFS" ]; then
    touch "$CACHE/used-$KEY"
    echo "$ROOTFS"
    exit 0
fi

# --- find the Debian mirror the host uses ------------------------------------------------
# $TELEVOC_DEBIAN_MIRROR, else the first Debian archive URI in the host's apt sources (any
# suite; not the security archive), else none: mmdebstrap then uses its own default mirror
# (an Ubuntu host has no Debian mirror in its sources).
mirror_uri() {
    if [ -n "${TELEVOC_DEBIAN_MIRROR:-}" ]; then
        echo "$TELEVOC_DEBIAN_MIRROR"
        return
    fi
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f"
    done | head -n 1
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\// && $i ~ /\/debian\/?$/) { print $i; exit } }' "$f"
    done | head -n 1
}
MIRROR=$(mirror_uri | head -n 1)
MIRROR_ARGS=()
if [ -n "$MIRROR" ]; then
    MIRROR_ARGS=("deb $MIRROR sid main")
else
    echo "build-rootfs: no Debian mirror in the host's apt sources: mmdebstrap's default" >&2
fi
KEYRING_ARGS=()
if [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
    KEYRING_ARGS=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
fi

# --- build ---------------------------------------------------------------------------------
TMP=$(mktemp -d "$CACHE/.build-$KEY.XXXXXX")
trap 'rm -rf --one-file-system "$TMP"' EXIT
START=$(date +%s)
echo "build-rootfs: building $ROOTFS (log: $LOG)" >&2

PACKAGES=asterisk,asterisk-core-sounds-en-gsm,sip-tester,baresip-core,openssh-server
PACKAGES=$PACKAGES,systemd-standalone-sysusers,python3,nix-bin,procps,iproute2
# The NixOS firewall's two backends (networking.firewall, networking.nftables), applied by
# the nixos-rebuild stand-in in the PBX's namespace.
PACKAGES=$PACKAGES,iptables,nftables
# services.fail2ban: Debian's fail2ban stands in for nixpkgs' (its /etc/fail2ban is the
# package's etc/fail2ban); nixpkgs' package has systemd-python and pyinotify on its path.
PACKAGES=$PACKAGES,fail2ban,python3-systemd,python3-pyinotify
# Flakes: a flake in a git repository sees only the files git tracks (real Nix reads the
# index with libgit2); git itself is what an admin, televoc and the lab's tests use there.
PACKAGES=$PACKAGES,git
# The self-service registration page: nixpkgs' python3.withPackages (ps: [ ps.flask
# ps.flask-wtf ps.waitress ]) is Debian's python3 with these (the stand-in's withPackages).
PACKAGES=$PACKAGES,python3-flask,python3-flaskext.wtf,python3-waitress

# The sid Release file's Valid-Until can lie in this machine's past: do not check it.
if ! mmdebstrap --variant=apt --include="$PACKAGES" \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        "${KEYRING_ARGS[@]}" sid "$TMP/rootfs" "${MIRROR_ARGS[@]}" >"$LOG" 2>&1; then
    echo "build-rootfs: mmdebstrap failed, last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2
    exit 1
fi

# --- post-processing ---------------------------------------------------------------------
R=$TMP/rootfs
# Pristine Debian samples for the stand-in's useTheseDefaultConfFiles; /etc/asterisk starts
# empty because on NixOS it holds only the links that the system generation makes.
mkdir -p "$R/usr/share/televoc-lab"
cp -a "$R/etc/asterisk" "$R/usr/share/televoc-lab/asterisk-samples"
find "$R/etc/asterisk" -mindepth 1 -delete
rm -f "$R/var/lib/asterisk/astdb.sqlite3"
# The same for fail2ban: Debian's /etc/fail2ban is what nixpkgs' module takes from
# ${cfg.package}/etc/fail2ban (jail.conf, paths-common.conf, action.d/, filter.d/, ...);
# /etc/fail2ban starts empty (no Debian jail.d/defaults-debian.conf enabling sshd), and
# nothing of Debian's runtime state is kept.
# The package directory (pkgs.fail2ban in eval-config.nix) is laid out as nixpkgs' output:
# etc/fail2ban, bin/fail2ban-*, lib/systemd/system/fail2ban.service (Debian's unit).
F2B=$R/usr/share/televoc-lab/fail2ban
mkdir -p "$F2B/etc" "$F2B/bin" "$F2B/lib/systemd/system"
cp -a "$R/etc/fail2ban" "$F2B/etc/fail2ban"
find "$R/etc/fail2ban" -mindepth 1 -delete
for b in "$R"/usr/bin/fail2ban-*; do ln -s "/usr/bin/${b##*/}" "$F2B/bin/${b##*/}"; done
cp "$R/usr/lib/systemd/system/fail2ban.service" "$F2B/lib/systemd/system/fail2ban.service"
rm -rf "$R/var/lib/fail2ban" "$R/run/fail2ban" "$R/var/log/fail2ban.log"
# services.asterisk's package (pkgs.asterisk in eval-config.nix), laid out as nixpkgs'
# output: bin/ and sbin/asterisk, lib/asterisk/modules, etc/asterisk (the samples above) and
# var/{lib,spool,log}/asterisk, the skeleton that NixOS's unit copies into /var when a state
# directory does not exist yet (its preStart). nixpkgs' var/lib/asterisk holds the data
# (sounds, moh, documentation, keys, static-http, ...); Debian keeps that in
# /usr/share/asterisk: it is copied in (hard links, symlinks resolved), so the preStart copies
# real files as on NixOS.
A=$R/usr/share/televoc-lab/asterisk
mkdir -p "$A/bin" "$A/sbin" "$A/lib/asterisk" "$A/etc" "$A/var/lib" "$A/var/spool" "$A/var/log"
ln -s /usr/sbin/asterisk "$A/bin/asterisk"
ln -s /usr/sbin/asterisk "$A/sbin/asterisk"
MODDIR=$(cd "$R" && ls -d usr/lib/*/asterisk/modules | head -n 1)
ln -s "/$MODDIR" "$A/lib/asterisk/modules"
ln -s ../../asterisk-samples "$A/etc/asterisk"
mv "$R/var/lib/asterisk" "$A/var/lib/asterisk"
mv "$R/var/spool/asterisk" "$A/var/spool/asterisk"
mv "$R/var/log/asterisk" "$A/var/log/asterisk"
# (inside the chroot: Debian's links are absolute, /etc/alternatives/asterisk-prompt-en, ...)
chroot "$R" /bin/bash -euc '
copy_data() {  # copy_data SRC DST: hard links to SRC'"'"'s files, symlinks resolved, dangling ones skipped
    local e
    mkdir -p "$2"
    for e in "$1"/*; do
        [ -e "$e" ] || continue
        if [ -d "$e" ]; then
            copy_data "$e" "$2/${e##*/}"
        elif [ ! -e "$2/${e##*/}" ]; then
            ln "$(readlink -f "$e")" "$2/${e##*/}"
        fi
    done
}
copy_data /usr/share/asterisk /usr/share/televoc-lab/asterisk/var/lib/asterisk'
# A fresh NixOS host has no asterisk user before services.asterisk.enable (NixOS then makes it
# with its static uid/gid 192) and no /var/{lib,spool,log}/asterisk before Asterisk's first
# start: Debian's user, group and directories go; what Debian's user owned becomes root's.
chroot "$R" userdel asterisk
if chroot "$R" getent group asterisk >/dev/null; then chroot "$R" groupdel asterisk; fi
chown -R -h root:root "$A" "$R/usr/share/televoc-lab/asterisk-samples" "$R/etc/asterisk"
# Host keys come from the cache at lab start-up; the ones the postinst made are dropped.
rm -f "$R"/etc/ssh/ssh_host_*
# The store and profiles that the nixos-rebuild stand-in fills.
mkdir -p "$R/nix/store" "$R/nix/var/nix/profiles" "$R/etc/nixos"
{
    echo "built: $(date -u +%FT%TZ) from $SELF (key $KEY)"
    chroot "$R" dpkg-query -W asterisk sip-tester baresip-core nix-bin openssh-server iptables nftables \
        fail2ban python3-systemd python3-pyinotify git python3-flask python3-flaskext.wtf python3-waitress
} >"$R/usr/share/televoc-lab/build-info"

mv -T "$R" "$ROOTFS"
touch "$CACHE/used-$KEY"
END=$(date +%s)
echo "build-rootfs: built in $((END - START)) s, $(du -sh "$ROOTFS" | cut -f1)" >&2
echo "build-rootfs: built in $((END - START)) s" >>"$LOG"

# Older builds (another script version) go, unless a running lab still mounts one or a
# checkout with that version of the script used it in the last 3 days (another worktree's
# lab would otherwise rebuild it, and its older script would then delete this one).
# A build from before used-<key> existed counts as used when it was made.
NOW=$(date +%s)
for old in "$CACHE"/rootfs-*; do
    [ "$old" != "$ROOTFS" ] && [ -d "$old" ] || continue
    k=${old##*/rootfs-}
    used=$(stat -c %Y "$CACHE/used-$k" 2>/dev/null || stat -c %Y "$old")
    if grep -qF "$old" /proc/mounts; then
        echo "build-rootfs: keeping $old (in use)" >&2
    elif [ $((NOW - used)) -lt $((3 * 24 * 3600)) ]; then
        echo "build-rootfs: keeping $old (used in the last 3 days)" >&2
    else
        rm -rf --one-file-system "$old" "$CACHE/build-$k.log" "$CACHE/used-$k"
    fi
done
echo "$ROOTFS"
