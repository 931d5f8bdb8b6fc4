"""Announcements: the crew's audio file checked and converted with sox at load time (bad files
refused naming the file and the reason), the dialplan that plays it, the archive that carries
it to the PBX, and its entry in the directory. No host (tests/lab_tests/test_announcements.py
calls it in the lab)."""

import gzip
import io
import subprocess
import tarfile
import wave

from roles.asterisk.announcements import archive
from roles.asterisk.render import render_asterisk
from roles.event import load_directory
from roles.event.phonebook import entries, render_json

from .eventdirs import assert_named, problems, write

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
PHONES = "phones:\n  - {name: a1, extension: 1001}\n"


def record(path, seconds, rate=44100, channels=2):
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = ["sox", "-n", "-r", str(rate), "-c", str(channels), "-b", "16", str(path), "synth", str(seconds)]
    subprocess.run([*argv, "sine", "440"], check=True, timeout=60)


def event_with(tmp_path, *entries):
    tmp_path.mkdir(exist_ok=True)
    text = EVENT + "announcements:\n" + "".join(f"  - {e}\n" for e in entries)
    return write(tmp_path, text, PHONES)


def _made(path):
    path.mkdir()
    return path


def test_a_recording_is_converted_to_8_khz_mono_16_bit_the_same_bytes_every_time(tmp_path):
    record(tmp_path / "announcements" / "welcome.wav", 2)
    directory = event_with(tmp_path, "{name: welcome, number: 1200, file: announcements/welcome.wav}")
    first, second = load_directory(directory).announcements[0], load_directory(directory).announcements[0]
    assert first.audio == second.audio and first.seconds == 2.0
    with wave.open(io.BytesIO(first.audio)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (8000, 1, 2, 16000)


def test_flac_and_ogg_are_taken_too(tmp_path):
    record(tmp_path / "a.flac", 1)
    record(tmp_path / "b.ogg", 1)
    directory = event_with(tmp_path, "{name: a, number: 1200, file: a.flac}", "{name: b, number: 1201, file: b.ogg}")
    assert [round(a.seconds, 1) for a in load_directory(directory).announcements] == [1.0, 1.0]


def test_bad_audio_files_are_refused_naming_the_file_and_the_reason(tmp_path):
    (tmp_path / "notes.wav").write_text("not a recording\n")
    (tmp_path / "empty.wav").write_bytes(b"")
    record(tmp_path / "long.flac", 601, rate=8000, channels=1)
    (tmp_path / "folder.wav").mkdir()
    directory = event_with(
        tmp_path,
        "{name: notes, number: 1200, file: notes.wav}",  # line 5
        "{name: empty, number: 1201, file: empty.wav}",
        "{name: long, number: 1202, file: long.flac}",
        "{name: gone, number: 1203, file: announcements/gone.wav}",
        "{name: away, number: 1204, file: ../elsewhere.wav}",
        "{name: folder, number: 1205, file: folder.wav}",
    )
    assert_named(
        problems(directory),
        [
            "event.yml:5: announcement 1 (notes): file: 'notes.wav' is no audio sox can read (",
            "event.yml:6: announcement 2 (empty): file: 'empty.wav' is empty (0 bytes): record or copy the "
            "announcement again",
            "event.yml:7: announcement 3 (long): file: 'long.flac' plays 10 min 1 s, but an announcement is at most "
            "10 minutes: cut it",
            "event.yml:8: announcement 4 (gone): file: 'announcements/gone.wav' not found: put the file there, or "
            "correct the path (it is relative to the event directory)",
            "event.yml:9: announcement 5 (away): file: '../elsewhere.wav' is outside the event directory",
            "event.yml:10: announcement 6 (folder): file: 'folder.wav' is not a file: name an audio file",
        ],
    )
    rooted = event_with(tmp_path / "rooted", "{name: root, number: 1206, file: /etc/passwd}")
    assert_named(
        problems(rooted),
        [
            "event.yml:5: announcement 1 (root): file: '/etc/passwd' does not fit: file is an audio file inside the "
            "event directory, written relative to it"
        ],
    )


def test_an_announcements_number_and_name_are_its_own(tmp_path):
    record(tmp_path / "a.wav", 1)
    directory = event_with(
        tmp_path,
        "{name: a, number: 1001, file: a.wav}",  # line 5: a1's extension
        "{name: b, number: 100, file: a.wav}",  # the hello_world test number
        "{name: A, number: 1300, file: a.wav}",
        "{name: c, number: 1300, file: a.wav}",
    )
    assert_named(
        problems(directory),
        [
            "event.yml:5: announcement 1 (a): number: '1001' is already used by phone 1 (a1) (",
            "event.yml:6: announcement 2 (b): number: '100' is already used by the hello_world test number: give "
            "the announcement its own number",
            "event.yml:7: announcement 3 (A): name: 'A' is also the name of announcement 1 (a), line 5",
            "event.yml:8: announcement 4 (c): number: '1300' is also the number of announcement 3 (A), line 7",
        ],
    )


def test_the_dialplan_answers_plays_the_file_and_hangs_up(tmp_path):
    record(tmp_path / "announcements" / "welcome.wav", 1)
    directory = load_directory(event_with(tmp_path, "{name: welcome, number: 1200, file: announcements/welcome.wav}"))
    config = render_asterisk(directory)
    dialplan = config.conf_files["extensions.conf"]
    numbers = dialplan.split("[televoc-numbers]\n")[1].split("\n\n")[0]
    assert "include => televoc-announcements" in numbers.splitlines()
    assert (
        "exten => 1200,1,Answer()\n same => n,Wait(0.5)\n"
        " same => n,Playback(/var/lib/televoc/announcements/welcome)\n same => n,Hangup()\n"
    ) in dialplan.split("[televoc-announcements]\n")[1]
    assert config.announcements.files == {"welcome.wav": directory.announcements[0].audio}
    assert config.announcements.manifest_path == "/var/lib/televoc/announcements.manifest"
    none = render_asterisk(load_directory(write(_made(tmp_path / "none"), EVENT, PHONES)))
    assert "televoc-announcements" not in none.conf_files["extensions.conf"] and none.announcements.files == {}


def test_the_archive_holds_each_file_and_the_manifest_and_is_the_same_every_time(tmp_path):
    record(tmp_path / "a.wav", 1)
    record(tmp_path / "b.wav", 2)
    directory = load_directory(
        event_with(tmp_path, "{name: a, number: 1200, file: a.wav}", "{name: b, number: 1201, file: b.wav}")
    )
    announcements = render_asterisk(directory).announcements
    data = archive(announcements)
    assert data == archive(announcements)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert members[".manifest"].decode() == announcements.manifest
    assert {k: v for k, v in members.items() if k != ".manifest"} == announcements.files
    assert len(announcements.manifest.splitlines()) == 2


def test_an_announcement_is_in_the_directory_unless_left_out(tmp_path):
    record(tmp_path / "a.wav", 1)
    directory = load_directory(
        event_with(
            tmp_path,
            "{name: programme, number: 1200, file: a.wav, display_name: Programme (recorded)}",
            "{name: hidden, number: 1201, file: a.wav, in_directory: false}",
        )
    )
    assert [(e.name, e.kind) for e in entries(directory) if e.kind == "announcement"] == [
        ("Programme (recorded)", "announcement")
    ]
    assert '"type": "announcement"' in render_json(directory)


def test_a_forward_may_name_an_announcement_and_jumps_to_its_number(tmp_path):
    record(tmp_path / "closed.wav", 1)
    groups = (
        "groups:\n  - {name: desk, number: 1100, members: [a1], forward: {unavailable: closed, no_answer: closed}}\n"
    )
    text = EVENT + "announcements:\n  - {name: closed, number: 1199, file: closed.wav}\n"
    directory = load_directory(write(tmp_path, text, PHONES, groups))
    dialplan = render_asterisk(directory).conf_files["extensions.conf"]
    desk = dialplan.split("exten => 1100,1,")[1].split("\n\n")[0]
    assert '"NOANSWER"]?1199,1)' in desk and '"CONGESTION"]?1199,1)' in desk, desk


def test_an_announcement_takes_no_phones_or_groups_name_and_a_member_is_no_announcement(tmp_path):
    record(tmp_path / "a.wav", 1)
    groups = "groups:\n  - {name: desk, number: 1100, members: [closed]}\n"
    text = (
        EVENT
        + "announcements:\n  - {name: a1, number: 1199, file: a.wav}\n  - {name: closed, number: 1198, file: a.wav}\n"
    )
    found = problems(write(tmp_path, text, PHONES, groups))
    assert_named(
        found,
        [
            "event.yml:5: announcement 1 (a1): name: 'a1' is already the name of phone 1 (a1) (",
            "groups.yml:2: group 1 (desk): members 1.name: 'closed' is no phone or group of the event",
        ],
    )


def test_an_announcement_lies_outside_the_self_service_ranges(tmp_path):
    record(tmp_path / "a.wav", 1)
    text = EVENT + (
        "self_service:\n  claimable: {first: 2000, last: 8999}\n  temporary: {first: 9000, last: 9999}\n"
        "  info_desk: a1\n"
        "announcements:\n  - {name: a, number: 9100, file: a.wav}\n"
    )
    assert_named(
        problems(write(tmp_path, text, PHONES)),
        [
            "event.yml:9: announcement 1 (a): number: '9100' lies in the self-service range 9000-9999, whose "
            "numbers participants get: choose a number outside it"
        ],
    )


class _Host:
    """Just what the operation asks of pyinfra's host: its noop."""

    def __init__(self):
        self.noops = []

    def noop(self, text):
        self.noops.append(text)


def _decide(monkeypatch, announcements, current):
    from roles.asterisk import announcements as module

    fake = _Host()
    monkeypatch.setattr(module, "host", fake)
    commands = list(module.announcements_in_place._inner(announcements=announcements, current=current))
    return commands, fake.noops


def test_the_upload_happens_only_when_the_manifest_differs_and_old_files_go(tmp_path, monkeypatch):
    from pyinfra.api import FunctionCommand

    from roles.asterisk.render import Announcements
    from roles.shared.files import FileDigest, sha256

    record(tmp_path / "a.wav", 1)
    wanted = render_asterisk(load_directory(event_with(tmp_path, "{name: a, number: 1200, file: a.wav}"))).announcements
    same = FileDigest(sha256(wanted.manifest), "644", "root", "root")
    assert _decide(monkeypatch, wanted, same) == ([], ["1 announcement is already in place"])
    commands, _ = _decide(monkeypatch, wanted, FileDigest("0" * 64, "644", "root", "root"))
    assert [type(c) for c in commands][-1] is FunctionCommand and len(commands) == 2  # install -d, upload+swap
    commands, _ = _decide(monkeypatch, wanted, None)
    assert len(commands) == 2
    none = Announcements(wanted.directory, {})
    assert _decide(monkeypatch, none, None) == ([], ["the event has no announcements"])
    (removal,), _ = _decide(monkeypatch, none, same)
    assert removal.get_raw_value() == "rm -rf /var/lib/televoc/announcements /var/lib/televoc/announcements.manifest"


def test_an_announcement_takes_no_number_of_services_yml(tmp_path):
    record(tmp_path / "a.wav", 1)
    directory = event_with(tmp_path, "{name: a, number: 1500, file: a.wav}")
    (directory / "services.yml").write_text("conferences:\n  - {name: orga, number: 1500}\n")
    found = problems(directory)
    assert_named(
        found, ["event.yml:5: announcement 1 (a): number: '1500' is already used by conference room 1 (orga) ("]
    )
    assert found[0].endswith("services.yml line 2): give the announcement its own number")
