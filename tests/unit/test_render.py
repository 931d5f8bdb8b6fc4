"""Pure renderers: deterministic, no secrets where they must not be."""


import pytest

from roles.asterisk import render_asterisk
from roles.event import load_directory
from roles.nixos import nix_indented_string, render_module


@pytest.fixture
def directory(tmp_path):
    (tmp_path / "event.yml").write_text("name: test-event\nnetwork: 10.23.0.0/24\n")
    (tmp_path / "phones.yml").write_text(
        "phones:\n"
        "  - {name: saal1, extension: 1001, display_name: Saal 1, password: pw-saal1-0123456789}\n"
        "  - {name: backoffice, extension: 1600, password: pw-back-0123456789, contact: 'sip:bo@10.23.0.9:5060'}\n"
    )
    return load_directory(tmp_path)


def test_rendering_is_byte_identical_for_the_same_input(directory):
    first, second = render_asterisk(directory), render_asterisk(directory)
    assert first == second
    assert render_module(directory, first) == render_module(directory, second)


def test_passwords_only_in_the_secrets_file(directory):
    config = render_asterisk(directory)
    module = render_module(directory, config)
    for password in ("pw-saal1-0123456789", "pw-back-0123456789"):
        assert password in config.secrets
        assert password not in module
        assert all(password not in text for text in config.conf_files.values())
    assert '#include "/var/lib/televoc/pjsip-secrets.conf"' in config.conf_files["pjsip.conf"]


def test_every_phone_gets_endpoint_auth_aor_and_a_dial_line(directory):
    config = render_asterisk(directory)
    pjsip, dialplan = config.conf_files["pjsip.conf"], config.conf_files["extensions.conf"]
    assert "[saal1](televoc-phone)\ncallerid=\"Saal 1\" <1001>\nauth=saal1\naors=saal1\n" in pjsip
    assert "max_contacts=1\nremove_existing=yes\nqualify_frequency=30" in pjsip
    assert "deny=0.0.0.0/0.0.0.0\npermit=10.23.0.0/24\n" in pjsip
    assert "[backoffice](televoc-aor)\ncontact=sip:bo@10.23.0.9:5060\n" in pjsip
    assert "exten => 1001,1,Dial(PJSIP/saal1,20)" in dialplan
    assert "exten => 100,1,Answer()" in dialplan and "Playback(hello-world)" in dialplan
    assert "[saal1]\ntype=auth\nauth_type=userpass\nusername=saal1\npassword=pw-saal1-0123456789\n" in config.secrets


def test_same_length_password_change_changes_the_generation(directory):
    before = render_asterisk(directory)
    accounts = list(directory.accounts)
    accounts[0] = accounts[0].model_copy(update={"password": "pw-saal1-9876543210"})
    after = render_asterisk(directory.model_copy(update={"accounts": tuple(accounts)}))
    assert after.conf_files == before.conf_files  # the store files do not change at all
    assert after.generation != before.generation
    assert len(after.secrets) == len(before.secrets)  # same size: only the mtime tells Asterisk
    assert f"[televoc-generation-{after.generation}]" in after.secrets


def test_dialplan_generation_is_in_the_dialplan(directory):
    config = render_asterisk(directory)
    assert f"TELEVOC_DIALPLAN={config.dialplan_generation}\n" in config.conf_files["extensions.conf"]


def test_nix_indented_string_escapes_interpolation_and_quotes():
    text = "[globals]\nexten => s,1,GotoIf($[\"${DIALSTATUS}\" = \"BUSY\"]?b)\nsay ''hi''\n"
    rendered = nix_indented_string(text)
    assert "''${DIALSTATUS}" in rendered and "'''hi'''" in rendered
    assert rendered.startswith("''\n") and rendered.endswith("\n      ''")


def test_nix_indented_string_refuses_text_whose_indentation_nix_would_strip():
    with pytest.raises(ValueError):
        nix_indented_string(" only indented\n")
    with pytest.raises(ValueError):
        nix_indented_string("trailing blank \n")


def test_realm_goes_into_the_global_section(tmp_path):
    (tmp_path / "event.yml").write_text("name: e\nnetwork: 10.0.0.0/8\nsip: {realm: e-realm}\n")
    (tmp_path / "phones.yml").write_text("phones:\n  - {name: a1, extension: 11, password: averylongpassword}\n")
    pjsip = render_asterisk(load_directory(tmp_path)).conf_files["pjsip.conf"]
    assert "[global]\ntype=global\ndefault_realm=e-realm\n" in pjsip
