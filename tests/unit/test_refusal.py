"""NixOS's refusal read for the crew: the lines of televoc's module its message points at."""

from roles.nixos import refusal

MODULE = """\
# managed by televoc
{ config, lib, pkgs, ... }:
{
  services.asterisk = {
    enable = true;
    useTheseDefaultConfFiles = [ ];
  };
  assertions = [
    {
      assertion = config.networking.firewall.enable;
      message = "televoc: networking.firewall.enable is false, so every port of this PBX is open.";
    }
  ];
  services.fail2ban = {
    enable = true;
  };
}
"""
PATH = "/etc/nixos/televoc/asterisk.nix"


def test_a_position_in_the_module_is_quoted():
    output = ["error: undefined variable 'foo'", "       at /etc/nixos/televoc/asterisk.nix:5:5:"]
    assert refusal.pointed_lines(output, MODULE, PATH) == [(5, "enable = true;")]


def test_a_conflict_on_an_option_names_the_line_that_defines_it_in_its_block():
    output = [
        "error: The option `services.asterisk.enable' has conflicting definition values:",
        "       - In `/etc/nixos/configuration.nix': false",
        "       - In `/etc/nixos/televoc/asterisk.nix': true",
    ]
    assert refusal.pointed_lines(output, MODULE, PATH) == [(5, "enable = true;")]


def test_a_failed_assertion_of_televocs_names_its_message():
    output = ["error:", "       Failed assertions:", "       - televoc: networking.firewall.enable is false, so every"]
    assert refusal.pointed_lines(output, MODULE, PATH) == [
        (11, 'message = "televoc: networking.firewall.enable is false, so every port of this PBX is open.";')
    ]


def test_a_message_about_the_crews_own_files_points_at_nothing_of_televocs():
    output = ["error: syntax error, unexpected '}'", "       at /etc/nixos/configuration.nix:7:1:"]
    assert refusal.pointed_lines(output, MODULE, PATH) == []


def test_failed_units_are_read_from_switch_to_configuration():
    output = ["starting the following units: asterisk.service", "warning: the following units failed: fail2ban.service"]
    assert refusal.failed_units(output) == ["fail2ban.service"]
