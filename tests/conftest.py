"""pytest hooks: every test under tests/lab_tests/ is a lab test (marker `lab`). The lab they
drive is the top-level package lab/ (Lab in lab/lab.py, the pyinfra runner in lab/deploys.py),
also the product's built-in server (./televoc deploy, ./televoc bench); tests/ holds tests only."""

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "lab_tests" in str(item.fspath):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """The session's own XDG cache, where a load keeps its record of passwords judged strong
    (roles/event/strength_record.py), for the fixtures of a module or the session (a lab
    test's deploy): never the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("session-cache")))
        yield


@pytest.fixture(autouse=True)
def _own_cache(_session_cache, tmp_path_factory, monkeypatch):
    """Each test its own XDG cache: no test sees a record another left."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
