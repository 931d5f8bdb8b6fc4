"""The event directory's YAML is read strictly: every value arrives exactly as written, or it is
refused, naming file, line, entry and field, with the hint to quote it (roles/event/yamlload.py)."""

from pathlib import Path

import pytest
import yaml

from roles.event import EventError, load_directory, yamlload

EVENT = "name: test-event\nnetwork: 10.23.0.0/24\nsecret_file: event.secret\n"
PHONES = "phones:\n  - name: saal1\n    extension: 1001\n"


def make(tmp_path: Path, phones: str = PHONES, event: str = EVENT) -> Path:
    (tmp_path / "event.yml").write_text(event)
    (tmp_path / "phones.yml").write_text(phones)
    (tmp_path / "event.secret").write_text("s" * 40 + "\n")
    (tmp_path / "event.secret").chmod(0o600)
    return tmp_path


def refused(tmp_path: Path, **files) -> list[str]:
    """The problems, with the directory cut off the file names."""
    with pytest.raises(EventError) as info:
        load_directory(make(tmp_path, **files))
    return [p.replace(f"{tmp_path}/", "") for p in info.value.problems]


def phone(**fields) -> str:
    """phones.yml with saal1 first and, as phone 2 on lines 4-6, saal2 with `fields` added."""
    extra = "".join(f"    {k}: {v}\n" for k, v in fields.items())
    return PHONES + "  - name: saal2\n    extension: 1002\n" + extra


# --- each pitfall, in phones.yml --------------------------------------------------------------


def test_a_leading_zero_makes_an_octal_number_and_is_refused(tmp_path):
    assert refused(tmp_path, phones=PHONES + "  - name: saal2\n    extension: 0100\n") == [
        "phones.yml:5: phone 2 (saal2): extension: YAML 1.1 reads 0100 as the number 64 (octal, "
        'because it starts with 0): write it in quotes, "0100"'
    ]


def test_a_quoted_leading_zero_arrives_as_written(tmp_path):
    directory = load_directory(make(tmp_path, phones=PHONES + '  - name: saal2\n    extension: "0100"\n'))
    assert directory.accounts[1].extension == "0100"


def test_digit_groups_are_refused(tmp_path):
    assert refused(tmp_path, phones=phone(display_name="1_000")) == [
        "phones.yml:6: phone 2 (saal2): display_name: YAML 1.1 reads 1_000 as the number 1000 "
        "(YAML 1.1 drops the '_'): write it in quotes, \"1_000\""
    ]


@pytest.mark.parametrize(
    "text, value, base", [("0x10", 16, "hexadecimal"), ("0b101", 5, "binary"), ("017", 15, "octal")]
)
def test_hex_binary_and_octal_numbers_are_refused(tmp_path, text, value, base):
    [p] = refused(tmp_path, phones=phone(display_name=text))
    assert p.startswith(
        f"phones.yml:6: phone 2 (saal2): display_name: YAML 1.1 reads {text} as the number {value} ({base}"
    )
    assert p.endswith(f'write it in quotes, "{text}"')


def test_a_time_with_a_colon_is_a_base_60_number_and_is_refused(tmp_path):
    [p] = refused(tmp_path, phones=phone(display_name="1:30"))
    assert p.startswith("phones.yml:6: phone 2 (saal2): display_name: YAML 1.1 reads 1:30 as the number 90 (base 60")


def test_an_unquoted_mac_of_digit_pairs_below_60_is_refused(tmp_path):
    [p] = refused(
        tmp_path, phones=phone(mac="10:20:30:40:50:59", model="snom320"), event=EVENT + "pbx_address: 10.23.0.2\n"
    )
    assert p.startswith("phones.yml:6: phone 2 (saal2): mac: YAML 1.1 reads 10:20:30:40:50:59 as the number 8041827059")


def test_an_unquoted_mac_yaml_keeps_as_text_is_taken(tmp_path):
    directory = load_directory(
        make(tmp_path, phones=phone(mac="00:04:13:2a:bc:de", model="snom320"), event=EVENT + "pbx_address: 10.23.0.2\n")
    )
    assert directory.accounts[1].mac == "0004132abcde"


@pytest.mark.parametrize(
    "word, value",
    [
        ("yes", "true"),
        ("Yes", "true"),
        ("YES", "true"),
        ("no", "false"),
        ("No", "false"),
        ("NO", "false"),
        ("on", "true"),
        ("On", "true"),
        ("ON", "true"),
        ("off", "false"),
        ("Off", "false"),
        ("OFF", "false"),
    ],
)
def test_yes_no_on_off_lower_capitalised_or_upper_case_are_booleans_and_are_refused(tmp_path, word, value):
    assert refused(tmp_path, phones=phone(display_name=word)) == [
        f"phones.yml:6: phone 2 (saal2): display_name: YAML 1.1 reads {word} as the boolean {value}: "
        f'write it in quotes, "{word}" (a yes/no setting takes true or false)'
    ]


@pytest.mark.parametrize("word", ["y", "n", "Y", "N"])
def test_single_letters_y_and_n_arrive_as_letters(tmp_path, word):
    """YAML 1.1's spec lists y/n as booleans, but PyYAML reads them as text: they arrive as written."""
    directory = load_directory(make(tmp_path, phones=phone(display_name=word)))
    assert directory.accounts[1].display_name == word


def test_a_date_is_refused(tmp_path):
    assert refused(tmp_path, phones=phone(display_name="2026-11-26")) == [
        'phones.yml:6: phone 2 (saal2): display_name: YAML 1.1 reads 2026-11-26 as a date: write it in quotes, "2026-11-26"'
    ]


@pytest.mark.parametrize("text, words", [(".inf", "infinity"), ("-.Inf", "minus infinity"), (".NaN", "not a number")])
def test_infinity_and_not_a_number_are_refused(tmp_path, text, words):
    [p] = refused(tmp_path, phones=phone(display_name=text))
    assert p.startswith(f"phones.yml:6: phone 2 (saal2): display_name: YAML 1.1 reads {text} as ") and words in p


# --- the same pitfalls in event.yml, nested too -------------------------------------------------


def test_pitfalls_in_event_yml_are_refused_at_top_level_and_nested(tmp_path):
    event = (
        "name: test-event\n"
        "network: 10.23.0.0/24\n"
        "secret_file: event.secret\n"
        "ring_timeout: 1:30\n"
        "sip:\n"
        "  port: 5_060\n"
        "  rtp_start: 0x2710\n"
        "  realm: off\n"
        "test_numbers:\n"
        "  echo: 0101\n"
        "provisioning:\n"
        "  keepalive_interval: .inf\n"
        "  web_user: 2026-01-01\n"
    )
    found = refused(tmp_path, event=event)
    assert [p.split(" YAML 1.1 reads ")[0] for p in found] == [
        "event.yml:4: ring_timeout:",
        "event.yml:6: sip: port:",
        "event.yml:7: sip: rtp_start:",
        "event.yml:8: sip: realm:",
        "event.yml:10: test_numbers: echo:",
        "event.yml:12: provisioning: keepalive_interval:",
        "event.yml:13: provisioning: web_user:",
    ]
    assert all("write it in quotes" in p for p in found)


def test_values_yaml_reads_as_written_are_taken(tmp_path):
    event = (
        "name: test-event\n"
        "network: 10.23.0.0/24\n"
        "secret_file: event.secret\n"
        "pbx_address: ~\n"
        "ring_timeout: 25\n"
        "sip:\n"
        "  port: 5061\n"
        "  realm: 'yes'\n"
        "  domain:\n"
        'test_numbers: {hello_world: "0100", echo: 101}\n'
    )
    directory = load_directory(make(tmp_path, event=event))
    event = directory.event
    assert (event.pbx_address, event.ring_timeout, event.sip.port, event.sip.realm, event.sip.domain) == (
        None,
        25,
        5061,
        "yes",
        None,
    )
    assert (event.test_numbers.hello_world, event.test_numbers.echo) == ("0100", "101")


def test_plain_decimal_numbers_true_false_and_null_arrive_as_written():
    doc = yamlload.load("a: 12\nb: -3\nc: 1.5\nd: true\ne: False\nf: ~\ng: null\nh:\ni: 0\nj: text 0100\n")
    assert doc.problems == []
    assert doc.data == {
        "a": 12,
        "b": -3,
        "c": 1.5,
        "d": True,
        "e": False,
        "f": None,
        "g": None,
        "h": None,
        "i": 0,
        "j": "text 0100",
    }


# --- duplicate keys -----------------------------------------------------------------------------


def test_a_key_written_twice_at_the_top_level_is_refused_naming_both_lines(tmp_path):
    assert refused(tmp_path, event=EVENT + "name: other-event\n") == [
        "event.yml:4: name: the key is written twice in one mapping, on line 1 and line 4 (YAML would "
        "silently keep the last one): keep one of them"
    ]


def test_phones_written_twice_is_refused(tmp_path):
    [p] = refused(tmp_path, phones=PHONES + "phones:\n  - {name: saal2, extension: 1002}\n")
    assert p.startswith("phones.yml:4: phones: the key is written twice in one mapping, on line 1 and line 4")


def test_a_key_written_twice_inside_a_phone_is_refused_naming_both_lines(tmp_path):
    assert refused(tmp_path, phones=phone(display_name="Saal 2", extension="1003")) == [
        "phones.yml:7: phone 2 (saal2): extension: the key is written twice in one mapping, on line 5 "
        "and line 7 (YAML would silently keep the last one): keep one of them"
    ]


def test_a_key_written_twice_inside_sip_is_refused_naming_both_lines(tmp_path):
    [p] = refused(tmp_path, event=EVENT + "sip:\n  port: 5060\n  bind: 0.0.0.0\n  port: 5061\n")
    assert p.startswith("event.yml:7: sip: port: the key is written twice in one mapping, on line 5 and line 7")


def test_a_key_written_twice_on_one_line_is_refused(tmp_path):
    [p] = refused(tmp_path, phones="phones:\n  - {name: saal1, extension: 1001, name: saal2}\n")
    assert p.startswith("phones.yml:2: phone 1 (saal2): name: the key is written twice in one mapping, both on line 2")


# --- merge keys, tags, aliases ------------------------------------------------------------------


def test_a_merge_key_is_refused(tmp_path):
    phones = "defaults: &snom {model: snom320}\nphones:\n  - name: saal1\n    extension: 1001\n    <<: *snom\n"
    found = refused(tmp_path, phones=phones)
    assert (
        "phones.yml:5: phone 1 (saal1): <<: '<<' is a YAML merge key, which televoc does not take: write the keys out in full"
        in found
    )


@pytest.mark.parametrize("tag", ["!!binary", "!!python/object:os.system", "!local", "!!timestamp"])
def test_a_non_standard_tag_is_refused(tmp_path, tag):
    [p] = refused(tmp_path, phones=phone(display_name=f"{tag} aGVsbG8="))
    assert (
        p
        == f"phones.yml:6: phone 2 (saal2): display_name: the tag {tag} is not taken here (only plain values, quoted text, lists and mappings): remove it"
    )


def test_a_set_is_refused(tmp_path):
    [p] = refused(tmp_path, phones=phone(display_name="!!set {a, b}"))
    assert "display_name: the tag !!set is not taken here" in p


def test_standard_tags_are_taken_when_they_fit():
    doc = yamlload.load(
        "a: !!str 0100\nb: !!int 12\nc: !!float 1.5\nd: !!bool true\ne: !!null ~\nf: !!map {x: 1}\ng: !!seq [1]\n"
    )
    assert doc.problems == []
    assert doc.data == {"a": "0100", "b": 12, "c": 1.5, "d": True, "e": None, "f": {"x": 1}, "g": [1]}


def test_a_standard_tag_on_a_value_it_would_change_is_refused():
    doc = yamlload.load('a: !!int "0100"\n')
    assert [(p.line, p.path) for p in doc.problems] == [(1, ("a",))]
    assert "the tag !!int does not fit '0100'" in doc.problems[0].text


def test_an_alias_that_holds_itself_is_refused_instead_of_looping():
    doc = yamlload.load("a: &x [1, *x]\n")
    assert [p.text for p in doc.problems] == ["an alias (*) refers to the value that holds it: write the value out"]


def test_an_alias_repeats_a_value_without_copying_it():
    doc = yamlload.load("a: &x {k: v}\nb: *x\n")
    assert doc.problems == [] and doc.data == {"a": {"k": "v"}, "b": {"k": "v"}}


# --- the loader itself --------------------------------------------------------------------------


def test_libyamls_parser_is_used_when_pyyaml_has_it():
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML is built without libyaml")
    assert issubclass(yamlload._Composer, yaml.CSafeLoader)


def test_the_pure_python_fallback_reads_the_same():
    text = (
        "phones:\n  - {name: saal1, extension: 0100, display_name: 'yes'}\n"
        "  - name: saal2\n    extension: 1002\n    ringer: on\n    extension: 1_002\n"
    )
    fast = yamlload.load(text)
    slow = yamlload.load(text, yamlload.composer(yaml.SafeLoader))
    assert fast.data == slow.data
    assert [(p.path, p.line, p.text) for p in fast.problems] == [(p.path, p.line, p.text) for p in slow.problems]
    assert len(fast.problems) == 4


def test_lines_of_values_keys_and_missing_keys_are_found():
    doc = yamlload.load("phones:\n  - name: saal1\n\n    extension: 1001\n")
    assert doc.line(("phones", 0, "extension")) == 4
    assert doc.key_line(("phones", 0, "name")) == 2
    assert doc.line(("phones", 0, "mac")) == 2  # missing: the phone's own line
    assert doc.source(("phones", 0, "extension")) == "1001"


def test_text_that_is_no_yaml_raises_with_its_line():
    with pytest.raises(yamlload.YamlSyntaxError) as info:
        yamlload.load("a: [1\nb: 2\n")
    assert info.value.line == 2


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    make(tmp_path)
    (tmp_path / "phones.yml").write_bytes(PHONES.encode() + "  - name: k\xfcche\n".encode("latin-1"))
    with pytest.raises(EventError) as info:
        load_directory(tmp_path)
    assert info.value.problems == [f"{tmp_path}/phones.yml:4: is not UTF-8 text (byte 0xfc): save it as UTF-8"]
