"""Pure renderers: deterministic, no secrets where they must not be."""

import pytest

from roles.asterisk import render_asterisk
from roles.event import load_directory
from roles.nixos import nix_indented_string
from roles.plan import buildup, teardown


@pytest.fixture
def directory(tmp_path):
    (tmp_path / "event.yml").write_text("name: test-event\nnetwork: 10.23.0.0/24\n")
    (tmp_path / "phones.yml").write_text(
        "phones:\n"
        "  - {name: saal1, extension: 1001, display_name: Saal 1, password: pw-saal1-Kq8vR2xZ7m}\n"
        "  - {name: backoffice, extension: 1600, password: pw-back-Hd5sJ9pQ2v, contact: 'sip:bo@10.23.0.9:5060'}\n"
    )
    return load_directory(tmp_path)


RENDER_ALL = """
import hashlib, sys
from roles.event import load_directory
from roles.plan import buildup
directory = load_directory(sys.argv[1])
plan = buildup(directory)
config = plan.asterisk
texts = [*config.conf_files.values(), config.secrets, plan.module.text, plan.asterisk.summary_text]
texts += list(plan.provisioning.files.values())
print(hashlib.sha256("\\0".join(texts).encode()).hexdigest())
"""


def test_rendering_is_byte_identical_across_processes(tmp_path):
    """Two interpreters with different hash seeds (set and dict order) render the same bytes:
    a rerun with no change must not switch or reload anything."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "event.yml").write_text("name: e\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\n")
    (tmp_path / "phones.yml").write_text(
        "phones:\n"
        + "".join(
            f"  - {{name: p{i}, extension: {1000 + i}, mac: '000413{i:06X}', model: snom320}}\n" for i in range(20)
        )
    )
    (tmp_path / "secret").write_text("k" * 40)
    (tmp_path / "secret").chmod(0o600)  # televoc refuses a secret others can read
    digests = set()
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed, TELEVOC_SECRET_FILE=str(tmp_path / "secret"))
        out = subprocess.run(
            [sys.executable, "-c", RENDER_ALL, str(tmp_path)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_passwords_only_in_the_secrets_file(directory):
    config = render_asterisk(directory)
    module = buildup(directory).module.text
    for password in ("pw-saal1-Kq8vR2xZ7m", "pw-back-Hd5sJ9pQ2v"):
        assert password in config.secrets
        assert password not in module
        assert all(password not in text for text in config.conf_files.values())
    for name in ("pjsip.conf", "pjsip_endpoints.conf", "pjsip_aors.conf"):  # each re-read with the passwords
        assert config.conf_files[name].endswith('#include "/var/lib/televoc/pjsip-secrets.conf"\n')


def test_every_phone_gets_endpoint_auth_aor_and_a_dial_line(directory):
    config = render_asterisk(directory)
    endpoints, aors = config.conf_files["pjsip_endpoints.conf"], config.conf_files["pjsip_aors.conf"]
    dialplan = config.conf_files["extensions.conf"]
    assert '[saal1](televoc-phone)\ncallerid="Saal 1" <1001>\nauth=saal1\naors=saal1\n' in endpoints
    assert "max_contacts=1\nremove_existing=yes\nqualify_frequency=30" in aors
    assert "deny=0.0.0.0/0.0.0.0\npermit=10.23.0.0/24\n" in endpoints
    assert "[backoffice](televoc-aor)\ncontact=sip:bo@10.23.0.9:5060\n" in aors
    assert (
        "type=endpoint" not in aors
        and "type=aor" not in endpoints
        and "(televoc-" not in config.conf_files["pjsip.conf"]
    )
    sorcery = config.conf_files["sorcery.conf"]
    assert "endpoint=config,pjsip_endpoints.conf,criteria=type=endpoint\n" in sorcery
    assert "auth=config,pjsip_auths.conf,criteria=type=auth\n" in sorcery
    assert config.conf_files["pjsip_auths.conf"].endswith('#include "/var/lib/televoc/pjsip-secrets.conf"\n')
    assert "aor=config,pjsip_aors.conf,criteria=type=aor\n" in sorcery and "realtime" not in sorcery
    assert (
        "exten => 1001,1,Set(CALLERID(name)=${TV_CALLER_NAME})\n same => n,Set(__TV_GROUP=)\n same => n,Dial(PJSIP/saal1,20,b(televoc-predial^s^1))\n"
        in dialplan
    )
    assert "exten => 100,1,Answer()" in dialplan and "Playback(hello-world)" in dialplan
    assert "[saal1]\ntype=auth\nauth_type=userpass\nusername=saal1\npassword=pw-saal1-Kq8vR2xZ7m\n" in config.secrets


def test_same_length_password_change_changes_the_generation(directory):
    before = render_asterisk(directory)
    accounts = list(directory.accounts)
    accounts[0] = accounts[0].model_copy(update={"password": "pw-saal1-Wt3nL6yB9c"})
    after = render_asterisk(directory.model_copy(update={"accounts": tuple(accounts)}))
    assert after.conf_files == before.conf_files  # the store files do not change at all
    assert after.generation != before.generation
    assert len(after.secrets) == len(before.secrets)  # same size: only the mtime tells Asterisk
    assert f"[televoc-generation-{after.generation}]" in after.secrets


def test_dialplan_generation_is_in_the_dialplan(directory):
    config = render_asterisk(directory)
    assert f"TELEVOC_DIALPLAN={config.dialplan_generation}\n" in config.conf_files["extensions.conf"]


def test_nix_indented_string_escapes_interpolation_and_quotes():
    text = "[globals]\nexten => s,1,GotoIf($[\"${DIALSTATUS}\" = \"BUSY\"]?b)\nsay ''hi''\n"
    rendered = nix_indented_string(text)
    assert "''${DIALSTATUS}" in rendered and "'''hi'''" in rendered
    assert rendered.startswith("''\n") and rendered.endswith("\n      ''")


def test_nix_indented_string_escapes_a_quote_right_before_an_interpolation():
    # Asterisk's cdr_sqlite3_custom.conf quotes each value: '${CDR(src)}'. The forms below were
    # evaluated with real Nix (nix-instantiate --eval): they give back exactly the text.
    rendered = nix_indented_string("values => '${CDR(start)}','${CDR(src)}'\nx'''${y}\n")
    assert "values => ''\\'''${CDR(start)}',''\\'''${CDR(src)}'\n" in rendered
    assert "x'''''\\'''${y}\n" in rendered


def test_nix_indented_string_refuses_text_whose_indentation_nix_would_strip():
    with pytest.raises(ValueError):
        nix_indented_string(" only indented\n")
    with pytest.raises(ValueError):
        nix_indented_string("trailing blank \n")


def test_realm_goes_into_the_global_section(tmp_path):
    (tmp_path / "event.yml").write_text("name: e\nnetwork: 10.0.0.0/8\nsip: {realm: e-realm}\n")
    (tmp_path / "phones.yml").write_text("phones:\n  - {name: a1, extension: 11, password: Tk7-wQ3v-Lm9z-Rb2x}\n")
    pjsip = render_asterisk(load_directory(tmp_path)).conf_files["pjsip.conf"]
    assert "[global]\ntype=global\ndefault_realm=e-realm\n" in pjsip


def _firewall(module: str) -> list[str]:
    return [line.strip() for line in module.splitlines() if "networking.firewall" in line or "iptables" in line]


def _rules(module: str, option: str) -> list[str]:
    """The lines of `networking.firewall.<option>` in the module text."""
    lines = module.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(f"networking.firewall.{option} ="))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "'';")
    return [line.strip() for line in lines[start + 1 : end]]


def test_sip_and_rtp_are_open_to_the_phone_network_only_on_the_firewalls_backend(directory):
    module = buildup(directory).module.text
    assert "allowedUDPPorts" not in module and "allowedUDPPortRanges" not in module  # those open to all
    assert _rules(module, "extraCommands") == [
        "iptables -A nixos-fw -p udp -s 10.23.0.0/24 --dport 5060 -j nixos-fw-accept",
        "iptables -A nixos-fw -p udp -s 10.23.0.0/24 --dport 10000:20000 -j nixos-fw-accept",
    ]
    assert _rules(module, "extraInputRules") == [
        "ip saddr 10.23.0.0/24 udp dport 5060 accept",
        "ip saddr 10.23.0.0/24 udp dport 10000-20000 accept",
    ]
    assert 'networking.firewall.extraCommands = lib.mkIf (backend == "iptables")' in module
    assert 'networking.firewall.extraInputRules = lib.mkIf (backend == "nftables")' in module
    assert "backend = config.networking.firewall.backend or (if config.networking.nftables.enable" in module


def test_a_firewall_that_is_off_or_firewalld_is_refused_by_an_assertion(directory):
    module = buildup(directory).module.text
    assert "assertion = config.networking.firewall.enable;" in module
    assert 'builtins.elem backend [ "iptables" "nftables" ]' in module
    assert "set networking.firewall.enable = true" in module and "services.firewalld.enable = false" in module


def test_the_trunk_and_the_other_venues_reach_sip_and_rtp_too(tmp_path):
    from .eventdirs import write

    event = (
        "name: e\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
        "venues: {hall: {numbers: '1', address: 10.80.0.1}, camp: {numbers: '2', address: 10.80.0.2}}\n"
        "trunk: {registrar: 10.77.0.2, username: '6000', block: 6000, venue: hall, secret_file: t,"
        " sources: [10.77.0.0/28, 'fd77::/64']}\n"
    )
    phones = "phones:\n  - {name: a1, extension: 1001}\n  - {name: b1, extension: 2001}\n"
    path = write(tmp_path, event, phones, files={"t": ("pw-trunk-Zq8vR2x\n", 0o600)})
    from roles.event import venue_directory

    module = buildup(venue_directory(load_directory(path), "hall")).module.text
    assert _rules(module, "extraInputRules") == [
        "ip saddr { 10.23.0.0/24, 10.77.0.0/28, 10.80.0.2 } udp dport 5060 accept",
        "ip6 saddr fd77::/64 udp dport 5060 accept",
        "ip saddr { 10.23.0.0/24, 10.77.0.0/28, 10.80.0.2 } udp dport 10000-20000 accept",
        "ip6 saddr fd77::/64 udp dport 10000-20000 accept",
    ]
    assert "ip6tables -A nixos-fw -p udp -s fd77::/64 --dport 5060 -j nixos-fw-accept" in _rules(
        module, "extraCommands"
    )


def _provisioned(tmp_path, monkeypatch, network="10.23.0.0/24"):
    (tmp_path / "event.yml").write_text(f"name: e\nnetwork: {network}\npbx_address: 10.23.0.2\n")
    (tmp_path / "phones.yml").write_text(
        "phones:\n  - {name: a1, extension: 11, mac: '000413000001', model: snom320}\n"
    )
    (tmp_path / "s").write_text("k" * 40)
    (tmp_path / "s").chmod(0o600)  # televoc refuses a secret others can read
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(tmp_path / "s"))
    directory = load_directory(tmp_path)
    return directory


def test_the_provisioning_port_is_open_to_the_phone_network_only_on_either_firewall(tmp_path, monkeypatch):
    directory = _provisioned(tmp_path, monkeypatch)
    module = buildup(directory).module.text
    iptables = "iptables -A nixos-fw -p tcp -s 10.23.0.0/24 --dport 8088 -j nixos-fw-accept"
    assert iptables in _rules(module, "extraCommands")
    assert f"{iptables.replace(' -A ', ' -D ')} || true" in _rules(module, "extraStopCommands")
    assert "ip saddr 10.23.0.0/24 tcp dport 8088 accept" in _rules(module, "extraInputRules")
    assert "allowedTCPPorts" not in module


def test_an_ipv6_phone_network_gets_ipv6_rules(tmp_path, monkeypatch):
    directory = _provisioned(tmp_path, monkeypatch, network="fd00:23::/64")
    module = buildup(directory).module.text
    assert "ip6tables -A nixos-fw -p tcp -s fd00:23::/64 --dport 8088" in module
    assert "ip6 saddr fd00:23::/64 tcp dport 8088 accept" in module


def test_the_provisioning_server_runs_as_its_own_user_on_the_pbx_address(tmp_path, monkeypatch):
    directory = _provisioned(tmp_path, monkeypatch)
    module = buildup(directory).module.text
    assert "users.users.televoc-provisioning = {\n    isSystemUser = true;" in module
    assert (
        'ExecStart = "${pkgs.python3}/bin/python3 ${./provisiond.py} --bind 10.23.0.2 --port 8088 '
        "--files /var/lib/televoc-phones "
    ) in module
    assert 'User = "televoc-provisioning";' in module and 'StateDirectory = "televoc-provisioning";' in module


def test_a_source_refused_for_sweeping_is_banned_at_its_first_sweep_line(tmp_path, monkeypatch):
    """Two jails on the provisioning server's log: its refusals ban after security.ban_after,
    a sweeper's line bans at once; both from every port. The server runs with the sweep
    guard's numbers and the crew's unlock file."""
    directory = _provisioned(tmp_path, monkeypatch)
    plan = buildup(directory)
    module = plan.module.text
    jail = module[module.index("jails.televoc-mac-sweep = {") :]
    jail = jail[: jail.index("\n    };\n")]
    assert "failregex = ''^\\s*televoc-provisioning: refused 403 sweeping .* from <ADDR>$'';" in jail
    assert 'logpath = "/var/log/televoc-provisioning/access.log";' in jail
    assert "maxretry = 1;" in jail and 'banaction = "%(banaction_allports)s";' in jail
    assert 'protocol = "tcp,udp";' in jail and "bantime = 3600;" in jail
    assert "maxretry = 5;" in module[module.index("jails.televoc-provisioning = {") :]
    assert plan.module.jails == ("televoc-sip", "televoc-provisioning", "televoc-mac-sweep")
    assert all(len(f"f2b-{name}") <= 28 for name in plan.module.jails)  # iptables' longest chain name
    assert module.count('"televoc-provisioning.service"') == 1  # fail2ban starts after it, said once
    assert (
        "--max-unknown 128 --max-unknown-per-source 8 --source-window 86400 "
        "--unlock-file /var/lib/televoc-provisioning/unlock --prefix /televoc"
    ) in module


def test_the_log_fail2ban_reads_exists_before_the_provisioning_server_counts_as_started(tmp_path, monkeypatch):
    """fail2ban starts after the server and exits for good when a jail's log file is missing;
    a simple unit counts as started before Python opens its log: ExecStartPre creates it."""
    directory = _provisioned(tmp_path, monkeypatch)
    module = buildup(directory).module.text
    unit = module[module.index("systemd.services.televoc-provisioning = {") :]
    unit = unit[: unit.index("\n  };\n")]
    assert 'ExecStartPre = "${pkgs.coreutils}/bin/touch /var/log/televoc-provisioning/access.log";' in unit
    assert 'LogsDirectory = "televoc-provisioning";' in unit  # the directory the touch writes in
    assert 'logpath = "/var/log/televoc-provisioning/access.log";' in module  # the file the jails read


def test_the_security_log_fail2ban_reads_exists_before_asterisk_runs(tmp_path, monkeypatch):
    """fail2ban starts after Asterisk and exits for good when a jail's log file is missing;
    Asterisk counts as started once forked, before its logger makes the file: the unit's
    preStart, after NixOS's own (mkAfter), makes it as Asterisk's, only when it is missing."""
    directory = _provisioned(tmp_path, monkeypatch)
    module = buildup(directory).module.text
    start = module.index("systemd.services.asterisk.preStart = lib.mkAfter ''")
    script = module[start : module.index("'';", start)]
    assert (
        "if [ ! -e /var/log/asterisk/security ]; then ${pkgs.coreutils}/bin/install"
        " -o asterisk -g asterisk -m 0640 /dev/null /var/log/asterisk/security; fi"
    ) in script
    assert "if [ ! -e /var/log/asterisk ]; then ${pkgs.coreutils}/bin/install -d -o asterisk -g asterisk" in script
    assert 'logpath = "/var/log/asterisk/security";' in module  # the file the SIP jail reads
    assert '"asterisk.service"' in module[module.index("systemd.services.fail2ban.after") :]
    assert "asterisk.preStart" not in teardown(directory, stop=True).module.text  # no Asterisk, no jail


def test_a_jail_whose_iptables_chain_would_be_refused_is_refused_when_rendered():
    from roles.nixos import Jail

    with pytest.raises(ValueError, match="f2b-televoc-provisioning-sweep and the jail would ban nobody"):
        Jail(name="televoc-provisioning-sweep", comment=(), logpath="/x", after="x.service", filter="x")


def test_asterisk_gets_only_televocs_files_with_http_and_manager_off(directory):
    config = render_asterisk(directory)
    module = buildup(directory).module.text
    assert "useTheseDefaultConfFiles = [ ];" in module
    assert config.conf_files["http.conf"].endswith("[general]\nenabled=no\n")
    assert config.conf_files["manager.conf"].endswith("[general]\nenabled=no\n")
    modules = config.conf_files["modules.conf"]
    assert "autoload=yes\n" in modules
    for exposed in (
        "res_ari.so",
        "res_http_websocket.so",
        "res_pjsip_transport_websocket.so",
        "res_phoneprov.so",
        "chan_iax2.so",
        "pbx_dundi.so",
        "chan_unistim.so",
    ):
        assert f"noload => {exposed}\n" in modules
    assert "televoc-provisioning" not in module  # no provisioned phone: no server


def test_teardown_disables_asterisk_and_opens_no_port(directory):
    module = teardown(directory, stop=True).module.text
    assert "enable = false;" in module and _firewall(module) == [] and "assertions" not in module


def test_the_bridge_keeps_the_running_accounts_and_adds_the_new_ones_only(directory):
    before = render_asterisk(directory)
    accounts = [
        *directory.accounts[1:],
        directory.accounts[0].model_copy(update={"name": "saal9", "extension": "1009"}),
    ]
    changed = [accounts[0].model_copy(update={"password": "pw-back-CHANGED-9q2"}), accounts[1]]
    after = render_asterisk(directory.model_copy(update={"accounts": tuple(changed)}))
    from roles.asterisk.render import bridged

    text = bridged(before.secrets, after.secrets)
    assert f"[televoc-generation-{before.generation}]" in text  # the running config's marker
    assert f"televoc-generation-{after.generation}" not in text
    assert "[saal1]\ntype=auth" in text  # gone from the new config: kept for the running one
    assert "[saal9]\ntype=auth" in text and "password=pw-saal1-Kq8vR2xZ7m" in text  # the new phone
    assert "password=pw-back-Hd5sJ9pQ2v" in text and "pw-back-CHANGED" not in text  # running password kept
    assert bridged(text, after.secrets) == text  # a second bridge changes nothing
    assert bridged(before.secrets, before.secrets) == before.secrets


def _block(module: str, opening: str) -> str:
    """The text of a Nix attribute set that starts with `opening` (up to its closing `};`)."""
    start = module.index(opening)
    return module[start : module.index("\n  };\n", start)]


def test_asterisk_gets_file_descriptors_for_every_rtp_port(directory):
    """systemd's default soft limit (1024 descriptors) stops calls at about a hundred at once:
    the unit raises it (soft and hard), above what the whole RTP range can take."""
    from roles.nixos.render import LIMITS

    unit = _block(buildup(directory).module.text, "  systemd.services.asterisk.serviceConfig = {")
    assert f"    LimitNOFILE = {LIMITS.nofile};" in unit.splitlines()
    rtp = directory.event.sip.rtp_end - directory.event.sip.rtp_start + 1
    assert LIMITS.nofile > 2 * rtp > LIMITS.default_nofile


def test_the_sip_socket_gets_the_buffer_asterisk_asks_for(directory):
    """Asterisk's pjproject asks for 512 KiB each way on its SIP socket; the kernel's default
    cap (212992) would cut it: both caps are raised to what it asks, as NixOS option values
    (NixOS takes the highest definition of these two: a host's own larger value stays)."""
    sysctl = _block(buildup(directory).module.text, "  boot.kernel.sysctl = {").splitlines()
    assert '    "net.core.rmem_max" = 524288;' in sysctl
    assert '    "net.core.wmem_max" = 524288;' in sysctl


def test_teardown_raises_no_limit(directory):
    module = teardown(directory, stop=True).module.text
    assert "LimitNOFILE" not in module and "boot.kernel.sysctl" not in module


def test_a_running_asterisk_whose_sorcery_conf_changes_is_restarted_not_reloaded(directory):
    """Asterisk applies sorcery.conf only when it starts (self-service turned on or off
    changes it): the deploy restarts an Asterisk that ran with another one; one that was
    not running is started by the run and needs nothing more."""
    from roles.asterisk.deploy import sorcery_changes
    from roles.shared.files import FileDigest, sha256
    from roles.shared.pbxcli import PbxState
    from roles.shared.snapshot import Snapshot

    config = render_asterisk(directory)
    path = "/etc/asterisk/sorcery.conf"
    same = FileDigest(sha256(config.conf_files["sorcery.conf"]), "444", "root", "root")
    other = FileDigest(sha256("[res_pjsip]\n"), "444", "root", "root")
    running = PbxState(running=True)
    assert sorcery_changes(config, Snapshot(digests={path: same}, asterisk=running)) == ""
    assert sorcery_changes(config, Snapshot(digests={path: other}, asterisk=running)) == (
        "its sorcery.conf changes in this run"
    )
    assert sorcery_changes(config, Snapshot(digests={path: None}, asterisk=running)) != ""  # none before
    assert sorcery_changes(config, Snapshot(digests={path: other})) == ""  # not running: the run starts it
    assert sorcery_changes(config, None) == ""
