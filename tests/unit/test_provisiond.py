"""The provisioning server's decisions (roles/snom/files/provisiond.py), without sockets."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from roles.snom.render import REFUSED_LOG_REGEX, SWEEP_LOG_REGEX

_spec = importlib.util.spec_from_file_location(
    "provisiond", Path(__file__).resolve().parents[2] / "roles/snom/files/provisiond.py"
)
provisiond = sys.modules["provisiond"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(provisiond)

MAC = "000413A00001"


@pytest.fixture
def files():
    return {f"{MAC}.xml": b"<settings>v1</settings>"}


def server(files, state=None, **kwargs):
    return provisiond.Provisioning(files.get, {} if state is None else state, **kwargs)


def test_an_armed_file_is_served_and_the_fetch_recorded_with_its_source(files):
    p = server(files)
    answer = p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=100)
    assert answer.status == 200 and answer.body == b"<settings>v1</settings>"
    assert answer.log.startswith(f"served {MAC} version ") and answer.log.endswith("to 10.23.0.11")
    fetch = p.state["fetches"][MAC]
    assert (fetch["first"], fetch["source"], fetch["count"]) == (100, "10.23.0.11", 1)
    assert p.urgent


def test_a_fetched_version_is_served_again_within_the_window_only(files):
    p = server(files, window=600)
    p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=100)
    assert p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=650).status == 200
    late = p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=701)
    assert late.status == 410 and late.body == b""
    assert "fetched already, window over" in late.log and "from 10.23.0.11" in late.log


def test_within_the_window_only_the_address_that_fetched_first_gets_it_again(files):
    p = server(files, window=600)
    p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=100)
    other = p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.99", now=101)
    assert other.status == 403 and other.body == b""
    assert other.log.startswith("refused 403 fetched already by 10.23.0.11") and other.log.endswith("from 10.23.0.99")
    assert p.state["fetches"][MAC]["source"] == "10.23.0.11"


def test_a_new_version_opens_a_new_window(files):
    p = server(files, window=600)
    p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=100)
    files[f"{MAC}.xml"] = b"<settings>v2</settings>"
    assert p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=5000).status == 200


def test_an_unknown_mac_is_refused_and_counted(files):
    p = server(files)
    answer = p.request("GET", "/televoc/000413FFFFFF.xml", "10.23.0.66", now=1)
    assert answer.status == 404 and answer.log == "refused 404 unknown MAC 000413FFFFFF from 10.23.0.66"
    assert p.state["unknown"]["000413FFFFFF"]["source"] == "10.23.0.66"
    assert p.state["refused"] == {"10.23.0.66": 1}


def test_asking_the_same_unknown_mac_again_counts_once(files):
    p = server(files, max_unknown=3)
    for now in range(10):
        p.request("GET", "/televoc/000413FFFFFF.xml", "10.23.0.50", now=now)
    assert p.state["locked"] is None and len(p.state["unknown"]) == 1


def test_too_many_unknown_macs_lock_every_file_whatever_the_sources(files):
    p = server(files, max_unknown=3)
    for i, source in enumerate(("10.23.0.66", "10.23.0.67", "10.23.0.68")):
        p.request("GET", f"/televoc/000413FFFF0{i}.xml", source, now=i)
    assert p.state["locked"]["reason"] == "3 unknown MACs asked for by 10.23.0.66, 10.23.0.67, 10.23.0.68"
    answer = p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=10)
    assert answer.status == 403 and answer.body == b"" and "locked" in answer.log
    assert MAC not in p.state["fetches"]


def test_a_new_unlock_token_lifts_the_lock_and_forgets_the_unknown_macs(files):
    p = server(files, max_unknown=1)
    p.request("GET", "/televoc/000413FFFF00.xml", "10.23.0.66", now=1)
    assert p.state["locked"]
    assert p.control({"unlock": "token-1"}, now=2) == ["unlocked by the deploy"]
    assert p.state["locked"] is None and p.state["unknown"] == {}
    assert p.control({"unlock": "token-1"}, now=3) == []  # the same token again changes nothing
    assert p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=4).status == 200


def test_a_new_rearm_token_opens_a_new_window_for_that_phone_only(files):
    files["000413A00002.xml"] = b"other"
    p = server(files, window=10)
    for mac in (MAC, "000413A00002"):
        p.request("GET", f"/televoc/{mac}.xml", "10.23.0.11", now=0)
    assert p.control({"rearm": {MAC: "t1"}}, now=100) == [f"re-armed '{MAC}' by the deploy"]
    assert p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=100).status == 200
    assert p.request("GET", "/televoc/000413A00002.xml", "10.23.0.11", now=100).status == 410
    assert p.control({"rearm": {MAC: "t1"}}, now=200) == []


def test_a_broken_control_file_changes_nothing(files):
    p = server(files)
    assert p.control({"unlock": 5, "rearm": ["x"]}, now=1) == []


def test_the_lock_survives_a_restart(files):
    p = server(files, max_unknown=1)
    p.request("GET", "/televoc/000413FFFF00.xml", "10.23.0.66", now=1)
    again = server(files, state=p.state)
    assert again.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=2).status == 403


SWEEPER, PHONE = "10.23.0.68", "10.23.0.21"


def unknown(i: int) -> str:
    return f"/televoc/000413EE{i:04X}.xml"


def test_a_source_that_sweeps_is_refused_from_then_on_and_every_other_source_is_served(files):
    p = server(files)  # the defaults: the 8th different unknown MAC within 24 h
    for i in range(7):
        answer = p.request("GET", unknown(i), SWEEPER, now=i)
        assert answer.status == 404 and answer.log == f"refused 404 unknown MAC 000413EE{i:04X} from {SWEEPER}"
    eighth = p.request("GET", unknown(7), SWEEPER, now=7)
    assert eighth.status == 403 and eighth.body == b""
    assert eighth.log == (
        f"refused 403 sweeping (8 unknown MACs within 24 h, refused until unlocked): 000413EE0007 from {SWEEPER}"
    )
    assert p.state["sweepers"] == {SWEEPER: {"since": 7, "macs": 8}} and p.urgent
    # From then on the sweeper gets nothing, an armed phone's settings neither ...
    armed = p.request("GET", f"/televoc/{MAC}.xml", SWEEPER, now=8)
    assert armed.status == 403 and armed.log.startswith("refused 403 sweeping (8 unknown MACs") and armed.body == b""
    assert MAC not in p.state["fetches"]
    assert p.request("GET", unknown(8), SWEEPER, now=9).status == 403  # no 404 tells it a MAC is not armed
    assert len(p.state["asked"][SWEEPER]) == 8  # ... and is no longer counted: 8 guesses in all
    # ... while every other source is served, and the server is not locked.
    assert p.request("GET", f"/televoc/{MAC}.xml", PHONE, now=10).status == 200
    assert p.state["locked"] is None


def test_a_phone_asking_for_its_own_unknown_mac_again_and_again_is_no_sweeper(files):
    p = server(files)
    for now in range(500):  # a phone missing from phones.yml retries its own MAC
        assert p.request("GET", "/televoc/000413FFFFFF.xml", PHONE, now=now).status == 404
    assert p.state["sweepers"] == {} and p.state["asked"] == {PHONE: {"000413FFFFFF": 0}}


def test_seven_unknown_macs_a_day_from_one_source_are_tolerated_the_eighth_within_a_day_is_not(files):
    p = server(files, source_window=86400)
    for day in range(3):  # a crew member's typos, day after day
        for i in range(7):
            assert p.request("GET", unknown(day * 10 + i), PHONE, now=day * 86400 + i).status == 404
    assert p.state["sweepers"] == {}
    assert p.request("GET", unknown(99), PHONE, now=2 * 86400 + 100).status == 403  # the 8th within 24 h
    assert p.state["sweepers"][PHONE]["macs"] == 8


def test_one_source_alone_never_reaches_the_global_ceiling(files):
    p = server(files)  # 128 different unknown MACs lock the server; one source stops at 8
    for i in range(1000):
        p.request("GET", unknown(i), SWEEPER, now=i / 1000)
    assert p.state["locked"] is None and len(p.state["unknown"]) == 8
    assert p.request("GET", f"/televoc/{MAC}.xml", PHONE, now=2).status == 200


def test_many_sources_each_below_their_limit_lock_the_server_at_the_global_ceiling(files):
    p = server(files)  # 19 sources, 7 unknown MACs each (none of them a sweeper): the 128th locks
    answers = [p.request("GET", unknown(i), f"10.23.1.{i // 7}", now=i) for i in range(128)]
    assert all(a.status == 404 for a in answers) and p.state["sweepers"] == {}
    locking = answers[-1]
    assert locking.log == (
        "refused 404 unknown MAC 000413EE007F; LOCKED: 128 unknown MACs asked for by 10.23.1.0, 10.23.1.1, "
        "10.23.1.10, 10.23.1.11, 10.23.1.12 and 14 more from 10.23.1.18"
    )
    assert locking.notice == (
        "LOCKED: 128 unknown MACs asked for by 10.23.1.0, 10.23.1.1, 10.23.1.10, 10.23.1.11, 10.23.1.12 and "
        "14 more: every phone is refused its settings until the crew lifts the lock on the PBX: touch "
        "/var/lib/televoc-provisioning/unlock (or deploys with --data televoc_provisioning_unlock=true)"
    )
    assert all(a.notice == "" for a in answers[:-1])
    refused = p.request("GET", f"/televoc/{MAC}.xml", PHONE, now=200)
    assert refused.status == 403 and refused.log == (
        f"refused 403 locked ({p.state['locked']['reason']}): {MAC} from {PHONE}"
    )


def test_the_crews_unlock_lifts_the_lock_but_keeps_the_sweepers_refused_and_the_counts(files):
    p = server(files, max_unknown=12)
    for i in range(8):
        p.request("GET", unknown(i), SWEEPER, now=i)  # a sweeper, 8 unknown MACs
    for i in range(4):
        p.request("GET", unknown(100 + i), "10.23.0.70", now=10 + i)  # 4 more: 12, locked
    assert p.state["locked"] and "10.23.0.70" not in p.state["sweepers"]
    assert p.crew_unlock("1733-42", now=20) == [
        f"unlocked by the crew on the PBX (the unlock file); still refused for sweeping: {SWEEPER}"
    ]
    assert p.crew_unlock("1733-42", now=21) == []  # the same file again changes nothing
    assert p.state["locked"] is None and p.state["unknown"] == {}
    assert p.request("GET", f"/televoc/{MAC}.xml", PHONE, now=22).status == 200
    assert p.request("GET", unknown(200), SWEEPER, now=23).log.startswith("refused 403 sweeping")
    for i in range(3):  # 10.23.0.70 keeps its count of the day: 4 + 3 is 7 ...
        assert p.request("GET", unknown(300 + i), "10.23.0.70", now=24 + i).status == 404
    assert p.request("GET", unknown(303), "10.23.0.70", now=30).status == 403  # ... and the 8th
    assert p.crew_unlock("1800-42", now=40)[0].startswith("unlocked by the crew on the PBX (the unlock file) (was not")


def test_the_deploys_unlock_lifts_the_lock_and_forgives_the_sweepers(files):
    p = server(files, max_unknown=8)
    for i in range(8):
        p.request("GET", unknown(i), SWEEPER, now=i)
    assert p.state["locked"] and SWEEPER in p.state["sweepers"]
    assert p.request("GET", f"/televoc/{MAC}.xml", SWEEPER, now=9).log.startswith("refused 403 sweeping")
    assert p.control({"unlock": "token-1"}, now=10) == [
        f"unlocked by the deploy; no longer refused for sweeping: {SWEEPER}"
    ]
    assert p.state["sweepers"] == {} and p.state["asked"] == {} and p.state["locked"] is None
    assert p.request("GET", f"/televoc/{MAC}.xml", SWEEPER, now=11).status == 200


def test_a_sweep_that_reaches_the_global_ceiling_locks_and_refuses_the_sweeper_at_once(files):
    p = server(files, max_unknown=8)
    for i in range(7):
        p.request("GET", unknown(i), "10.23.0.70", now=i)
    answer = p.request("GET", unknown(7), SWEEPER, now=7)  # the 8th MAC: the ceiling, not the sweeper's 8th
    assert answer.status == 404 and "LOCKED: 8 unknown MACs" in answer.notice
    for i in range(8, 15):
        p.request("GET", unknown(i), SWEEPER, now=i)  # locked: not counted, refused as locked
    assert p.state["sweepers"] == {}


def test_a_state_of_before_the_per_source_guard_keeps_counting_its_unknown_macs(files):
    state = {
        "version": 1,
        "unknown": {f"000413EE{i:04X}": {"first": i, "source": SWEEPER, "count": 1} for i in range(7)},
    }
    p = server(files, state=state)
    assert len(p.state["asked"][SWEEPER]) == 7
    assert p.request("GET", unknown(7), SWEEPER, now=8).status == 403


def test_at_most_max_sources_sources_are_followed(files, monkeypatch):
    monkeypatch.setattr(provisiond, "MAX_SOURCES", 3)
    p = server(files)
    for i in range(10):
        p.request("GET", unknown(i), f"10.23.0.{100 + i}", now=i)
    assert sorted(p.state["asked"]) == ["10.23.0.107", "10.23.0.108", "10.23.0.109"]  # the quiet ones forgotten


def _jail(regex: str):
    """A fail2ban failregex as Python's re: <ADDR> as the address it captures."""
    return re.compile(regex.replace("<ADDR>", r"(?P<addr>[0-9a-fA-F.:]+)"))


def test_fail2ban_bans_a_sweeper_at_its_first_sweep_line_and_counts_only_refusals_otherwise(files):
    sweep, refused = _jail(SWEEP_LOG_REGEX), _jail(REFUSED_LOG_REGEX)
    p = server(files, max_unknown=9)
    lines = []
    for i in range(8):
        answer = p.request("GET", unknown(i), SWEEPER, now=i)
        lines.append((answer.log, answer.notice))
    lines.append((p.request("GET", unknown(20), "10.23.0.70", now=9).notice, ""))  # the lock's notice
    lines.append((p.request("GET", f"/televoc/{MAC}.xml", PHONE, now=10).log, ""))  # refused: locked
    lines.append((p.request("GET", f"/televoc/{MAC}.xml", SWEEPER, now=11).log, ""))

    def matched(jail, text):  # as fail2ban sees a line once it has cut the time stamp off
        found = jail.search(f" televoc-provisioning: {text}")
        return found["addr"] if found else None

    logs = [log for log, _ in lines]
    assert [matched(refused, log) for log in logs[:7]] == [SWEEPER] * 7  # unknown MACs: ban_after of them
    assert [matched(sweep, log) for log in logs[:7]] == [None] * 7
    assert (matched(sweep, logs[7]), matched(refused, logs[7])) == (SWEEPER, None)  # the 8th: banned at once
    assert "LOCKED" in logs[8] and (matched(sweep, logs[8]), matched(refused, logs[8])) == (None, None)
    assert "locked" in logs[9] and (matched(sweep, logs[9]), matched(refused, logs[9])) == (None, None)  # phones
    assert matched(sweep, logs[10]) == SWEEPER
    assert all(notice == "" for _, notice in lines[:8])


@pytest.mark.parametrize(
    "method,path,status",
    [
        ("HEAD", f"/televoc/{MAC}.xml", 405),
        ("POST", f"/televoc/{MAC}.xml", 405),
        ("GET", "/televoc/000413a00001.xml", 404),  # snom sends its MAC in upper case
        ("GET", f"/televoc/../{MAC}.xml", 404),
        ("GET", "/", 404),
        ("GET", "/ari/api-docs", 404),
        ("GET", "/ws", 404),
    ],
)
def test_anything_but_a_get_of_a_mac_file_is_refused_and_logged(files, method, path, status):
    p = server(files)
    answer = p.request(method, path, "10.23.0.66", now=1)
    assert answer.status == status and answer.body == b"" and answer.log.startswith(f"refused {status}")
    assert p.state["unknown"] == {}  # only MAC guesses count towards the lock


DIRECTORY = b"<SnomIPPhoneDirectory><Title>e</Title></SnomIPPhoneDirectory>"


def test_the_directory_is_served_to_any_source_again_and_again_and_logged(files):
    files["directory.xml"] = DIRECTORY
    p = server(files, window=10)
    for source, now in (("10.23.0.11", 1), ("10.23.0.12", 2), ("10.23.0.11", 5000)):
        answer = p.request("GET", "/televoc/directory.xml", source, now=now)
        assert answer.status == 200 and answer.body == DIRECTORY
        assert answer.log.startswith("served directory.xml version ") and answer.log.endswith(f"to {source}")
    assert p.state["fetches"] == {} and p.state["unknown"] == {} and p.state["refused"] == {}
    assert not p.dirty  # a directory fetch changes no state


def test_the_yealink_directory_is_served_like_the_snom_one(files):
    yealink = b"<YealinkIPPhoneDirectory><Title>e</Title></YealinkIPPhoneDirectory>"
    files["directory-yealink.xml"] = yealink
    p = server(files, max_unknown=1)
    p.request("GET", "/televoc/000413FFFF00.xml", "10.23.0.66", now=1)
    assert p.state["locked"]
    for source, now in (("10.23.0.11", 2), ("10.23.0.12", 3)):
        answer = p.request("GET", "/televoc/directory-yealink.xml", source, now=now)
        assert answer.status == 200 and answer.body == yealink
        assert answer.log.startswith("served directory-yealink.xml version ")
    assert p.request("GET", "/televoc/directory.xml", "10.23.0.11", now=4).status == 404  # not published


def test_the_directory_is_served_while_the_server_is_locked(files):
    files["directory.xml"] = DIRECTORY
    p = server(files, max_unknown=1)
    p.request("GET", "/televoc/000413FFFF00.xml", "10.23.0.66", now=1)
    assert p.state["locked"]
    assert p.request("GET", "/televoc/directory.xml", "10.23.0.11", now=2).status == 200
    assert p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=3).status == 403  # credentials stay locked


def test_an_unpublished_directory_is_refused_but_not_counted_as_an_unknown_mac(files):
    answer = server(files).request("GET", "/televoc/directory.xml", "10.23.0.11", now=1)
    assert answer.status == 404 and answer.log == "refused 404 directory.xml is not published from 10.23.0.11"


@pytest.mark.parametrize(
    "path",
    [
        "/televoc/Directory.xml",
        "/televoc/directory.xml?x=1",
        "/directory.xml",
        "/televoc/../televoc/directory.xml",
        "/televoc/control.json",
    ],
)
def test_other_paths_near_the_directory_are_still_refused(files, path):
    files["directory.xml"] = DIRECTORY
    files["control.json"] = b"{}"
    p = server(files)
    answer = p.request("GET", path, "10.23.0.66", now=1)
    assert answer.status == 404 and answer.body == b"" and answer.log.startswith("refused 404 path")
    assert p.state["unknown"] == {}


def test_a_path_with_a_newline_cannot_forge_a_log_line(files):
    answer = server(files).request("GET", "/x\nserved 000413A00001 to 1.2.3.4", "10.23.0.66", now=1)
    assert "\n" not in answer.log


def test_the_path_prefix_is_configurable(files):
    p = server(files, prefix="/phones")
    assert p.request("GET", f"/phones/{MAC}.xml", "10.23.0.11", now=1).status == 200
    assert p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=1).status == 404


def test_the_real_server_serves_logs_and_saves_its_state(tmp_path):
    """The HTTP server itself, on loopback: a GET of an armed file, of the directory, an
    unknown MAC, a POST."""
    import threading
    import urllib.error
    import urllib.request

    files = tmp_path / "files"
    files.mkdir()
    (files / f"{MAC}.xml").write_bytes(b"<settings/>")
    (files / "directory.xml").write_bytes(DIRECTORY)
    state, log = tmp_path / "state.json", tmp_path / "access.log"
    srv = provisiond.Server(("127.0.0.1", 0), str(files), str(state), str(log), 600, 32, 8, "/televoc")
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        with urllib.request.urlopen(f"{base}/televoc/{MAC}.xml", timeout=5) as r:
            assert (r.status, r.read()) == (200, b"<settings/>")
        with urllib.request.urlopen(f"{base}/televoc/directory.xml", timeout=5) as r:
            assert (r.status, r.read()) == (200, DIRECTORY)
        codes = []
        for url, data in ((f"{base}/televoc/000413FFFFFF.xml", None), (f"{base}/televoc/{MAC}.xml", b"x")):
            try:
                urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5)
            except urllib.error.HTTPError as e:
                codes.append(e.code)
        assert codes == [404, 405]
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
    lines = log.read_text().splitlines()
    assert any(f"served {MAC} version" in line and "to 127.0.0.1" in line for line in lines)
    assert any("refused 404 unknown MAC 000413FFFFFF from 127.0.0.1" in line for line in lines)
    assert any("refused 405 method 'POST' from 127.0.0.1" in line for line in lines)
    assert any("served directory.xml version" in line and "to 127.0.0.1" in line for line in lines)
    saved = json.loads(state.read_text())
    assert saved["fetches"][MAC]["source"] == "127.0.0.1" and "000413FFFFFF" in saved["unknown"]


def test_the_real_server_locks_says_how_to_lift_it_and_the_crews_unlock_file_lifts_it(tmp_path):
    """The crew's unlock file, as the running server reads it (every poll): read, removed,
    logged; the same file touched again unlocks again."""
    files = tmp_path / "files"
    files.mkdir()
    (files / f"{MAC}.xml").write_bytes(b"<settings/>")
    state, log = tmp_path / "state.json", tmp_path / "access.log"
    srv = provisiond.Server(("127.0.0.1", 0), str(files), str(state), str(log), 600, 2, 8, "/televoc")
    unlock = tmp_path / "unlock"  # beside the state file unless --unlock-file says otherwise
    try:
        assert srv.unlock_file == str(unlock)
        for source in ("10.23.0.66", "10.23.0.67"):
            srv.handle("GET", "/televoc/000413FFFF0" + source[-1] + ".xml", source)
        assert srv.handle("GET", f"/televoc/{MAC}.xml", PHONE).status == 403
        assert f"every phone is refused its settings until the crew lifts the lock on the PBX: touch {unlock}" in (
            log.read_text()
        )
        unlock.touch()
        srv.service_actions()
        assert not unlock.exists()
        assert srv.handle("GET", f"/televoc/{MAC}.xml", PHONE).status == 200
        unlock.touch()
        os.utime(unlock, ns=(1, 1))
        srv.service_actions()
    finally:
        srv.server_close()
    lines = log.read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in lines if "unlocked" in line] == [
        "unlocked by the crew on the PBX (the unlock file)",
        "unlocked by the crew on the PBX (the unlock file) (was not locked)",
    ]
    saved = json.loads(state.read_text())
    assert saved["locked"] is None and saved["crew_unlock"].startswith("1-")  # the second file's token


# --- DECT bases: snomM700.htm, snomM700-<MAC>.htm, <MAC>.xml -------------------------------

BASE = "0004136A0001"
BASE_FILES = {
    "snomM700.htm": b"<setting-files></setting-files>",
    f"snomM700-{BASE}.htm": f'<setting-files><file url="http://pbx/televoc/{BASE}.xml"/></setting-files>'.encode(),
    f"{BASE}.xml": b"<settings>accounts</settings>",
}


@pytest.fixture
def base_files(files):
    return {**files, **BASE_FILES}


def test_a_base_gets_its_three_files_and_only_its_settings_are_a_fetch_with_a_window(base_files):
    p = server(base_files, window=600)
    for path, name in (
        ("snomM700.htm", "snomM700.htm"),
        (f"snomM700-{BASE}.htm", f"snomM700-{BASE}.htm"),
        (f"{BASE}.xml", BASE),
    ):
        answer = p.request("GET", f"/televoc/{path}", "10.23.0.31", now=10)
        assert answer.status == 200 and answer.body == base_files.get(path, base_files.get(name))
        assert answer.log.startswith(f"served {name} version ") and answer.log.endswith("to 10.23.0.31")
    assert list(p.state["fetches"]) == [BASE] and p.state["unknown"] == {} and p.state["refused"] == {}
    # the settings: like a desk phone's, to the address that fetched first, within the window
    assert p.request("GET", f"/televoc/{BASE}.xml", "10.23.0.99", now=11).status == 403
    assert p.request("GET", f"/televoc/{BASE}.xml", "10.23.0.31", now=700).status == 410
    # the lists hold no secret: again and again (a base reads them at every boot)
    assert p.request("GET", f"/televoc/snomM700-{BASE}.htm", "10.23.0.31", now=5000).status == 200
    assert p.request("GET", "/televoc/snomM700.htm", "10.23.0.99", now=5000).status == 200


def test_a_base_list_for_a_mac_without_one_counts_as_an_unknown_mac(base_files):
    p = server(base_files, per_source=3)
    for i, path in enumerate(("snomM700-0004136AFF01.htm", f"snomM300-{BASE}.htm", f"snomM700-{MAC}.htm")):
        answer = p.request("GET", f"/televoc/{path}", "10.23.0.66", now=1 + i)
        assert answer.status == (404 if i < 2 else 403), (path, answer)
    assert set(p.state["unknown"]) == {"0004136AFF01", BASE, MAC}  # a known MAC with another model's list too
    assert "10.23.0.66" in p.state["sweepers"]
    # the sweeper is refused the bases' lists and settings from then on
    for path in (f"snomM700-{BASE}.htm", f"{BASE}.xml"):
        answer = p.request("GET", f"/televoc/{path}", "10.23.0.66", now=10)
        assert answer.status == 403 and answer.log.startswith("refused 403 sweeping") and answer.body == b""
    assert p.request("GET", f"/televoc/{BASE}.xml", "10.23.0.31", now=11).status == 200  # the base is served


def test_the_lock_refuses_a_bases_list_and_settings_but_not_the_model_file(base_files):
    p = server(base_files, max_unknown=1)
    p.request("GET", "/televoc/000413FFFF00.xml", "10.23.0.66", now=1)
    assert p.state["locked"]
    assert p.request("GET", "/televoc/snomM700.htm", "10.23.0.31", now=2).status == 200
    for path in (f"snomM700-{BASE}.htm", f"{BASE}.xml"):
        answer = p.request("GET", f"/televoc/{path}", "10.23.0.31", now=3)
        assert answer.status == 403 and answer.log.startswith("refused 403 locked") and answer.body == b""


@pytest.mark.parametrize(
    "path",
    [
        "/televoc/snomM900.htm",  # a model no base of the event has: not published
        "/televoc/snomm700.htm",
        "/televoc/snomM700-.htm",
        f"/televoc/snomM700-{BASE.lower()}.htm",
        f"/televoc/snomM700_{BASE}.htm",
        f"/televoc/snomD785-{BASE}.htm",
        f"/televoc/snomM700-{BASE}.xml",
        f"/snomM700-{BASE}.htm",
    ],
)
def test_other_paths_near_a_bases_files_are_refused_paths_not_unknown_macs(base_files, path):
    p = server(base_files)
    answer = p.request("GET", path, "10.23.0.66", now=1)
    assert answer.status == 404 and answer.body == b"" and answer.log.startswith("refused 404 ")
    assert re.match(REFUSED_LOG_REGEX.replace("<ADDR>", r"10\.23\.0\.66"), f"televoc-provisioning: {answer.log}")
    assert p.state["unknown"] == {}


def test_the_real_server_serves_a_large_bases_settings_whole(tmp_path):
    """A base's settings with 1000 handset accounts are about 0.6 MB, more with long names:
    served whole (a cut file would be broken XML, and the base would keep its old settings)."""
    import threading
    import urllib.request

    files = tmp_path / "files"
    files.mkdir()
    large = b"<settings>" + b"x" * 1_500_000 + b"</settings>"
    (files / f"{BASE}.xml").write_bytes(large)
    srv = provisiond.Server(
        ("127.0.0.1", 0), str(files), str(tmp_path / "state.json"), str(tmp_path / "log"), 600, 32, 8, "/televoc"
    )
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.server_address[1]}/televoc/{BASE}.xml", timeout=5) as r:
            assert (r.status, r.read()) == (200, large)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


# --- fail2ban's question: is an address where a declared base fetched its settings? -----------


def spared(tmp_path, published, state, address: str) -> int:
    """provisiond.py spared, run as fail2ban's ignorecommand runs it (a process: its exit code)."""
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    for name in published:
        (files / name).write_bytes(b"x")
    state_path = tmp_path / "state.json"
    if state is not None:
        state_path.write_text(state if isinstance(state, str) else json.dumps(state))
    script = Path(provisiond.__file__)
    argv = [sys.executable, "-I", str(script), "spared", "--files", str(files), "--state", str(state_path), address]
    return subprocess.run(argv, capture_output=True, timeout=30).returncode


def test_the_address_a_base_fetched_its_settings_from_is_spared_whatever_it_registered(tmp_path, base_files):
    p = server(base_files)
    p.request("GET", f"/televoc/{BASE}.xml", "10.23.0.31", now=1)  # the base
    p.request("GET", f"/televoc/{MAC}.xml", "10.23.0.11", now=2)  # a desk phone
    assert spared(tmp_path, base_files, p.state, "10.23.0.31") == 0
    assert spared(tmp_path, base_files, p.state, "10.23.0.11") == 1  # a desk phone's address: banned
    assert spared(tmp_path, base_files, p.state, "10.23.0.99") == 1
    assert spared(tmp_path, base_files, p.state, "10.23.0.3") == 1  # a prefix of the base's is not it


def test_a_base_no_longer_published_or_not_fetched_yet_spares_nobody(tmp_path, base_files):
    fetched = {"version": 1, "fetches": {BASE: {"version": "v", "source": "10.23.0.31"}}}
    assert spared(tmp_path, [f"{BASE}.xml"], fetched, "10.23.0.31") == 1  # no base list: no base
    assert spared(tmp_path, base_files, {"version": 1, "fetches": {}}, "10.23.0.31") == 1


@pytest.mark.parametrize("state", [None, "{not json", "[]", '{"fetches": []}'])
def test_a_state_that_cannot_be_read_spares_nobody(tmp_path, base_files, state):
    assert spared(tmp_path, base_files, state, "10.23.0.31") == 1


def test_files_that_cannot_be_listed_spare_nobody(tmp_path):
    state = {"version": 1, "fetches": {BASE: {"version": "v", "source": "10.23.0.31"}}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    argv = [sys.executable, "-I", provisiond.__file__, "spared", "--files", str(tmp_path / "gone")]
    argv += ["--state", str(tmp_path / "state.json"), "10.23.0.31"]
    assert subprocess.run(argv, capture_output=True, timeout=30).returncode == 1
