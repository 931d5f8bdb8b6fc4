"""What the lab tests share across modules."""

import pytest

from lab.listing import never_touched


@pytest.fixture(scope="session")
def untouched(tmp_path_factory) -> dict[str, str]:
    """The object lists of a PBX televoc never touched (lab/listing.py): measured once per
    session on a lab of its own, for the teardown tests to compare with."""
    return never_touched(tmp_path_factory.mktemp("untouched") / "lab")
