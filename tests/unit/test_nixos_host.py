"""The host's kind (flake or configuration.nix) as the run reads it, and what follows."""

from types import SimpleNamespace

from roles.nixos import host
from roles.nixos.deploy import rebuild_command

FLAKE_HOST = [
    "@@host name", "pbx",
    "@@host flake", "/etc/nixos",
    "@@host git", "/etc/nixos",
    "@@host indexed", "/etc/nixos/televoc/asterisk.nix",
    "@@host lock", "yes",
    "@@host imports", "configuration.nix:3:  imports = [ ./televoc/asterisk.nix ];",
]  # fmt: skip


def test_a_flake_host_is_read_with_what_git_knows_and_its_lock():
    kind = host.parse(FLAKE_HOST)
    assert kind == host.NixosHost(
        name="pbx", flake="/etc/nixos", git=True, indexed=frozenset({"/etc/nixos/televoc/asterisk.nix"}),
        locked=True, import_lines=("configuration.nix:3:  imports = [ ./televoc/asterisk.nix ];",),
    )  # fmt: skip
    assert host.imported(kind.import_lines)


def test_a_host_without_flake_nix_has_only_its_name():
    assert host.parse(["@@host name", "pbx", "@@host flake"]) == host.NixosHost(name="pbx")


def test_a_commented_import_is_no_import():
    assert not host.imported(["flake.nix:12:      # ./televoc/asterisk.nix"])


def test_inside_compares_paths_not_prefixes():
    assert host.inside("/etc/nixos/televoc/asterisk.nix", "/etc/nixos")
    assert not host.inside("/etc/nixos-old/televoc/asterisk.nix", "/etc/nixos")


def test_the_rebuild_names_the_flake_and_never_updates_its_lock():
    settings = SimpleNamespace(nixos__rebuild="nixos-rebuild switch", nixos__flake_output="")
    assert rebuild_command(settings, host.parse(FLAKE_HOST)) == (
        "nixos-rebuild switch --flake '/etc/nixos#pbx' --no-update-lock-file"
    )
    settings.nixos__flake_output = "event"
    assert rebuild_command(settings, host.parse(FLAKE_HOST)).endswith(
        "--flake '/etc/nixos#event' --no-update-lock-file"
    )
    assert rebuild_command(settings, host.NixosHost(name="pbx")) == "nixos-rebuild switch"
