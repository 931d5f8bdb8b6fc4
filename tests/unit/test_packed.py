"""roles/packed.py: a remote answer packed into one line comes back line for line."""

import subprocess

import pytest
from pyinfra.api.exceptions import FactProcessError

from roles.shared import packed


def run_packed(shell: str) -> list[str]:
    out = subprocess.run(["sh", "-c", packed.command(shell)], capture_output=True, check=True).stdout
    return out.decode("ascii").splitlines()


def test_the_packed_answer_is_one_line_and_unpacks_to_the_printed_lines():
    output = run_packed("printf 'a b\\n\\n\\tc\\n'; echo tail")
    assert len(output) == 1
    assert packed.lines(output) == ["a b", "", "\tc", "tail"]


def test_a_last_line_without_newline_is_kept():
    assert packed.lines(run_packed("printf 'x\\ny'")) == ["x", "y"]


def test_bytes_that_are_not_printable_ascii_are_dropped_not_fatal():
    assert packed.lines(run_packed("printf 'snom\\377\\303\\244 UA\\r\\n'")) == ["snom UA"]


def test_an_empty_answer_says_what_is_probably_missing():
    with pytest.raises(FactProcessError, match="gzip and base64"):
        packed.lines([""])


def test_an_answer_that_is_not_packed_is_refused_showing_its_start():
    with pytest.raises(FactProcessError, match="not gzip\\+base64.*Unable to connect"):
        packed.lines(["Unable to connect to remote asterisk"])
