from roles.shared.sections import split


def test_answers_split_by_their_marker_lines():
    lines = ["before any marker", "@@x a", "1", "@@x b", "2", "", "@@x empty"]
    assert split(lines, "@@x ") == {"a": ["1"], "b": ["2", ""], "empty": []}
