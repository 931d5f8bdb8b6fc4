"""The provisioning server's decisions (roles/snom/files/provisiond.py), without sockets."""

import importlib.util
import sys
from pathlib import Path

import pytest

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
    import json
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
