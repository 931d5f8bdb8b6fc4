"""Claimed numbers served live from the self-service database: Asterisk's realtime files
(sorcery.conf, extconfig.conf, res_config_sqlite3.conf) and the dialplan of the claimable
range, rendered only where self-service is served; the claims' endpoints take exactly the
crew phones' options; the verification counts claims apart; the run's read of the database
parsed, and a claim a crew number takes found. No host."""

from __future__ import annotations

import json
import re

import pytest

from roles.asterisk.render import PHONE_OPTIONS, realtime_defaults, render_asterisk
from roles.asterisk.report import LiveConfig, config_mismatches
from roles.event import EventError, load_directory
from roles.event.selfservice import Claim
from roles.plan import buildup
from roles.selfservice import state as dbstate
from roles.shared import names, pbxcli
from roles.shared.pbxcli import PbxState, Registration, claimed_registered

from .eventdirs import write

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
SELF_SERVICE = """\
self_service:
  claimable: {first: 2000, last: 2999}
  temporary: {first: 9000, last: 9099}
  info_desk: infodesk
  claim_days: 3
"""
PHONES = "phones:\n  - {name: a1, extension: 1001}\n  - {name: a2, extension: 1002}\n"
GROUPS = "groups:\n  - {name: infodesk, number: 1100, members: [a1, a2]}\n"
REALTIME = ("extconfig.conf", "res_config_sqlite3.conf")


def directory(tmp_path, self_service: str = SELF_SERVICE):
    tmp_path.mkdir(exist_ok=True)
    return load_directory(write(tmp_path, EVENT + self_service, PHONES, GROUPS))


def test_realtime_files_only_where_self_service_is_served(tmp_path):
    served = render_asterisk(directory(tmp_path / "on")).conf_files
    off = render_asterisk(directory(tmp_path / "off", SELF_SERVICE + "  enabled: false\n")).conf_files
    none = render_asterisk(directory(tmp_path / "none", "")).conf_files
    assert all(name in served for name in REALTIME)
    assert not any(name in off or name in none for name in REALTIME)
    sorcery = served["sorcery.conf"]
    # the crew's file is asked first for each object type: a claim never shadows a crew phone
    files = ("pjsip_endpoints.conf", "pjsip_auths.conf", "pjsip_aors.conf")
    for kind, file, family in zip(("endpoint", "auth", "aor"), files, names.REALTIME_FAMILIES, strict=True):
        assert f"{kind}=config,{file},criteria=type={kind}\n{kind}=realtime,{family}\n" in sorcery
    assert "realtime" not in off["sorcery.conf"] + none["sorcery.conf"]
    assert f"dbfile={names.SELFSERVICE_DB}\nbatch=0\n" in served["res_config_sqlite3.conf"]
    assert f'#tryinclude "{names.SELFSERVICE_DB_MADE}"' in served["res_config_sqlite3.conf"]
    assert "ps_auths => sqlite3,televoc,ps_auths" in served["extconfig.conf"]


def test_the_claimable_range_is_dialled_as_pjsip_endpoints(tmp_path):
    extensions = render_asterisk(directory(tmp_path)).conf_files["extensions.conf"]
    assert f"include => {names.CLAIMED_CONTEXT}" in extensions
    claimed = extensions.split(f"[{names.CLAIMED_CONTEXT}]")[1].split("\n[")[0]
    assert re.findall(r"^exten => (\S+),1,", claimed, re.M) == ["_2XXX"]
    assert " same => n,Dial(PJSIP/${EXTEN},30,b(televoc-predial^s^1))" in claimed
    without = render_asterisk(directory(tmp_path / "none", "")).conf_files["extensions.conf"]
    assert names.CLAIMED_CONTEXT not in without


def test_a_claimed_numbers_endpoint_takes_the_crew_phones_options(tmp_path):
    d = directory(tmp_path)
    files = render_asterisk(d).conf_files
    template = files["pjsip_endpoints.conf"].split(f"[{names.PHONE_TEMPLATE}](!)\n")[1].split("\n\n")[0]
    aor = files["pjsip_aors.conf"].split(f"[{names.AOR_TEMPLATE}](!)\n")[1].split("\n\n")[0]
    crew = dict(line.split("=", 1) for line in (template + "\n" + aor).splitlines() if "=" in line and line[0] != ";")
    crew.pop("type")
    assert realtime_defaults(d.event) == {"transport": names.TRANSPORT, **crew}
    assert dict(PHONE_OPTIONS)["context"] == names.PHONE_CONTEXT


def test_the_plan_wants_the_database_with_the_events_settings(tmp_path):
    plan = buildup(directory(tmp_path))
    db = plan.selfservice
    assert db.serves and db.path == names.SELFSERVICE_DB
    assert db.wanted["settings"]["claimable_first"] == "2000" and db.wanted["settings"]["claim_days"] == "3"
    assert db.wanted["endpoint_defaults"]["permit"] == "10.23.0.0/24"
    assert not buildup(directory(tmp_path / "none", "")).selfservice.serves
    # the database's command is in every module, run as root only, with no secret in it
    assert f'environment.etc."{names.SELFSERVICE_TOOL[5:]}"' in plan.module.text
    assert 'mode = "0700";' in plan.module.text
    assert "claimsdb.py" in {e.name for e in plan.module.embedded}


def test_claimed_aors_are_neither_missing_nor_extra_and_are_counted_apart():
    expected = LiveConfig("g", "d", frozenset({"a1"}), "0.0.0.0:5060", claimable=("2000", "2999"))
    state = PbxState(
        running=True,
        aors=frozenset({"a1", "2345", "2999", "3000", names.GENERATION_AOR_PREFIX + "g"}),
        globals={names.DIALPLAN_GLOBAL: "d"},
        transports={names.TRANSPORT: "0.0.0.0:5060"},
    )
    assert config_mismatches(state, expected) == ["aors Asterisk has that the directory does not: 3000"]
    # registered: from Asterisk's registrar, where the realtime aors' contacts are too
    registrations = tuple(
        Registration(aor, "ab12", f"sip:{aor}@10.23.0.9:5060", "ua") for aor in ("2345", "a1", "3000", "2345")
    )
    state = PbxState(running=True, registrations=registrations)
    assert claimed_registered(state, expected.claimable) == ["2345"]
    assert claimed_registered(state, None) == []


def test_with_self_service_the_aors_are_listed_in_slices_the_realtime_wizard_answers_with_none():
    # the lab's Asterisk 22: `pjsip show aors like 7$` lists no claimed number (LIKE '%7$%')
    expected = LiveConfig("g", "d", frozenset({"a1"}), "0.0.0.0:5060", claimable=("2000", "2999"))
    assert pbxcli.aor_listings(expected.listed_aors) == pbxcli.AOR_LISTINGS
    assert pbxcli.aor_listings(LiveConfig("g", "d", frozenset({"a1"}), "0.0.0.0:5060").listed_aors) == (
        pbxcli.AOR_LISTING,
    )


def test_the_runs_read_of_the_database_is_parsed():
    present = json.dumps(
        {
            "db": "present",
            "revision": "0001",
            "mode": "0660",
            "settings": {"claimable_first": "2000"},
            "defaults": {},
            "claims": [["2345", "Alice", True, "softphone", "2026-12-27T14:02:00Z", None]],
        }
    )
    read = dbstate.parse([present])
    assert read.status == dbstate.PRESENT and read.revision == "0001"
    assert read.claims == (Claim("2345", "Alice", "2026-12-27T14:02:00Z"),)
    assert dbstate.parse(['{"db": "no-tool"}']).status == dbstate.NO_TOOL
    assert dbstate.parse(['{"db": "absent"}']).claims == ()
    broken = dbstate.parse(["Traceback (most recent call last):", "sqlite3.DatabaseError: file is not a database"])
    assert broken.status == dbstate.UNREADABLE and broken.error == "sqlite3.DatabaseError: file is not a database"
    assert dbstate.parse(None).status == dbstate.UNREADABLE


def test_a_claim_a_crew_number_takes_is_found(tmp_path):
    d = directory(tmp_path, "")
    claims = (Claim("2345"), Claim("1002", "Bob"), Claim("1100"), Claim("100"))
    assert [c.number for c in dbstate.colliding(claims, d)] == ["1002", "1100", "100"]
    assert dbstate.colliding((), d) == []


def test_a_claim_a_service_number_takes_is_found_and_refused_by_the_rules(tmp_path):
    # The quick look decides whether the deploy runs the rules with the claims: a number the
    # rules refuse (services.yml's too) must be among those it looks at.
    path = write(tmp_path, EVENT, PHONES, GROUPS)
    (path / "services.yml").write_text("conferences:\n  - {name: orga, number: 1850}\n")
    claims = (Claim("1850", "Carol"),)
    assert [c.number for c in dbstate.colliding(claims, load_directory(path))] == ["1850"]
    with pytest.raises(EventError, match="1850"):
        load_directory(path, claims=claims)


def test_temporary_numbers_are_neither_missing_nor_extra_nor_counted_as_claims():
    expected = LiveConfig(
        "g", "d", frozenset({"a1"}), "0.0.0.0:5060", claimable=("2000", "2999"), temporary=("9000", "9099")
    )
    state = PbxState(
        running=True,
        aors=frozenset({"a1", "2345", "9000", "9100", names.GENERATION_AOR_PREFIX + "g"}),
        globals={names.DIALPLAN_GLOBAL: "d"},
        transports={names.TRANSPORT: "0.0.0.0:5060"},
        registrations=tuple(Registration(n, "ab12", f"sip:{n}@10.23.0.9:5060", "ua") for n in ("2345", "9000")),
    )
    assert config_mismatches(state, expected) == ["aors Asterisk has that the directory does not: 9100"]
    assert claimed_registered(state, expected.claimable) == ["2345"]  # 9000 is a temporary number


def test_the_rendered_config_expects_the_temporary_range_from_the_database(tmp_path):
    assert render_asterisk(directory(tmp_path)).expected.temporary == ("9000", "9099")
