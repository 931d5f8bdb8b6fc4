"""The closing lines of a failed run (roles.shared.runs.closing_lines)."""

from roles.shared.runs import SHOWN_PER_HOST, closing_lines


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
