"""The run's one read of the PBX goes out before the plan is rendered (roles/pbx.py
planned_and_read): what it reads must be what the rendered plan names, or every run would
read the PBX twice."""

import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from roles import asterisk, nixos, pbx, snom
from roles.event import event_directory, load_directory
from roles.plan import buildup

GROUP_DATA = Path(__file__).parents[2] / "group_data" / "all.py"

SETTINGS = SimpleNamespace(
    nixos__module_path="/etc/nixos/televoc/asterisk.nix",
    nixos__configuration="/etc/nixos/configuration.nix",
    asterisk__secrets_path=asterisk.SECRETS_PATH,
    asterisk__cli="asterisk -C /etc/asterisk/asterisk.conf",
    snom__pending_path="/var/lib/televoc/notify-pending",
    snom__provisioning_dir=snom.PROVISIONING_DIR,
    snom__teardown_record="/var/lib/televoc/teardown.json",
    televoc_run_marker="/var/lib/televoc-run/unfinished",
)

PHONES = {
    "plain": "  - {name: saal1, extension: 1001, password: pw-saal1-Kq8vR2xZ7m}\n",
    "snom": "  - {name: saal1, extension: 1001, password: pw-saal1-Kq8vR2xZ7m, mac: '000413A1B2C3', model: snom320}\n",
    "self-service": "  - {name: saal1, extension: 1001, password: pw-saal1-Kq8vR2xZ7m}\n",
}
SELF_SERVICE = (
    "self_service:\n  claimable: {first: 2000, last: 2999}\n  temporary: {first: 9000, last: 9999}\n"
    "  info_desk: saal1\n"
)


@pytest.mark.parametrize("phones", sorted(PHONES))
def test_the_read_sent_before_the_plan_reads_what_the_plan_names(tmp_path, monkeypatch, phones):
    secret = tmp_path / "s"
    secret.write_text("k" * 40)
    secret.chmod(0o600)  # televoc refuses a secret others can read
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(secret))
    event = "name: test-event\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\n"
    (tmp_path / "event.yml").write_text(event + (SELF_SERVICE if phones == "self-service" else ""))
    (tmp_path / "phones.yml").write_text("phones:\n" + PHONES[phones])
    directory = load_directory(tmp_path)
    plan = buildup(directory)
    known = pbx.known_arguments(SETTINGS, directory)
    assert pbx.same_read(pbx.arguments_of(SETTINGS, plan), known)
    # and it names the files NixOS serves, the module and the code beside it
    names = (
        set(asterisk.CONF_FILES)
        - (set() if phones == "self-service" else {"sorcery.conf", "extconfig.conf", "res_config_sqlite3.conf"})
        - {"cdr_sqlite3_custom.conf"}
    )  # the call log is off
    assert {f"{nixos.ASTERISK_ETC}/{name}" for name in names} <= set(known["digests"])
    assert "/etc/nixos/televoc/" + snom.PROVISIOND.name in known["digests"]
    # with self-service, the aors are listed in slices, which leave the claimed numbers out,
    # and the database's read lists only the claims outside the claimable range (counts the rest)
    assert known["aors"] == (None if phones == "self-service" else len(directory.accounts))
    read = next(command for name, command in known["commands"] if name == "selfservice")
    assert ("read --listed-outside 2000 2999 " in read) == (phones == "self-service"), read


def test_a_plan_that_names_another_file_is_not_the_same_read(tmp_path):
    (tmp_path / "event.yml").write_text("name: test-event\nnetwork: 10.23.0.0/24\n")
    (tmp_path / "phones.yml").write_text("phones:\n" + PHONES["plain"])
    directory = load_directory(tmp_path)
    known = pbx.known_arguments(SETTINGS, directory)
    other = {**known, "digests": (*known["digests"], "/etc/asterisk/other.conf")}
    assert not pbx.same_read(other, known)
    assert not pbx.same_read({**known, "aors": 2}, known)
    assert pbx.same_read({**known, "digests": tuple(reversed(known["digests"]))}, known)


def test_with_the_call_log_the_read_names_its_config_and_its_file(tmp_path, monkeypatch):
    secret = tmp_path / "s"
    secret.write_text("k" * 40)
    secret.chmod(0o600)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(secret))
    event = "name: test-event\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\ncall_log:\n  enabled: true\n"
    (tmp_path / "event.yml").write_text(event)
    (tmp_path / "phones.yml").write_text("phones:\n" + PHONES["plain"])
    directory = load_directory(tmp_path)
    known = pbx.known_arguments(SETTINGS, directory)
    assert pbx.same_read(pbx.arguments_of(SETTINGS, buildup(directory)), known)
    assert f"{nixos.ASTERISK_ETC}/cdr_sqlite3_custom.conf" in known["digests"]
    assert "calllog" in dict(known["commands"])


def test_the_plan_rendered_ahead_is_taken_only_for_the_same_inputs_and_once(tmp_path, monkeypatch):
    """group_data/all.py starts rendering before pyinfra connects (pbx.render_ahead); the deploy
    takes that plan only for the very Directory it loaded, the same Where and nothing told to
    the provisioning server, and only once; otherwise it renders its own."""
    (tmp_path / "event.yml").write_text("name: test-event\nnetwork: 10.23.0.0/24\n")
    (tmp_path / "phones.yml").write_text("phones:\n" + PHONES["plain"])
    directory = load_directory(tmp_path)
    monkeypatch.setattr(pbx, "_ahead", [])
    pbx.render_ahead(directory)
    other_where = pbx.Where(secrets_path="/var/lib/other/pjsip-secrets.conf")
    assert pbx._rendered_ahead(directory, other_where, {}) is None
    assert pbx._rendered_ahead(directory, pbx.Where(), {"unlock": "00"}) is None
    assert pbx._rendered_ahead(load_directory(tmp_path), pbx.Where(), {}) is None  # equal, not the same
    ahead = pbx._rendered_ahead(directory, pbx.Where(), {})
    assert ahead is not None
    rendering, keep_later = ahead
    assert rendering.get() == buildup(directory, pbx.Where(), {})
    assert keep_later == []  # no event secret beside the event: nothing to keep
    assert pbx._rendered_ahead(directory, pbx.Where(), {}) is None  # taken once


def test_the_default_settings_are_the_plan_rendered_ahead():
    """render_ahead renders with Where(): the settings' defaults must be the same, or the plan
    rendered ahead would never be taken."""
    defaults = {s.name: s.default for s in (*asterisk.SETTINGS, *snom.SETTINGS)}
    assert pbx.Where() == pbx.Where(
        secrets_path=defaults["asterisk__secrets_path"], provisioning_dir=defaults["snom__provisioning_dir"]
    )


@pytest.mark.parametrize(
    "argv, ahead", [(["inventory.py", "deploy.py", "-y"], 1), (["inventory.py", "exec", "--", "true"], 0)]
)
def test_group_data_renders_ahead_for_deploy_py_only_and_gives_pyinfra_its_bytecode_setting_back(
    tmp_path, monkeypatch, argv, ahead
):
    (tmp_path / "event.yml").write_text("name: test-event\nnetwork: 10.23.0.0/24\n")
    (tmp_path / "phones.yml").write_text("phones:\n" + PHONES["plain"])
    monkeypatch.setenv("TELEVOC_EVENT_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["pyinfra", *argv])
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # as pyinfra's CLI sets it
    monkeypatch.setattr(pbx, "_ahead", [])
    runpy.run_path(str(GROUP_DATA))
    assert sys.dont_write_bytecode is True
    assert len(pbx._ahead) == ahead
    if ahead:
        assert pbx._ahead[0][0] is event_directory(str(tmp_path))  # the Directory deploy.py takes


def test_group_data_refuses_a_bad_directory_before_rendering_anything(tmp_path, monkeypatch, capsys):
    (tmp_path / "event.yml").write_text("name: test-event\nnetwork: 10.23.0.0/24\n")
    (tmp_path / "phones.yml").write_text("phones:\n  - {name: saal1, extension: 1001, pasword: x}\n")
    monkeypatch.setenv("TELEVOC_EVENT_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["pyinfra", "inventory.py", "deploy.py"])
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(pbx, "_ahead", [])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(GROUP_DATA))
    assert stopped.value.code == 1
    assert "pasword" in capsys.readouterr().err
    assert pbx._ahead == []
    assert sys.dont_write_bytecode is True
