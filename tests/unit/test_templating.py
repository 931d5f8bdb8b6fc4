"""Templates compiled once and kept between runs: the same text, and a cache that cannot be
used is no cache, never an error."""

import os

import jinja2

from roles.shared import templating


def test_a_template_from_the_cache_renders_what_a_fresh_compile_renders(tmp_path):
    (tmp_path / "t.j2").write_text("{{ header }}: {% for x in xs %}{{ x }},{% endfor %}\n")
    cache = templating._BytecodeCache(str(tmp_path / "cache"))
    os.mkdir(tmp_path / "cache")
    loader = jinja2.FileSystemLoader(str(tmp_path))
    first = (
        jinja2.Environment(loader=loader, bytecode_cache=cache, keep_trailing_newline=True)
        .get_template("t.j2")
        .render(header="h", xs=[1, 2])
    )
    assert os.listdir(tmp_path / "cache")  # compiled and kept
    again = (
        jinja2.Environment(loader=loader, bytecode_cache=cache, keep_trailing_newline=True)
        .get_template("t.j2")
        .render(header="h", xs=[1, 2])
    )
    assert first == again == "h: 1,2,\n"
    (tmp_path / "t.j2").write_text("changed {{ header }}\n")  # a changed source is compiled again
    assert jinja2.Environment(loader=loader, bytecode_cache=cache, keep_trailing_newline=True).get_template(
        "t.j2"
    ).render(header="h") == ("changed h\n")


def test_a_cache_directory_that_is_gone_or_unwritable_only_costs_a_compile(tmp_path):
    (tmp_path / "t.j2").write_text("{{ header }}\n")
    cache = templating._BytecodeCache(str(tmp_path / "no-such-directory"))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(tmp_path)), bytecode_cache=cache, keep_trailing_newline=True
    )
    assert env.get_template("t.j2").render(header="h") == "h\n"


def test_the_roles_render_with_the_cache_in_place():
    assert templating._bytecode_cache() is not None
    text = templating.render(
        templating.__file__.replace("shared/templating.py", "asterisk/render.py"), "etc/asterisk/http.conf.j2"
    )
    assert templating.HEADER in text
