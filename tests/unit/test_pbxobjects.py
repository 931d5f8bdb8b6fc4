"""Every object Asterisk serves, listed in one command and parsed: against real Asterisk 22
captures (tests/unit/captures/), and through the shell command itself with a stand-in CLI
that prints them."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from roles.shared import pbxobjects as objects
from roles.shared.pbxcli import SECTION_MARK

from .test_cli_parsers import CAPTURES, capture

# What a hall of two venues with the trunk serves (captured in the lab), per listing.
SERVED = {
    "core show version": "core-show-version.txt",
    "pjsip list endpoints": "pjsip-list-endpoints.venue-trunk.txt",
    "pjsip list auths": "pjsip-list-auths.venue-trunk.txt",
    "pjsip list aors": "pjsip-list-aors.venue-trunk.txt",
    "pjsip list identifies": "pjsip-list-identifies.venue-trunk.txt",
    "pjsip list registrations": "pjsip-list-registrations.venue-trunk.txt",
    "pjsip list contacts": "pjsip-list-contacts.venue-trunk.txt",
    "database show registrar/contact": "database-show-registrar-contact.3-registered.txt",
    "dialplan show": "dialplan-show.venue-trunk.txt",
    "dialplan show globals": "dialplan-show-globals.txt",
}
# What an Asterisk televoc never touched serves: "No objects found." for every pjsip listing.
NOTHING = {
    **{command: "pjsip-list-endpoints.none.txt" for command in SERVED if command.startswith("pjsip list")},
    "core show version": "core-show-version.txt",
    "database show registrar/contact": "pjsip-list-endpoints.none.txt",
    "dialplan show": "dialplan-show.never-touched.txt",
    "dialplan show globals": "dialplan-show-globals.none.txt",
}


def answers(files: dict[str, str], squeeze: bool = False) -> list[str]:
    """The lines objects_script prints when Asterisk answers each command with its capture
    (`squeeze`: runs of spaces squeezed to one, as `tr -s ' '` on the PBX does)."""
    lines = []
    for command in objects.COMMANDS:
        lines.append(SECTION_MARK + command)
        lines += [re.sub(" +", " ", line) if squeeze else line for line in capture(files[command])]
    return lines


def test_every_kind_of_object_is_listed_by_name():
    listed = objects.parse_objects(answers(SERVED))
    assert listed is not None
    assert listed.names("endpoint") == ("h1", "televoc-trunk", "televoc-venue-camp")
    assert listed.names("auth") == ("h1", "televoc-trunk", "televoc-venue-camp")
    assert listed.names("aor") == ("h1", "televoc-generation-b2289347a9184c37", "televoc-trunk", "televoc-venue-camp")
    assert listed.names("identify") == ("televoc-trunk", "televoc-venue-camp")
    assert listed.names("registration") == ("televoc-trunk",)
    assert listed.names("contact") == ("televoc-trunk/sip:10.77.0.2", "televoc-venue-camp/sip:10.80.0.2:5060")
    assert len(listed.names("stored contact")) == 3
    assert listed.names("global") == ("TELEVOC_DIALPLAN",)
    assert listed.outbound == (objects.Outbound("televoc-trunk", "sip:10.77.0.2", "Registered", 3566),)
    assert not listed.empty


def test_only_the_contexts_of_extensions_conf_count_not_those_asterisks_modules_make():
    contexts = objects.parse_contexts(capture("dialplan-show.venue-trunk.txt"))
    assert ("__func_periodic_hook_context__", "func_periodic_hook") in contexts
    listed = objects.parse_objects(answers(SERVED))
    assert listed is not None
    assert "__func_periodic_hook_context__" not in listed.names("context")
    assert set(listed.names("context")) == {n for n, by in contexts if by == "pbx_config"}
    assert {"from-internal", "televoc-numbers", "televoc-from-venue", "televoc-from-trunk"} <= set(
        listed.names("context")
    )


def test_an_asterisk_televoc_never_touched_lists_nothing():
    listed = objects.parse_objects(answers(NOTHING))
    assert listed is not None and listed.empty and listed.counts() == []


def test_squeezed_columns_parse_alike():
    assert objects.parse_objects(answers(SERVED, squeeze=True)) == objects.parse_objects(answers(SERVED))


def test_a_stopped_asterisk_is_none_not_an_empty_listing():
    not_running = [line for line in capture("not-running.txt") if "Unable" in line][:1]
    lines = []
    for command in objects.COMMANDS:
        lines += [SECTION_MARK + command, *not_running]
    assert objects.parse_objects(lines) is None


def test_a_listing_without_an_answer_or_with_an_unknown_command_is_an_error():
    lines = answers(SERVED)
    cut = lines.index(SECTION_MARK + "dialplan show globals")
    with pytest.raises(ValueError, match="no answer for: dialplan show globals"):
        objects.parse_objects(lines[:cut])
    with pytest.raises(ValueError, match="No such command"):
        objects.parse_objects([*lines[:cut], SECTION_MARK + "dialplan show globals", "No such command 'dialplan show'"])


def test_registrations_give_status_and_seconds_to_the_next_registration():
    assert objects.parse_outbound(capture("pjsip-show-registrations.rejected.txt"))[0].status == "Rejected"
    assert objects.parse_outbound(capture("pjsip-show-registrations.none.txt")) == ()
    [unregistered] = objects.parse_outbound(capture("pjsip-show-registrations.unregistered.txt"))
    assert unregistered.name == "televoc-trunk" and unregistered.status == "Unregistered"


def test_stored_contacts_are_the_registrars_keys_whole_rows_or_cut_on_the_pbx():
    rows = capture("database-show-registrar-contact.upstream.txt")
    assert objects.parse_stored_contacts(rows) == ("6000;@dd5ceb5be0bba081ff3734326edfed21",)
    cut = filtered("database show registrar/contact", "database-show-registrar-contact.upstream.txt")
    assert cut == ["/registrar/contact/6000;@dd5ceb5be0bba081ff3734326edfed21"]
    assert objects.parse_stored_contacts(cut) == objects.parse_stored_contacts(rows)


def filtered(command: str, name: str) -> list[str]:
    """A capture through the filter the PBX applies to `command`'s answer (FILTERS)."""
    text = "\n".join(capture(name)) + "\n"
    run = subprocess.run(["sh", "-c", objects.FILTERS[command]], input=text, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def test_the_dialplan_filter_keeps_every_context_line_and_nothing_else():
    kept = filtered("dialplan show", "dialplan-show.venue-trunk.txt")
    assert kept and all(line.startswith("[ Context ") for line in kept)
    assert objects.parse_contexts(kept) == objects.parse_contexts(capture("dialplan-show.venue-trunk.txt"))


def test_the_one_command_lists_everything_through_the_cli(tmp_path):
    """objects_script run by sh, with a stand-in CLI that answers each command with its capture."""
    cli = fake_cli(tmp_path, SERVED)
    run = subprocess.run(["sh", "-c", objects.objects_script(str(cli))], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert objects.parse_objects(run.stdout.splitlines()) == objects.parse_objects(answers(SERVED))


def fake_cli(tmp_path: Path, files: dict[str, str]) -> Path:
    """An `asterisk` stand-in: `asterisk -rx CMD` prints CMD's capture (without its '$' line)."""
    cases = "".join(
        f"  {shlex.quote(command)}) grep -v '^\\$ ' {shlex.quote(str(CAPTURES / name))} ;;\n"
        for command, name in files.items()
    )
    cli = tmp_path / "asterisk"
    cli.write_text(f'#!/bin/sh\ncase "$2" in\n{cases}  *) echo "No such command \'$2\'" ;;\nesac\n')
    cli.chmod(0o755)
    return cli
