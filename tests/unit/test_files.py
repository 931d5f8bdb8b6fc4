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


def test_a_text_file_comes_back_byte_for_byte_packed_and_a_missing_one_as_none(tmp_path):
    """TextFile's own command, run here by sh: every character (a password the crew wrote
    may hold any but spaces, quotes, ';' and '\\'), in one line of output; None for no file."""
    import subprocess

    from roles.shared.files import TextFile

    path = tmp_path / "pjsip-secrets.conf"
    text = "[saal1]\ntype=auth\npassword=Grüße-Äpfel-€-2026\n\n[saal2]\npassword=x\ty\n"
    path.write_text(text, encoding="utf-8")
    fact = TextFile()

    def read(p):
        out = subprocess.run(
            ["sh", "-c", fact.command(str(p)).get_raw_value()], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        return out, fact.process(out)

    output, lines = read(path)
    assert len(output) == 1
    assert "\n".join(lines) + "\n" == text
    assert read(tmp_path / "nothing-here")[1] is None
