"""pytest hooks: every test under tests/lab_tests/ is a lab test (marker `lab`). The lab's
helpers live in lab/ (Lab in lab.py, the pyinfra runner in deploys.py)."""

import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "lab_tests" in str(item.fspath):
            item.add_marker(pytest.mark.lab)
