"""The preflight's judgement: each finding from what a host answered, with its fix."""

from roles.preflight import judge, read

NEED = judge.Needs(
    module_path="/etc/nixos/televoc/asterisk.nix",
    configuration="/etc/nixos/configuration.nix",
    ports=(("udp", 5060, "SIP"), ("tcp", 8088, "provisioning")),
    store_mb=2048,
    var_mb=512,
    ssh_pinned="pbx.known_hosts",
)
EVALUATED = {"asterisk": "22.10.1", "asteriskEnabled": False, "firewall": True, "backend": "iptables",
             "nftables": False, "firewalld": False}  # fmt: skip
FIT = judge.Answers(
    version="25.11.20251130.abcdef0 (Xantusia)",
    configuration_lines=("  imports = [ ./televoc/asterisk.nix ];",),
    evaluated=EVALUATED,
    listening=(("udp", 5060, "asterisk", 812), ("tcp", 22, "sshd", 90)),
    televoc_pids=frozenset({812}),
    free_mb={"/nix/store": 9000, "/var": 4000},
)


def blocking(answers, need=NEED) -> list[str]:
    return [f.text for f in judge.findings(answers, need) if not f.ok]


def test_a_fit_box_has_no_blocking_finding_and_says_what_it_checked():
    found = judge.findings(FIT, NEED)
    assert judge.fit(found)
    lines = judge.report(found)
    assert "ok    NixOS 25.11.20251130.abcdef0 (Xantusia)" in lines
    assert "ok    Asterisk 22.10.1 from the host's own nixpkgs" in lines
    assert "ok    UDP 5060 (SIP) is televoc's own" in lines and "ok    TCP 8088 (provisioning) is free" in lines


def test_each_problem_is_a_finding_with_its_fix():
    import dataclasses

    cases = {
        "does not import televoc's module": dataclasses.replace(FIT, configuration_lines=("# ./televoc/asterisk.nix",)),
        "the firewall is off": dataclasses.replace(FIT, evaluated={**EVALUATED, "firewall": False}),
        "the firewall is firewalld": dataclasses.replace(FIT, evaluated={**EVALUATED, "firewalld": True}),
        "enables Asterisk by itself (configuration.nix:7:  services.asterisk.enable = true;)": dataclasses.replace(
            FIT,
            evaluated={**EVALUATED, "asteriskEnabled": True},
            by_hand=("configuration.nix:7:  services.asterisk.enable = true;",),
        ),
        "UDP 5060 (SIP) is held by kamailio (pid 77)": dataclasses.replace(
            FIT, listening=(("udp", 5060, "kamailio", 77),)
        ),
        "100 MB free in /nix/store": dataclasses.replace(FIT, free_mb={"/nix/store": 100, "/var": 4000}),
        "does not evaluate: error: undefined variable 'pkgz'": dataclasses.replace(
            FIT, evaluated=None, eval_error="error: undefined variable 'pkgz'\n at ..."
        ),
        "not NixOS": dataclasses.replace(FIT, version=None),
    }
    for expected, answers in cases.items():
        found = [f for f in judge.findings(answers, NEED) if not f.ok]
        assert len(found) == 1 and expected in found[0].text and found[0].fix, (expected, found)


def test_a_flake_without_lock_or_import_is_told_what_to_do():
    import dataclasses

    answers = dataclasses.replace(FIT, flake="/etc/nixos", git=True, locked=False, name="pbx", import_lines=())
    found = [f for f in judge.findings(answers, NEED) if not f.ok]
    assert [f.text for f in found] == [
        "the flake in /etc/nixos has no flake.lock (televoc never writes it)",
        "the flake in /etc/nixos does not import televoc's module",
    ]
    assert "modules of nixosConfigurations.pbx in flake.nix" in found[1].fix


def test_an_unpinned_host_key_blocks():
    import dataclasses

    need = dataclasses.replace(NEED, ssh_pinned=None)
    assert blocking(FIT, need) == [
        "the PBX's SSH host key is not pinned: the first deploy sends the SIP passwords to whoever answers at that "
        "address"
    ]


def test_an_old_release_is_a_note_not_a_refusal():
    import dataclasses

    found = judge.findings(dataclasses.replace(FIT, version="23.11.1234.abc (Tapir)"), NEED)
    assert judge.fit(found) and any(f.warning and "older than 24.05" in f.text for f in found)


def test_the_answers_are_parsed_from_the_one_command():
    lines = [
        "@@preflight version", "25.11.20251130.abcdef0 (Xantusia)",
        "@@preflight host", "@@host name", "pbx", "@@host flake",
        "@@preflight configuration", "present", "  imports = [ ./televoc/asterisk.nix ];",
        "@@preflight eval", 'warning: something', '{"asterisk":"22.10.1","asteriskEnabled":false,"firewall":true,'
        '"backend":"nftables","nftables":true,"firewalld":false}',
        "@@preflight byhand",
        "@@preflight listening",
        'udp UNCONN 0 0 0.0.0.0:5060 0.0.0.0:* users:(("asterisk",pid=812,fd=12))',
        'tcp LISTEN 0 5 10.23.0.2:8088 0.0.0.0:* users:(("python3",pid=900,fd=3))',
        "@@preflight pids", "asterisk 812", "televoc-provisioning 900", "televoc-asterisk",
        "@@preflight df",
        "/dev/sda1 100000000 1000 9216000 1% /", "/dev/sda2 100000000 1000 4194304 1% /var",
    ]  # fmt: skip
    answers = read.parse(lines)
    assert answers.version == "25.11.20251130.abcdef0 (Xantusia)" and answers.flake is None
    assert answers.evaluated["backend"] == "nftables"
    assert answers.listening == (("udp", 5060, "asterisk", 812), ("tcp", 8088, "python3", 900))
    assert answers.televoc_pids == frozenset({812, 900})
    assert answers.free_mb == {"/nix/store": 9000, "/var": 4096}
    assert answers.configuration_lines == ("  imports = [ ./televoc/asterisk.nix ];",)
    assert judge.fit(judge.findings(answers, NEED))
