"""snom provisioning renderers and the facts that read what was published (no host)."""

import io
import subprocess
import tarfile
import xml.etree.ElementTree as ET

import pytest

from roles.event import load_directory
from roles.shared import names
from roles.shared.files import sha256
from roles.snom import provisioning_url, render_provisioning, render_wipe
from roles.snom.deploy import Publication
from roles.snom.facts import MISSING, PendingNotifications, ProvisioningManifest
from roles.snom.operations import TOLD_MARK, _tar, changed_phones, directory_changed, notify_script
from roles.snom.render import TBOOK_MAX


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


def test_only_phones_with_a_mac_get_a_file_named_by_the_upper_case_mac_plus_the_directory(directory):
    assert sorted(render_provisioning(directory)) == ["0004132ABCDE.xml", "directory-yealink.xml", "directory.xml"]


def test_nothing_is_published_without_a_provisioned_phone(directory):
    assert render_provisioning(directory.model_copy(update={"accounts": directory.accounts[1:]})) == {}


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
    (tmp_path / "phones.yml").write_text(
        "phones:\n  - {name: a1, extension: 11, mac: '000413000001', model: snom300}\n"
    )
    (tmp_path / "s").write_text("k" * 40)
    (tmp_path / "s").chmod(0o600)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(tmp_path / "s"))
    with pytest.raises(EventError, match="pbx_address is required"):
        load_directory(tmp_path)


def test_the_tar_of_provisioning_files_is_deterministic():
    files = {"B.xml": "b", "A.xml": "a"}
    assert _tar(files, "m") == _tar(dict(reversed(files.items())), "m")


def test_the_tar_of_provisioning_files_is_what_tar_reads_back():
    """Its headers are written by hand: Python's tarfile (strict about checksums and the
    ustar magic) reads every file back, with its name, size, mode and text."""
    files = {f"000413{i:06X}.xml": f"<settings>{'x' * (i * 37 % 1500)}</settings>\n" for i in range(40)}
    files["directory.xml"] = "\u00e4\u00f6\u00fc" * 200  # not ASCII inside: sizes are bytes
    with tarfile.open(fileobj=io.BytesIO(_tar(files, "the manifest\n")), mode="r:gz") as tar:
        members = tar.getmembers()
        read = {m.name: tar.extractfile(m).read().decode() for m in members}  # type: ignore[union-attr]
    assert read == {**files, ".manifest": "the manifest\n"}
    assert {(m.mode, m.uid, m.gid, m.mtime, m.type) for m in members} == {(0o640, 0, 0, 0, tarfile.REGTYPE)}
    assert [m.name for m in members] == sorted(read)


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
        "phones:\n  - {name: a--b, extension: 11, display_name: '@@pass@@', mac: '000413000001', model: snom300}\n"
    )
    (tmp_path / "s").write_text("k" * 40)
    (tmp_path / "s").chmod(0o600)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(tmp_path / "s"))
    directory = load_directory(tmp_path)
    xml = render_provisioning(directory)["000413000001.XML".replace(".XML", ".xml")]
    s = settings(xml)  # parses: the comment with the name 'a--b' is valid XML
    assert s[("user_realname", "1")] == "@@pass@@"
    assert s[("user_pass", "1")] == directory.accounts[0].password


def load(tmp_path, monkeypatch, phones: str, groups: str = "") -> object:
    (tmp_path / "event.yml").write_text("name: e\nnetwork: 10.0.0.0/8\npbx_address: 10.0.0.2\n")
    (tmp_path / "phones.yml").write_text("phones:\n" + phones)
    if groups:
        (tmp_path / "groups.yml").write_text("groups:\n" + groups)
    (tmp_path / "s").write_text("k" * 40)
    (tmp_path / "s").chmod(0o600)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(tmp_path / "s"))
    return load_directory(tmp_path)


def many(count: int, **fields) -> str:
    """`count` provisioned phones p000.. (extension 2000..)."""
    extra = "".join(f", {k}: {v}" for k, v in fields.items())
    return "".join(
        f"  - {{name: p{i:03d}, extension: {2000 + i}, mac: '000413{i:06X}', model: snom320{extra}}}\n"
        for i in range(count)
    )


def tbook(xml: str) -> list[tuple[str, str, str, str, str]]:
    book = ET.fromstring(xml).find("tbook")
    assert book is not None and book.get("complete") == "true"
    return [
        (i.get("index"), i.get("context"), i.get("type"), i.findtext("name"), i.findtext("number"))
        for i in book.findall("item")
    ]


def test_each_alert_class_rings_with_the_phones_ringer_for_it(tmp_path, monkeypatch):
    directory = load(
        tmp_path,
        monkeypatch,
        "  - {name: hall, extension: 11, mac: '000413000001', model: snom300, ringer: Silent,\n"
        "     group_ringer: Ringer3, loud_from: [desk], loud_ringer: Ringer7}\n"
        "  - {name: desk, extension: 12, mac: '000413000002', model: snom320, ringer: Ringer2}\n",
    )
    files = render_provisioning(directory)
    hall, desk = settings(files["000413000001.xml"]), settings(files["000413000002.xml"])
    assert hall[("alert_internal_ring_text", None)] == names.ALERT_DIRECT == "televoc-direct"
    assert hall[("alert_external_ring_text", None)] == names.ALERT_GROUP == "televoc-group"
    assert hall[("alert_group_ring_text", None)] == names.ALERT_LOUD == "televoc-loud"
    assert (
        hall[("alert_internal_ring_sound", None)],
        hall[("alert_external_ring_sound", None)],
        hall[("alert_group_ring_sound", None)],
    ) == ("Silent", "Ringer3", "Ringer7")
    # no group_ringer: a call through a group rings as a direct one; loud_ringer's default
    assert (
        desk[("alert_internal_ring_sound", None)],
        desk[("alert_external_ring_sound", None)],
        desk[("alert_group_ring_sound", None)],
    ) == ("Ringer2", "Ringer2", "Ringer1")
    assert hall[("user_ringer", "1")] == "Silent"  # a call without Alert-Info rings as a direct one


def test_the_phone_never_fetches_the_alert_info_url(directory):
    s = settings(render_provisioning(directory)["0004132ABCDE.xml"])
    assert s[("alert_info_playback", None)] == "off"


def test_the_tbook_lists_the_directory_in_order_escaped_inside_settings(tmp_path, monkeypatch):
    directory = load(
        tmp_path,
        monkeypatch,
        "  - {name: saal2, extension: 1002, display_name: 'Saal 2', mac: '000413000002', model: snom320}\n"
        "  - {name: rd, extension: 1010, display_name: 'R&D Labor', mac: '000413000003', model: snom320}\n"
        "  - {name: saal10, extension: 1003, display_name: 'Saal 10'}\n"
        "  - {name: hidden, extension: 1004, in_directory: false}\n",
        "  - {name: info, number: 1600, display_name: Info, members: [saal2]}\n",
    )
    files = render_provisioning(directory)
    xml = files["000413000002.xml"]
    assert tbook(xml) == [
        ("0", "active", "none", "Info", "1600"),
        ("1", "active", "none", "R&D Labor", "1010"),
        ("2", "active", "none", "Saal 2", "1002"),
        ("3", "active", "none", "Saal 10", "1003"),
    ]
    assert "R&amp;D Labor" in xml
    assert tbook(files["000413000003.xml"]) == tbook(xml)  # every phone the same book
    assert settings(xml)[("dkey_directory", None)] == "keyevent F_ADR_BOOK"  # the phone's own directory


def test_a_directory_name_that_looks_like_a_placeholder_stays_text(tmp_path, monkeypatch):
    directory = load(
        tmp_path,
        monkeypatch,
        "  - {name: a1, extension: 11, display_name: '@@pass@@', mac: '000413000001', model: snom300}\n"
        "  - {name: a2, extension: 12, display_name: '@@webpass@@'}\n",
    )
    xml = render_provisioning(directory)["000413000001.xml"]
    assert [row[3] for row in tbook(xml)] == ["@@pass@@", "@@webpass@@"]
    assert xml.count(directory.accounts[0].password) == 1  # in user_pass only


def test_the_tbook_is_capped_at_100_entries(tmp_path, monkeypatch):
    directory = load(tmp_path, monkeypatch, many(TBOOK_MAX))
    xml = render_provisioning(directory)["000413000000.xml"]
    assert [int(row[0]) for row in tbook(xml)] == list(range(100))
    assert settings(xml)[("dkey_directory", None)] == "keyevent F_ADR_BOOK"


def test_beyond_100_entries_the_directory_key_fetches_directory_xml_and_the_tbook_is_emptied(tmp_path, monkeypatch):
    directory = load(tmp_path, monkeypatch, many(TBOOK_MAX) + "  - {name: extra, extension: 3000}\n")
    files = render_provisioning(directory)
    xml = files["000413000000.xml"]
    book = ET.fromstring(xml).find("tbook")  # empty and complete: no entries left from an earlier run
    assert book is not None and book.get("complete") == "true" and list(book) == []
    assert settings(xml)[("dkey_directory", None)] == "url http://10.0.0.2:8088/televoc/directory.xml"
    root = ET.fromstring(files["directory.xml"])
    assert root.tag == "SnomIPPhoneDirectory" and root.findtext("Title") == "e"
    entries = [(e.findtext("Name"), e.findtext("Telephone")) for e in root.findall("DirectoryEntry")]
    assert len(entries) == 101 and entries[0] == ("extra", "3000") and entries[1] == ("p000", "2000")


def test_directory_xml_is_escaped(tmp_path, monkeypatch):
    directory = load(
        tmp_path,
        monkeypatch,
        "  - {name: rd, extension: 11, display_name: \"R&D's Labor\", mac: '000413000001', model: snom300}\n",
    )
    text = render_provisioning(directory)["directory.xml"]
    assert [(e.findtext("Name"), e.findtext("Telephone")) for e in ET.fromstring(text).findall("DirectoryEntry")] == [
        ("R&D's Labor", "11")
    ]


def test_the_wiped_profile_turns_auto_answer_off(directory):
    """A phone a page or intercom reached got answer_after_policy=idle: returned to its owner,
    it must not answer calls by itself on its speaker."""
    for xml in render_wipe(directory).values():
        assert settings(xml)[("answer_after_policy", None)] == "off"


def test_the_wiped_profile_empties_the_phones_directory(directory):
    xml = render_wipe(directory)["0004132ABCDE.xml"]
    assert tbook(xml) == [] and settings(xml)[("dkey_directory", None)] == "keyevent F_ADR_BOOK"
    assert "directory.xml" not in render_wipe(directory)


def published(files: dict) -> dict:
    return {name: sha256(text) for name, text in files.items()}


def test_a_change_of_one_phones_ringer_changes_that_phones_file_only(tmp_path, monkeypatch):
    before = render_provisioning(load(tmp_path, monkeypatch, many(3)))
    directory = load(
        tmp_path, monkeypatch, many(2) + many(3).splitlines(keepends=True)[2].replace("}", ", ringer: Ringer4}")
    )
    files = render_provisioning(directory)
    assert changed_phones(published(before), published(files), directory.provisioned) == ["p002"]
    assert not directory_changed(published(before), published(files))


def test_a_directory_change_changes_every_provisioned_phones_file_and_is_said_once(tmp_path, monkeypatch):
    before = render_provisioning(load(tmp_path, monkeypatch, many(3)))
    directory = load(tmp_path, monkeypatch, many(3) + "  - {name: new, extension: 3000}\n")
    files = render_provisioning(directory)
    live = published(before)
    assert changed_phones(live, published(files), directory.provisioned) == ["p000", "p001", "p002"]
    assert directory_changed(live, published(files))
    assert not directory_changed(None, published(files))  # the first publication: every phone is new anyway
    told = Publication(files=files, changed=["p000", "p001", "p002"], pending=["p001"], directory_resync=True)
    assert told.told == ("p001",)  # the rest is one line: "the directory changed: 3 provisioned phones resync"
    assert Publication(files=files, changed=["p000"], pending=["p001"]).told == ("p001", "p000")


def test_beyond_100_entries_a_directory_change_changes_no_phones_file(tmp_path, monkeypatch):
    before = render_provisioning(load(tmp_path, monkeypatch, many(101)))
    directory = load(tmp_path, monkeypatch, many(101) + "  - {name: new, extension: 3000}\n")
    files = render_provisioning(directory)
    assert directory_changed(published(before), published(files))
    assert changed_phones(published(before), published(files), directory.provisioned) == []


FAKE_ASTERISK = """\
#!/bin/sh
# asterisk -rx COMMAND, as Asterisk 22 answers: two phones registered (a1 with two contacts)
case "$2" in
  "database show registrar/contact")
    printf '%s\\n' '/registrar/contact/a1;@0123abcd: {"uri":"sip:a1@10.0.0.1"}' \\
      '/registrar/contact/a1;@4567ef01: {"uri":"sip:a1@10.0.0.9"}' \\
      '/registrar/contact/a3;@89abcdef: {"uri":"sip:a3@10.0.0.3"}' '3 results found.' ;;
  "pjsip send notify "*)
    echo "$2" >> "$(dirname "$0")/notified"
    for name in $(echo "$2" | sed 's/.* endpoint //'); do echo "Sending NOTIFY of type 'x' to '$name'"; done ;;
esac
"""


def run_notify(tmp_path, names: list[str], fake: str = FAKE_ASTERISK) -> list[str]:
    cli = tmp_path / "asterisk"
    cli.write_text(fake)
    cli.chmod(0o755)
    script = notify_script(str(cli), "televoc-check-sync")
    done = subprocess.run(
        ["sh", "-c", script], input="".join(f"{n}\n" for n in names), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_notify_goes_to_the_phones_registered_now_and_names_them(tmp_path):
    lines = run_notify(tmp_path, ["a1", "a2", "a3", "a10"])
    assert lines[lines.index(TOLD_MARK) + 1 :] == ["a1", "a3"]
    assert (tmp_path / "notified").read_text() == "pjsip send notify televoc-check-sync endpoint a1 a3\n"


def test_a_notify_to_nobody_registered_sends_no_command(tmp_path):
    assert run_notify(tmp_path, ["a2", "a4"]) == [TOLD_MARK]
    assert not (tmp_path / "notified").exists()


def test_a_notify_with_asterisk_down_says_so_before_the_mark(tmp_path):
    down = (
        "#!/bin/sh\necho 'Unable to connect to remote asterisk (does /run/asterisk/asterisk.ctl exist?)' >&2\nexit 1\n"
    )
    lines = run_notify(tmp_path, ["a1"], fake=down)
    assert lines[0].startswith("Unable to connect to remote asterisk") and lines[-1] == TOLD_MARK


def test_the_archive_is_packed_once_beside_the_run_whoever_asks():
    """pyinfra runs an operation's generator more than once (to see whether it changes
    anything, then to run it): the archive is packed once, with the phones to tell."""
    from pyinfra.api import HiddenValue

    from roles.snom import operations

    files = HiddenValue({"A.xml": "a"})
    first = operations._archive(files, "m", ["saal1"])
    assert operations._archive(files, "m", ["saal1"]) is first
    with tarfile.open(fileobj=io.BytesIO(first.get()), mode="r:gz") as tar:
        read = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert read == {"A.xml": "a", ".pending-add": "saal1\n", ".manifest": "m"}


def test_a_publication_sends_only_the_files_that_differ_from_the_published_ones():
    """With a manifest published, the archive holds the files whose digest differs (new ones
    included) and the whole manifest; the others stay on the PBX. Nothing published: all."""
    from pyinfra.api import HiddenValue

    from roles.snom import operations

    wanted = {"A.xml": "a1", "B.xml": "b", "C.xml": "c"}
    live = {"A.xml": "a0", "B.xml": "b", "D.xml": "d"}  # A changed, C new, D gone
    assert operations.differing(live, wanted) == ("A.xml", "C.xml")
    assert operations.differing(None, wanted) is None
    assert operations.differing(wanted, wanted) == ()
    files = HiddenValue({"A.xml": "A", "B.xml": "B", "C.xml": "C"})
    archive = operations._archive(files, "the manifest", [], ("A.xml", "C.xml"))
    with tarfile.open(fileobj=io.BytesIO(archive.get()), mode="r:gz") as tar:
        read = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert read == {"A.xml": "A", "C.xml": "C", ".manifest": "the manifest"}
