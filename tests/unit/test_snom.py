"""snom provisioning renderers and the facts that read what was published (no host)."""

import xml.etree.ElementTree as ET

import pytest

from roles.event import load_directory
from roles.snom import provisioning_url, render_provisioning, render_wipe
from roles.snom.facts import MISSING, PendingNotifications, ProvisioningManifest
from roles.snom.operations import _tar


@pytest.fixture
def directory(tmp_path, monkeypatch):
    (tmp_path / "event.yml").write_text("name: test-event\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\n")
    (tmp_path / "phones.yml").write_text(
        "phones:\n"
        "  - {name: saal1, extension: 1001, display_name: 'R&D 1', mac: '00:04:13:2a:bc:de', model: snom320}\n"
        "  - {name: saal2, extension: 1002}\n"
    )
    secret = tmp_path / "s"
    secret.write_text("k" * 40)
    secret.chmod(0o600)  # televoc refuses a secret others can read
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(secret))
    return load_directory(tmp_path)


def settings(xml: str) -> dict:
    root = ET.fromstring(xml)
    return {(e.tag, e.get("idx")): (e.text or "") for e in root.find("phone-settings")}


def test_only_phones_with_a_mac_get_a_file_named_by_the_upper_case_mac(directory):
    assert list(render_provisioning(directory)) == ["0004132ABCDE.xml"]


def test_identity_one_is_the_phone_and_the_others_are_off(directory):
    account = directory.accounts[0]
    s = settings(render_provisioning(directory)["0004132ABCDE.xml"])
    assert s[("user_active", "1")] == "on"
    assert s[("user_name", "1")] == s[("user_pname", "1")] == "saal1"
    assert s[("user_pass", "1")] == account.password
    assert s[("user_host", "1")] == "10.23.0.2:5060"
    assert s[("user_realname", "1")] == "R&D 1"  # escaped in the XML, intact when parsed
    assert s[("setting_server", None)] == "http://10.23.0.2:8088/televoc/{mac}.xml"
    assert s[("http_pass", None)] == account.event_web_password and len(account.event_web_password) == 24
    assert all(s[("user_active", str(i))] == "off" for i in range(2, 13))


def test_wiped_profile_holds_no_credential(directory):
    account = directory.accounts[0]
    xml = render_wipe(directory)["0004132ABCDE.xml"]
    s = settings(xml)
    assert s[("user_active", "1")] == "off" and s[("user_pass", "1")] == "" and s[("setting_server", None)] == ""
    assert account.password not in xml and account.event_web_password not in xml


def test_provisioning_url_is_what_dhcp_option_66_carries(directory):
    assert provisioning_url(directory) == "http://10.23.0.2:8088/televoc/{mac}.xml"


def test_a_provisioned_phone_needs_the_pbx_address(tmp_path, monkeypatch):
    from roles.event import EventError

    (tmp_path / "event.yml").write_text("name: e\nnetwork: 10.0.0.0/8\n")
    (tmp_path / "phones.yml").write_text("phones:\n  - {name: a1, extension: 11, mac: '000413000001', model: snom300}\n")
    (tmp_path / "s").write_text("k" * 40)
    (tmp_path / "s").chmod(0o600)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(tmp_path / "s"))
    with pytest.raises(EventError, match="pbx_address is required"):
        load_directory(tmp_path)


def test_the_tar_of_provisioning_files_is_deterministic():
    files = {"B.xml": "b", "A.xml": "a"}
    assert _tar(files, "m") == _tar(dict(reversed(files.items())), "m")


def test_manifest_fact_keeps_never_published_apart_from_empty():
    fact = ProvisioningManifest()
    assert fact.process([MISSING]) is None
    assert fact.process([]) == {}
    sha = "a" * 64
    assert fact.process([f"{sha}  0004132ABCDE.xml", "garbage"]) == {"0004132ABCDE.xml": sha}


def test_pending_fact_dedupes_and_skips_junk():
    lines = ["@@televoc-exists", "saal1", "saal2", "saal1", "", "rm -rf /"]
    assert PendingNotifications().process(lines) == ["saal1", "saal2"]


def test_pending_fact_keeps_no_file_apart_from_a_file_without_names():
    assert PendingNotifications().process([]) is None
    assert PendingNotifications().process(["@@televoc-exists"]) == []


def test_a_display_name_that_looks_like_a_placeholder_stays_text(tmp_path, monkeypatch):
    (tmp_path / "event.yml").write_text("name: e\nnetwork: 10.0.0.0/8\npbx_address: 10.0.0.2\n")
    (tmp_path / "phones.yml").write_text(
        "phones:\n  - {name: a--b, extension: 11, display_name: '@@pass@@', mac: '000413000001', model: snom300}\n")
    (tmp_path / "s").write_text("k" * 40)
    (tmp_path / "s").chmod(0o600)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(tmp_path / "s"))
    directory = load_directory(tmp_path)
    xml = render_provisioning(directory)["000413000001.XML".replace(".XML", ".xml")]
    s = settings(xml)  # parses: the comment with the name 'a--b' is valid XML
    assert s[("user_realname", "1")] == "@@pass@@"
    assert s[("user_pass", "1")] == directory.accounts[0].password
