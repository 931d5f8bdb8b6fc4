"""The provisioning server with self-service (roles/snom/files/provisiond.py, without
sockets): a snom no YAML names gets the phone template filled with its account from the
database; the per-source guard still counts it, the global lock does not; a full temporary
range is refused, logged and counted like an unknown MAC."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from roles.shared import names
from roles.snom.render import REFUSED_LOG_REGEX

_spec = importlib.util.spec_from_file_location(
    "provisiond_ss", Path(__file__).resolve().parents[2] / "roles/snom/files/provisiond.py"
)
provisiond = sys.modules["provisiond_ss"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(provisiond)

CREW = "000413A00001"
TEMPLATE = b"<settings><user_name>@@name@@</user_name><user_pass>@@pass@@</user_pass><n>@@realname@@</n></settings>"


class Database:
    """A stand-in for claimsdb.phone_account: MAC -> the lowest free number, the same again."""

    def __init__(self, size: int = 100):
        self.given: dict[str, str] = {}
        self.size = size

    def __call__(self, mac: str) -> dict:
        if mac not in self.given:
            if len(self.given) >= self.size:
                raise ValueError(f"the temporary range 9000-{9000 + self.size - 1} is full")
            self.given[mac] = str(9000 + len(self.given))
        number = self.given[mac]
        return {"kind": "temporary", "number": number, "sip_password": f"pw<{number}>", "name": f"Temporary {number}"}


@pytest.fixture
def files():
    return {f"{CREW}.xml": b"<settings>crew</settings>", provisiond.TEMPORARY_TEMPLATE: TEMPLATE}


def server(files, db=None, **kwargs):
    return provisiond.Provisioning(files.get, {}, accounts=db or Database(), **kwargs)


def get(p, mac, source, now=100.0):
    return p.request("GET", f"/televoc/{mac}.xml", source, now=now)


def test_the_template_name_is_the_one_the_deploy_publishes():
    assert provisiond.TEMPORARY_TEMPLATE == names.TEMPORARY_TEMPLATE


def test_an_unknown_snom_gets_its_temporary_number_and_the_same_file_again(files):
    p = server(files)
    first = get(p, "000413B00001", "10.23.0.21")
    assert first.status == 200
    assert first.body == (
        b"<settings><user_name>9000</user_name><user_pass>pw&lt;9000&gt;</user_pass><n>Temporary 9000</n></settings>"
    )
    assert "(temporary number 9000)" in first.log and "pw<" not in first.log
    again = get(p, "000413B00001", "10.23.0.21", now=130)
    assert again.status == 200 and again.body == first.body
    assert get(p, "000413B00002", "10.23.0.22").body.startswith(b"<settings><user_name>9001<")
    # the crew's phone is served its own file, as before
    assert get(p, CREW, "10.23.0.11").body == b"<settings>crew</settings>"


def test_without_the_template_an_unknown_mac_is_refused_as_before(files):
    del files[provisiond.TEMPORARY_TEMPLATE]
    p = server(files)
    answer = get(p, "000413B00001", "10.23.0.21")
    assert answer.status == 404 and answer.log == "refused 404 unknown MAC 000413B00001 from 10.23.0.21"


def test_a_source_asking_for_many_macs_is_still_a_sweeper(files):
    p = server(files, per_source=8)
    statuses = [get(p, f"000413C0{i:04X}", "10.23.0.68").status for i in range(10)]
    assert statuses == [200] * 7 + [403] * 3
    assert "10.23.0.68" in p.state["sweepers"]
    assert get(p, CREW, "10.23.0.68").status == 403  # refused for everything from then on


def test_participants_phones_do_not_lock_the_server_but_a_full_range_counts(files):
    db = Database(size=150)
    p = server(files, db=db, max_unknown=128, per_source=8)
    for i in range(150):  # 150 phones, 5 per address: more than the global ceiling
        assert get(p, f"000413D0{i:04X}", f"10.23.{i // 5}.{i % 5 + 10}").status == 200
    assert p.state["locked"] is None and p.state["unknown"] == {}
    full = get(p, "000413E00001", "10.23.99.1")
    assert full.status == 404 and "(the temporary range 9000-9149 is full)" in full.log
    assert re.search(REFUSED_LOG_REGEX.replace("<ADDR>", r"\S+"), f" televoc-provisioning: {full.log}")
    assert list(p.state["unknown"]) == ["000413E00001"]


def test_the_lock_and_a_sweeper_are_refused_before_the_database_is_asked(files):
    asked = []

    def db(mac):
        asked.append(mac)
        return Database()(mac)

    p = server(files, db=db)
    p.state["locked"] = {"since": 1, "reason": "test"}
    assert get(p, "000413B00001", "10.23.0.21").status == 403 and asked == []


def test_teardown_offers_participants_snoms_the_wiped_profile_under_their_macs(tmp_path):
    from roles.event import load_directory
    from roles.snom.render import provisioning, with_participants_wiped

    (tmp_path / "event.yml").write_text(
        "name: e\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\nsecret_file: event.secret\n"
        "self_service:\n  claimable: {first: 2000, last: 2999}\n  temporary: {first: 9000, last: 9099}\n"
        "  info_desk: desk\n"
    )
    (tmp_path / "phones.yml").write_text("phones:\n  - {name: desk, extension: 1001}\n")
    (tmp_path / "event.secret").write_text("s" * 64 + "\n")
    (tmp_path / "event.secret").chmod(0o600)
    d = load_directory(tmp_path)
    built = provisioning(d)
    assert list(built.files) == [names.TEMPORARY_TEMPLATE] and built.server and built.server.selfservice
    wiped = provisioning(d, wiped=True)
    assert wiped.files == {} and wiped.server is not None and not wiped.server.selfservice
    offered = with_participants_wiped(d, wiped, ["000413c0ffee"])
    text = offered.files["000413C0FFEE.xml"]
    assert '<user_active idx="1" perm="R">off</user_active>' in text and "@@" not in text
    assert with_participants_wiped(d, built, ["000413c0ffee"]) is built  # only at teardown
