"""Announcements in the lab, proven from outside: a crew's audio file (44.1 kHz stereo, as a
recorder writes it) is converted by televoc with sox, uploaded by the real pyinfra CLI, and a
SIP client (SIPp) that calls its number gets 200 OK, RTP for about the file's length, and the
PBX's BYE. A rerun uploads nothing; a changed file goes up again, in one upload and one command.
"""

from __future__ import annotations

import subprocess
import time
import wave
from pathlib import Path

import pytest

from lab.deploys import Deployment, copy_example_event
from lab.lab import Lab

pytestmark = pytest.mark.lab

NUMBER = "1200"
PACKETS_PER_SECOND = 50  # G.711, 20 ms a packet
ANNOUNCEMENTS = """\
announcements:
  - name: programme
    number: 1200
    file: announcements/programme.wav
    display_name: Programme (recorded)
"""


def record(path: Path, seconds: int) -> None:
    """An announcement as a recorder writes it: 44.1 kHz, stereo, 16 bit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = ["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(path), "synth", str(seconds), "sine", "440"]
    subprocess.run(argv, check=True, timeout=30)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    work = tmp_path_factory.mktemp("announcements")
    with Lab(work / "lab") as lab:
        event = copy_example_event(work / "event")
        with open(event / "event.yml", "a") as f:
            f.write(ANNOUNCEMENTS)
        record(event / "announcements" / "programme.wav", 3)
        with open(event / "groups.yml", "a") as f:  # the info desk's line when nobody can answer
            f.write("    forward:\n      unavailable: programme\n")
        pbx = Deployment.prepare(lab, work, event)
        run = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
        assert run.returncode == 0, run.output
        pbx.first_run = run
        yield pbx


def played_seconds(pbx) -> float:
    """The length of the file on the PBX, which must be what Asterisk plays: 8 kHz mono 16 bit."""
    with wave.open(str(pbx.lab.root / "var/lib/televoc/announcements/programme.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.getnframes() / 8000


def call(pbx, seconds: float, port: int):
    started = time.monotonic()
    c = pbx.lab.call("saal1", pbx.passwords()["saal1"], NUMBER, port, expect_bye=True, timeout=seconds + 12)
    return c, time.monotonic() - started


def assert_played(c, seconds: float) -> None:
    expected = seconds * PACKETS_PER_SECOND
    assert c.answered and c.remote_bye, f"answered {c.answered} remote BYE {c.remote_bye}\n{c.output[-1500:]}"
    assert 0.85 * expected <= c.rtp_packets_received <= 1.15 * expected, (
        f"{c.rtp_packets_received} RTP packets for a {seconds} s announcement (about {expected:.0f} expected)"
    )


def test_the_announcement_is_on_the_pbx_converted_and_readable_by_asterisk_only(pbx):
    listing = pbx.lab.run("stat -c '%a %U %G %n' /var/lib/televoc/announcements /var/lib/televoc/announcements/*")
    rows = listing.stdout.splitlines()
    assert rows[0].split()[:3] == ["750", "root", "asterisk"], rows
    assert [r.split()[:3] for r in rows[1:]] == [["640", "root", "asterisk"]] and rows[1].endswith("/programme.wav")
    assert played_seconds(pbx) == 3.0
    assert "Announcements are in place (1, root:asterisk 0640)" in pbx.first_run.output


def test_a_caller_hears_the_announcement_for_its_length_and_the_pbx_hangs_up(pbx):
    c, took = call(pbx, 3, 5301)
    assert_played(c, 3)
    print(f"RTP packets: {c.rtp_packets_received} for a 3 s announcement, the call took {took:.2f} s")
    assert 3 <= took <= 3 + 6, f"the call took {took:.1f} s for a 3 s announcement"


def test_a_group_nobody_can_answer_forwards_to_the_announcement(pbx):
    c = pbx.lab.call("saal1", pbx.passwords()["saal1"], "1100", 5303, expect_bye=True, timeout=15)
    assert_played(c, 3)  # the info desk's phones are not plugged in: its unavailable forward plays it


def test_a_rerun_uploads_nothing_and_a_changed_file_goes_up_in_one_command(pbx):
    again = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
    assert again.returncode == 0, again.output
    assert "Announcements are in place" not in again.output, again.output[-3000:]  # no operation at all
    record(pbx.event / "announcements" / "programme.wav", 5)
    changed = pbx.deploy("--data", "televoc_verify=report", "--data", "televoc_register_wait=0")
    assert changed.returncode == 0, changed.output
    assert "Announcements are in place (1, root:asterisk 0640)" in changed.output, changed.output[-3000:]
    assert played_seconds(pbx) == 5.0
    c, _ = call(pbx, 5, 5302)
    assert_played(c, 5)
    print(f"RTP packets: {c.rtp_packets_received} for a 5 s announcement")


def test_the_teardown_removes_the_announcements(pbx):
    run = pbx.run("teardown.py", "--data", "televoc_reset_by_hand=all")  # the phones are SIPp, not snoms
    assert run.returncode == 0, run.output[-3000:]
    assert "files: /var/lib/televoc/pjsip-secrets.conf" in run.output and "/var/lib/televoc/announcements" in run.output
    assert not (pbx.lab.root / "var/lib/televoc/announcements").exists()
    assert not (pbx.lab.root / "var/lib/televoc/announcements.manifest").exists()
    dialplan = pbx.lab.run("asterisk -rx 'dialplan show 1200@televoc-numbers'", check=False).stdout
    assert "announcements" not in dialplan and "Playback" not in dialplan, dialplan
