"""The deploy's plan kept between runs (roles/plancache.py), sealed under the event secret
(roles/shared/sealed.py): taken only when every input is the same, never readable or
usable without the secret, never unpickled when a byte changed."""

from __future__ import annotations

import os
import stat

import pytest

from roles import pbx, plancache
from roles.event import load_directory
from roles.plan import Where, buildup
from roles.shared import beside
from roles.shared.sealed import Seal

SECRET = "s" * 48
PHONES = (
    "phones:\n  - {name: saal1, extension: 1001, password: pw-saal1-Kq8vR2xZ7m}\n  - {name: saal2, extension: 1002}\n"
)


def test_a_sealed_value_comes_back_only_with_the_same_secret_and_inputs_and_untouched(tmp_path):
    path = tmp_path / "cache" / "v.plan"
    seal = Seal.of(SECRET, b"test", b"a", b"b")
    seal.store(path, {"password": "pw-saal1-Kq8vR2xZ7m"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert b"pw-saal1" not in path.read_bytes()  # sealed, not pickled in the clear
    assert seal.load(path) == {"password": "pw-saal1-Kq8vR2xZ7m"}
    assert Seal.of("t" * 48, b"test", b"a", b"b").load(path) is None  # another secret
    assert Seal.of(SECRET, b"test", b"ab", b"").load(path) is None  # the same bytes, split otherwise
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert seal.load(path) is None  # a changed byte: not authenticated, never unpickled
    assert seal.load(tmp_path / "missing") is None


@pytest.fixture
def event(tmp_path, monkeypatch):
    secret = tmp_path / "event.secret"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(secret))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TELEVOC_PLAN_CACHE", raising=False)
    directory = tmp_path / "event"
    directory.mkdir()
    (directory / "event.yml").write_text("name: test-event\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\n")
    (directory / "phones.yml").write_text(PHONES)
    return directory


def counting(calls: list):
    def render(*args):
        calls.append(args)
        return buildup(*args)

    render.__qualname__ = buildup.__qualname__
    return render


def test_a_run_with_the_same_inputs_takes_the_plan_the_last_run_kept(event):
    calls: list = []
    first = pbx._planned(counting(calls), load_directory(event), Where(), {}, str(event))
    again = pbx._planned(counting(calls), load_directory(event), Where(), {}, str(event))
    assert len(calls) == 1  # rendered once, then taken
    assert again.module.text == first.module.text and again.asterisk.conf_files == first.asterisk.conf_files
    assert again.asterisk.summary_text == first.asterisk.summary_text
    assert again.asterisk.secrets == first.asterisk.secrets
    kept = plancache.kept(buildup, load_directory(event), Where(), {}, str(event))
    assert kept is not None and kept.path.name == "test-event.plan" and kept.path.parent.name == "televoc"


@pytest.mark.parametrize(
    "change",
    ["password", "settings", "control", "code"],
)
def test_any_other_input_renders_again(event, monkeypatch, change):
    calls: list = []
    pbx._planned(counting(calls), load_directory(event), Where(), {}, str(event))
    where, control = Where(), {}
    if change == "password":
        (event / "phones.yml").write_text(PHONES.replace("pw-saal1-Kq8vR2xZ7m", "pw-saal1-Kq8vR2xZ7n"))
    elif change == "settings":
        where = Where(secrets_path="/var/lib/televoc/other-secrets.conf")
    elif change == "control":
        control = {"unlock": "00"}
    else:
        monkeypatch.setattr(plancache, "code_digest", lambda: b"televoc's code changed")
    plan = pbx._planned(counting(calls), load_directory(event), where, control, str(event))
    assert len(calls) == 2
    if change == "password":
        assert "pw-saal1-Kq8vR2xZ7n" in plan.asterisk.secrets


def test_nothing_is_kept_without_a_usable_secret_or_when_turned_off(event, monkeypatch, tmp_path):
    directory = load_directory(event)
    monkeypatch.setenv("TELEVOC_PLAN_CACHE", "off")
    assert plancache.kept(buildup, directory, Where(), {}, str(event)) is None
    monkeypatch.delenv("TELEVOC_PLAN_CACHE")
    assert plancache.kept(buildup, directory, Where(), {}, None) is None
    os.chmod(tmp_path / "event.secret", 0o644)  # a secret others can read is not used
    assert plancache.kept(buildup, directory, Where(), {}, str(event)) is None


def test_the_kept_plans_provisioning_files_are_unpacked_only_when_a_step_reads_them(event):
    (event / "phones.yml").write_text(
        "phones:\n  - {name: saal1, extension: 1001, mac: '000413A1B2C3', model: snom320}\n"
        "  - {name: saal2, extension: 1002, mac: '000413A1B2C4', model: snom320}\n"
    )
    calls: list = []
    fresh = pbx._planned(counting(calls), load_directory(event), Where(), {}, str(event))
    kept = pbx._planned(counting(calls), load_directory(event), Where(), {}, str(event))
    files = kept.provisioning.files
    assert len(calls) == 1 and isinstance(files, plancache.PackedFiles)
    # what a run that changes nothing asks: the digests (kept), the names, how many
    assert kept.provisioning.digests == fresh.provisioning.digests
    assert sorted(files) == sorted(fresh.provisioning.files) and len(files) == len(fresh.provisioning.files)
    assert not files.unpacked()
    # a step that publishes reads them: the same texts
    assert dict(files.items()) == fresh.provisioning.files and files.unpacked()


def test_a_deploy_seals_the_plan_beside_its_remote_commands(event):
    """planned_and_read hands the sealing to a native thread (roles/shared/beside.py); the
    process waits for it before it exits, and the next run takes the plan."""
    calls: list = []
    keep_later: list = []
    pbx._planned(counting(calls), load_directory(event), Where(), {}, str(event), keep_later)
    assert len(keep_later) == 1 and not keep_later[0][0].path.exists()  # not sealed yet
    pbx._keep_beside(keep_later)
    beside._finish()  # what the exiting process does
    assert keep_later == [] and beside._pending == []
    pbx._planned(counting(calls), load_directory(event), Where(), {}, str(event))
    assert len(calls) == 1  # taken
