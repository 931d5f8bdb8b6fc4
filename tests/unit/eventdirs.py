"""Event directories written for a unit test: the files, a private event secret, and the
problems a load reports. Shared by the routing, trunk and venue tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from roles.event import EventError, load_directory

SECRET = "s" * 40


def write(
    tmp_path: Path, event: str, phones: str, groups: str | None = None, files: dict[str, tuple[str, int]] | None = None
) -> Path:
    """event.yml, phones.yml (and groups.yml), event.secret (mode 0600, named by event.yml's
    `secret_file: event.secret`), and `files`: name -> (text, mode)."""
    (tmp_path / "event.yml").write_text(event)
    (tmp_path / "phones.yml").write_text(phones)
    if groups is not None:
        (tmp_path / "groups.yml").write_text(groups)
    for name, (text, mode) in {"event.secret": (SECRET + "\n", 0o600), **(files or {})}.items():
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(mode)
    return tmp_path


def problems(directory: Path) -> list[str]:
    """Every problem the load of `directory` reports (it must report some)."""
    with pytest.raises(EventError) as info:
        load_directory(directory)
    return info.value.problems


def assert_named(found: list[str], expected: list[str], exactly: bool = True) -> None:
    """Each expected text is in one of the problems (and, `exactly`, nothing else is)."""
    for text in expected:
        assert any(text in p for p in found), f"{text!r} not in:\n" + "\n".join(found)
    if exactly:
        assert len(found) == len(expected), "\n".join(found)
