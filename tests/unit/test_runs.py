"""The closing lines of a failed run (roles.shared.runs.closing_lines)."""

import subprocess
import sys
from pathlib import Path

from roles.shared.runs import INTERRUPTED, SHOWN_PER_HOST, closing_lines

ROOT = Path(__file__).resolve().parents[2]


def test_names_each_failed_host_with_what_televoc_said_there():
    lines = closing_lines("deploy.py", ["hall"], 3, {"hall": ["the trunk 6000 at 10.0.0.1 is Rejected: check it"]})
    assert lines[0] == "--> televoc: deploy.py did not finish on hall (1 of 3 hosts):"
    assert lines[1] == "    [hall] the trunk 6000 at 10.0.0.1 is Rejected: check it"
    assert 'pyinfra\'s "Error: executed 0 commands"' in lines[-1] and "in place" in lines[-1]


def test_a_host_televoc_said_nothing_about_points_at_pyinfras_error():
    lines = closing_lines("teardown.py", ["camp", "hall"], 2, {"hall": ["x"]})
    assert lines[0].endswith("on camp, hall (2 of 2 hosts):")
    assert lines[1].startswith("    [camp] no televoc step reported a problem there: pyinfra's error above says why")
    assert lines[2] == "    [hall] x"


def test_many_lines_are_cut_and_counted():
    said = {"hall": [f"problem {i}" for i in range(SHOWN_PER_HOST + 3)]}
    lines = closing_lines("deploy.py", ["hall"], 1, said)
    shown = [line for line in lines if line.startswith("    [hall] problem")]
    assert len(shown) == SHOWN_PER_HOST
    assert "    [hall] ... and 3 more lines above" in lines


def test_the_snapshot_reads_what_is_there_instead_of_a_file(tmp_path):
    """The snapshot's own shell command, run here on files in tmp_path (no Asterisk: its part
    says it is not running)."""
    import subprocess

    from roles.shared.snapshot import NAMES, PbxSnapshot

    (tmp_path / "pending").mkdir()
    (tmp_path / "a.conf").write_text("x\n")
    digests, texts = [str(tmp_path / "a.conf"), str(tmp_path / "gone")], [NAMES + str(tmp_path / "pending")]
    command = PbxSnapshot().command(digests, texts, "/bin/false", str(tmp_path / "configuration.nix"), "m")
    out = subprocess.run(["sh", "-c", str(command)], capture_output=True, text=True, timeout=30, check=True)
    snapshot = PbxSnapshot().process(out.stdout.splitlines())
    assert snapshot.not_files == {str(tmp_path / "pending"): "directory"}
    assert snapshot.digest(str(tmp_path / "gone")) is None and snapshot.digest(str(tmp_path / "a.conf")) is not None


def test_ctrl_c_in_the_middle_of_gevents_hub_ends_the_process_with_130_and_says_so():
    """The signal lands while the main greenlet waits in gevent's hub, as in a pyinfra run
    waiting on a remote command; the process ends at once with 130, the message said, and
    code after the wait never runs (no unwinding through the hub)."""
    program = (
        "import os, signal, gevent\n"
        "from roles.shared import runs\n"
        "signal.signal(signal.SIGINT, runs._interrupted)\n"
        "gevent.spawn_later(0.2, os.kill, os.getpid(), signal.SIGINT)\n"
        "gevent.sleep(20)\n"
        "print('still running')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == INTERRUPTED == 130
    assert "televoc: interrupted (Ctrl-C): the run stopped." in done.stderr
    assert "still running" not in done.stdout
