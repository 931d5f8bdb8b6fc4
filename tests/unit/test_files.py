"""The file facts televoc decides with: digests of files, which paths exist."""

from roles.shared.files import ExistingPaths, FileDigest, FileDigests

SHA = "0" * 63 + "1"


def test_digests_keep_a_missing_file_apart_from_a_present_one():
    digests = FileDigests().process(
        [
            f"{SHA} 640 root asterisk /var/lib/televoc/pjsip-secrets.conf",
            "- - - - /etc/asterisk/http.conf",
        ]
    )
    assert digests == {
        "/var/lib/televoc/pjsip-secrets.conf": FileDigest(SHA, "640", "root", "asterisk"),
        "/etc/asterisk/http.conf": None,
    }


def test_digests_skip_lines_they_do_not_recognise():
    assert FileDigests().process(["sha256sum: permission denied", f"{SHA[:-1]} 644 root root /x"]) == {}


def test_paths_with_spaces_are_read_whole():
    assert FileDigests().process([f"{SHA} 644 root root /etc/a b.conf"])["/etc/a b.conf"].mode == "644"


def test_existing_paths_lists_what_exists():
    assert ExistingPaths().process(["/a", "", "/b "]) == ["/a", "/b"]
