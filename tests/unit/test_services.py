"""services.yml (paging groups, intercoms, conference rooms): the checks (refused with file,
line, entry, field and fix, every problem at once), what they resolve into, the dialplan,
confbridge.conf and the snom setting they render. No host involved;
tests/lab_tests/test_services.py proves them with real calls."""

from __future__ import annotations

from pathlib import Path

from roles.asterisk.render import render_asterisk
from roles.event import load_directory, venue_directory
from roles.snom.render import render_provisioning

from .eventdirs import assert_named, write
from .eventdirs import problems as load_problems

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\npbx_address: 10.23.0.2\nsecret_file: event.secret\n"
PHONES = """\
phones:
  - {name: boss, extension: 1600, mac: "00:04:13:00:00:01", model: snom320}
  - {name: stage, extension: 1050, mac: "00:04:13:00:00:02", model: snom320}
  - {name: m1, extension: 1001, mac: "00:04:13:00:00:03", model: snom320}
  - {name: m2, extension: 1002}
  - {name: m3, extension: 1003}
  - {name: desk, extension: 1004, mac: "00:04:13:00:00:04", model: snom320}
"""
GROUPS = """\
groups:
  - name: hall
    number: 1100
    members: [m2, {name: m3, paused: true}]
"""
SERVICES = """\
paging:
  - name: halls
    number: 1800
    display_name: All halls
    members: [m1, hall]
    callers: [boss]
  - name: everyone
    number: 1802
    members: [hall, m1]
intercom:
  - name: stage
    number: 1801
    phones: [boss, stage]
conferences:
  - name: orga
    number: 1850
    pin: "0815"
  - name: open
    number: 1851
"""


def make(tmp_path: Path, services: str = SERVICES, event: str = EVENT) -> Path:
    directory = write(tmp_path, event, PHONES, GROUPS)
    (directory / "services.yml").write_text(services)
    return directory


def problems(tmp_path: Path, services: str, event: str = EVENT) -> list[str]:
    return load_problems(make(tmp_path, services, event))


def test_services_resolve_into_the_phones_they_reach(tmp_path):
    s = load_directory(make(tmp_path)).services
    halls, everyone = s.paging
    assert halls.phones == (("m1", "1001"), ("m2", "1002"), ("m3", "1003"))  # the paused m3 too
    assert halls.callers == ("1600",) and everyone.callers is None  # None: every phone
    assert [(i.name, i.ends) for i in s.intercoms] == [("stage", (("boss", "1600"), ("stage", "1050")))]
    assert [(c.number, c.pin) for c in s.conferences] == [("1850", "0815"), ("1851", None)]
    assert "0815" not in repr(s)


def test_a_pin_is_taken_exactly_as_written_or_refused(tmp_path):
    found = problems(
        tmp_path,
        "conferences:\n  - {name: a, number: 1850, pin: 4711}\n  - {name: b, number: 1851, pin: '12a4'}\n"
        "  - {name: c, number: 1852, pin: '123'}\n",
    )
    assert_named(
        found,
        [
            "services.yml:2: conference room 1 (a): pin: the number 4711 does not fit: a PIN is 4 to 10 digits, "
            'taken exactly as written (write it in quotes: "0815")',
            "services.yml:3: conference room 2 (b): pin: '12a4' does not fit",
            "services.yml:4: conference room 3 (c): pin: '123' does not fit",
        ],
    )


def test_every_problem_of_services_yml_is_reported_at_once_with_its_line_and_fix(tmp_path):
    found = problems(
        tmp_path,
        """\
paging:
  - name: halls
    number: 1001
    members: [m1, nobody]
    callers: ["1600"]
  - name: Halls
    number: 100
    members: [m1]
intercom:
  - name: stage
    number: 1100
    phones: [boss, hall]
  - name: twice
    number: 1803
    phones: [boss, boss]
conferences:
  - name: televoc-room
    number: 1803
kitchen: []
""",
    )
    assert_named(
        found,
        [
            "services.yml:3: paging group 1 (halls): number: '1001' is already used by phone 3 (m1)",
            "services.yml:4: paging group 1 (halls): members 2: 'nobody' is no phone or group of the event",
            "services.yml:5: paging group 1 (halls): callers 1: '1600' is no phone or group of the event; 1600 is "
            "the number of boss: write its name",
            "services.yml:6: paging group 2 (Halls): name: 'Halls' is already the name of paging group 1 (halls)",
            "services.yml:7: paging group 2 (Halls): number: '100' is already used by the hello_world test number",
            "services.yml:11: intercom 1 (stage): number: '1100' is already used by group 1 (hall)",
            "services.yml:12: intercom 1 (stage): phones 2: a group: an intercom joins two phones",
            "services.yml:15: intercom 2 (twice): phones 2: 'boss' is the first phone too: name two phones",
            "services.yml:17: conference room 1 (televoc-room): name: 'televoc-room' is reserved",
            "services.yml:18: conference room 1 (televoc-room): number: '1803' is already used by intercom 2 (twice)",
            "services.yml:19: kitchen: unknown key: services.yml takes only 'paging', 'intercom', 'conferences'",
        ],
    )


def test_a_service_number_may_not_begin_with_the_dial_out_prefix_nor_lie_in_a_self_service_range(tmp_path):
    event = (
        EVENT
        + "trunk: {registrar: 192.0.2.10, username: ev, block: '6000', secret_file: event.secret}\n"
        + "self_service: {claimable: {first: '2000', last: '2999'}, temporary: {first: '3000', last: '3999'}, "
        + "info_desk: boss}\n"
    )
    found = problems(tmp_path, "conferences:\n  - {name: a, number: '0850'}\n  - {name: b, number: 2500}\n", event)
    assert_named(
        found,
        [
            "conference room 1 (a): number: '0850' starts with the dial-out prefix '0'",
            "conference room 2 (b): number: '2500' is inside the claimable range 2000-2999",
        ],
        exactly=False,
    )


def test_with_venues_a_service_reaches_the_phones_of_its_own_venue_only(tmp_path):
    event = EVENT + (
        "venues:\n  hall: {numbers: ['1'], address: 10.23.0.2}\n  camp: {numbers: ['6'], address: 10.23.0.3}\n"
    )
    directory = write(tmp_path, event, PHONES.replace("1600", "6600"), GROUPS)
    (directory / "services.yml").write_text("intercom:\n  - {name: stage, number: 1801, phones: [m1, boss]}\n")
    found = load_problems(directory)
    assert_named(
        found,
        ["intercom 1 (stage): phones: boss is in venue camp, the number 1801 in venue hall"],
        exactly=False,
    )


def test_with_venues_a_paging_group_pages_a_group_of_its_own_venue_only(tmp_path):
    event = EVENT + (
        "venues:\n  hall: {numbers: ['1'], address: 10.23.0.2}\n  camp: {numbers: ['6'], address: 10.23.0.3}\n"
    )
    phones = PHONES + "  - {name: c1, extension: 6001}\n"
    directory = write(tmp_path, event, phones, "groups:\n  - {name: tents, number: 6100, members: [c1]}\n")
    (directory / "services.yml").write_text("paging:\n  - {name: all, number: 1800, members: [m1, tents]}\n")
    assert_named(
        load_problems(directory),
        ["paging group 1 (all): members: tents is in venue camp, the number 1800 in venue hall"],
    )


def test_a_venue_serves_the_services_whose_number_is_its_own(tmp_path):
    event = EVENT + (
        "venues:\n  hall: {numbers: ['1'], address: 10.23.0.2}\n  camp: {numbers: ['6'], address: 10.23.0.3}\n"
    )
    services = "conferences:\n  - {name: a, number: 1850}\n  - {name: b, number: 6850}\n"
    directory = write(tmp_path, event, PHONES.replace("1600", "6600"), None)
    (directory / "services.yml").write_text(services)
    whole = load_directory(directory)
    assert [c.name for c in venue_directory(whole, "hall").services.conferences] == ["a"]
    assert [c.name for c in venue_directory(whole, "camp").services.conferences] == ["b"]


def dialplan(tmp_path: Path) -> str:
    return render_asterisk(load_directory(make(tmp_path))).conf_files["extensions.conf"]


def context(text: str, name: str) -> str:
    start = text.index(f"[{name}]\n")
    end = text.find("\n[", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_a_paging_group_pages_its_phones_with_the_auto_answer_request_skipping_busy_ones(tmp_path):
    text = dialplan(tmp_path)
    lines = context(text, "televoc-numbers-0")
    assert (
        'exten => 1800,1,GotoIf($["${TV_FROM_TRUNK}" != "1" & ${DIALPLAN_EXISTS(televoc-may-page-1800,${TV_FROM},1)}]?page)\n'
        " same => n,Hangup(21)  ; 403: this caller may not page\n"
        " same => n(page),Page(PJSIP/m1&PJSIP/m2&PJSIP/m3,b(televoc-autoanswer^s^1)is)\n"
        " same => n,Hangup()\n"
    ) in lines
    assert context(text, "televoc-may-page-1800").splitlines()[2:] == ["exten => 1600,1,NoOp()"]
    assert 'exten => 1802,1,GotoIf($["${TV_FROM}" != "" & "${TV_FROM_TRUNK}" != "1"]?page)' in text
    assert "televoc-may-page-1802" not in text
    handler = context(text, "televoc-autoanswer")
    assert (
        "Set(PJSIP_HEADER(add,Alert-Info)=<http://127.0.0.1/autoanswer>\\;info=alert-autoanswer\\;delay=0)" in handler
    )
    assert "Set(PJSIP_HEADER(add,Call-Info)=<sip:127.0.0.1>\\;answer-after=0)" in handler


def test_an_intercom_rings_the_other_phone_for_each_of_its_two_and_refuses_the_rest(tmp_path):
    lines = context(dialplan(tmp_path), "televoc-numbers-1")
    assert 'exten => 1801,1,GotoIf($["${TV_FROM}" = "1600"]?to-b)\n' in lines
    assert ' same => n,GotoIf($["${TV_FROM}" = "1050"]?to-a)\n same => n,Hangup(21)' in lines
    assert " same => n(to-b),Dial(PJSIP/stage,20,b(televoc-autoanswer^s^1))\n" in lines
    assert " same => n(to-a),Dial(PJSIP/boss,20,b(televoc-autoanswer^s^1))\n" in lines


def test_a_conference_room_joins_confbridge_with_televocs_profiles_and_its_pin(tmp_path):
    config = render_asterisk(load_directory(make(tmp_path)))
    text = config.conf_files["extensions.conf"]
    assert "exten => 1850,1,Answer()\n same => n,ConfBridge(orga,televoc-room,televoc-pin-orga)\n" in text
    assert "exten => 1851,1,Answer()\n same => n,ConfBridge(open,televoc-room,televoc-participant)\n" in text
    rooms = config.conf_files["confbridge.conf"]
    assert "[televoc-room]\ntype=bridge\n" in rooms and "[televoc-participant]\ntype=user\n" in rooms
    assert rooms.endswith('\n#tryinclude "/var/lib/televoc/confbridge-pins.conf"\n')  # after the profile it extends
    assert config.pins_path == "/var/lib/televoc/confbridge-pins.conf"
    assert "\n[televoc-pin-orga](televoc-participant)\npin=0815\n" in config.pins
    assert "open" not in config.pins  # a room without PIN has no profile of its own


def test_a_pin_is_in_no_file_of_the_nix_store_nor_in_the_sip_passwords(tmp_path):
    """The PIN is only in the PINs file: not in any of Asterisk's files (which reach the
    world-readable Nix store and --diff), not in the NixOS module, nor in the SIP passwords."""
    from roles.plan import buildup

    directory = load_directory(make(tmp_path, SERVICES.replace('"0815"', '"93817264"')))
    plan = buildup(directory)
    stored = {
        **plan.asterisk.conf_files,
        "asterisk.nix": plan.module.text,
        **{e.name: e.text for e in plan.module.embedded},
    }
    assert stored and all("93817264" not in text for text in stored.values()), [
        name for name, text in stored.items() if "93817264" in text
    ]
    assert "93817264" not in plan.asterisk.secrets and "93817264" in plan.asterisk.pins


def test_a_changed_pin_changes_the_generation_so_that_asterisk_reloads(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    before = render_asterisk(load_directory(make(tmp_path / "a")))
    after = render_asterisk(load_directory(make(tmp_path / "b", SERVICES.replace('"0815"', '"0816"'))))
    assert before.conf_files == after.conf_files and before.pins != after.pins
    assert before.generation != after.generation


def test_without_a_pin_there_is_no_pins_file(tmp_path):
    config = render_asterisk(load_directory(make(tmp_path, SERVICES.replace('    pin: "0815"\n', ""))))
    assert config.pins == ""


def test_without_services_there_is_no_auto_answer_in_the_dialplan(tmp_path):
    directory = write(tmp_path, EVENT, PHONES, GROUPS)
    config = render_asterisk(load_directory(directory))
    assert "televoc-autoanswer" not in config.conf_files["extensions.conf"]
    assert "[televoc-room]" in config.conf_files["confbridge.conf"]  # every PBX has the profiles


def test_a_snom_obeys_the_auto_answer_request_only_when_a_page_or_intercom_reaches_it(tmp_path):
    files = render_provisioning(load_directory(make(tmp_path)))
    policy = {
        name: files[f"00041300000{n}.XML".upper().replace(".XML", ".xml")]
        for n, name in ((1, "boss"), (3, "m1"), (4, "desk"))
    }
    assert '<answer_after_policy perm="R">idle</answer_after_policy>' in policy["boss"]  # an intercom's end
    assert '<answer_after_policy perm="R">idle</answer_after_policy>' in policy["m1"]  # paged
    assert '<answer_after_policy perm="R">off</answer_after_policy>' in policy["desk"]


def test_a_run_says_what_changes_about_the_services_and_never_shows_a_pin(tmp_path):
    from roles.event.changes import account, summary

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    before = summary(load_directory(make(tmp_path / "a")))
    changed = SERVICES.replace('pin: "0815"', 'pin: "4711"').replace("callers: [boss]", "callers: [boss, stage]")
    after = summary(load_directory(make(tmp_path / "b", changed)))
    lines = account(before, after)
    assert lines == ["~ paging halls (1800): callers '1600' -> '1050, 1600'", "~ room orga (1850): pin"], lines
    assert account({}, before)[:1] == ["+ boss (1600): new, provisioned"]
    assert "+ paging halls (1800): new" in account({}, before)
    assert not any("0815" in str(v) for v in before.values())


def test_a_service_may_not_take_a_number_a_participant_has_claimed(tmp_path):
    from roles.event.errors import EventError
    from roles.event.selfservice import Claim

    try:
        load_directory(make(tmp_path), claims=[Claim("1851", "Alice")])
    except EventError as e:
        found = e.problems
    else:
        raise AssertionError("the claimed number was taken")
    assert_named(found, ["conference room 2 (open): number: '1851' is claimed by a participant as 'Alice'"])


def test_a_paging_group_that_would_page_more_phones_than_one_page_takes_is_refused(tmp_path):
    phones = "phones:\n" + "".join(
        f"  - {{name: phone-with-a-long-name-{i:04d}, extension: {2000 + i}}}\n" for i in range(250)
    )
    groups = (
        "groups:\n  - name: all\n    number: 1100\n    members: ["
        + ", ".join(f"phone-with-a-long-name-{i:04d}" for i in range(250))
        + "]\n"
    )
    directory = write(tmp_path, EVENT, phones, groups)
    (directory / "services.yml").write_text("paging:\n  - {name: everyone, number: 1800, members: [all]}\n")
    found = load_problems(directory)
    assert_named(
        found,
        ["paging group 1 (everyone): members: pages more phones than Asterisk takes in one call"],
        exactly=False,
    )


def test_rooms_are_in_the_directory_and_paging_groups_and_intercoms_only_when_the_crew_lists_them(tmp_path):
    from roles.event.phonebook import entries

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    listed = {(e.name, e.number, e.kind) for e in entries(load_directory(make(tmp_path / "a")))}
    assert ("orga", "1850", "conference") in listed and ("open", "1851", "conference") in listed
    assert not {e for e in listed if e[2] in ("paging", "intercom")}, listed  # not listed by default
    chosen = (
        SERVICES.replace("    callers: [boss]\n", "    callers: [boss]\n    in_directory: true\n")
        .replace(
            "    phones: [boss, stage]\n",
            "    phones: [boss, stage]\n    display_name: Stage talkback\n    in_directory: true\n",
        )
        .replace("  - name: open\n    number: 1851\n", "  - name: open\n    number: 1851\n    in_directory: false\n")
    )
    listed = {(e.name, e.number, e.kind) for e in entries(load_directory(make(tmp_path / "b", chosen)))}
    services = {e for e in listed if e[2] in ("paging", "intercom", "conference")}
    assert services == {
        ("All halls", "1800", "paging"),
        ("Stage talkback", "1801", "intercom"),
        ("orga", "1850", "conference"),
    }, services


def test_in_directory_of_a_service_is_true_or_false_else_refused_with_its_line(tmp_path):
    found = problems(
        tmp_path,
        "paging:\n  - {name: a, number: 1800, members: [m1], in_directory: 'yes'}\n"
        "conferences:\n  - {name: b, number: 1850, in_directory: 1}\n",
    )
    assert_named(
        found,
        [
            "services.yml:2: paging group 1 (a): in_directory:",
            "services.yml:4: conference room 1 (b): in_directory:",
        ],
    )


def test_a_rooms_pin_is_in_no_export_of_the_directory_nor_in_the_phones_directories(tmp_path):
    from roles.event.phonebook import FORMATS
    from roles.snom.render import render_directory

    pin = "90731846"
    listed = SERVICES.replace('pin: "0815"', f'pin: "{pin}"').replace(
        "    callers: [boss]\n", "    callers: [boss]\n    in_directory: true\n"
    )
    directory = load_directory(make(tmp_path, listed))
    assert directory.services.conferences[0].pin == pin
    outputs = {name: render(directory) for name, (_, render) in FORMATS.items()}
    outputs["snom directory.xml"] = render_directory(directory)
    # the phones' own settings files carry the directory (tbook); they hold SIP passwords, not PINs
    outputs.update(render_provisioning(directory))
    for name, text in outputs.items():
        assert "1850" in text, f"{name} lacks the room"  # (up to 100 entries, every phone's file has them)
        assert pin not in text, f"the PIN is in {name}"
