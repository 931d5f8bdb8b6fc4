"""docs/reference.md is generated from the model's fields and the roles' settings (one
source): it must be what `python -m roles.reference` writes now, and name every key."""

from roles import reference
from roles.event.model import Event, Forward, GroupEntry, Member, PhoneEntry, Trunk, Venue


def test_the_reference_in_docs_is_current():
    assert reference.DOC.read_text(encoding="utf-8") == reference.render(), (
        "docs/reference.md is stale: run python -m roles.reference and commit it"
    )


def test_every_key_of_the_model_has_a_row_with_its_meaning():
    text = reference.render()
    for model, prefix in (
        (Event, ""),
        (Trunk, "trunk."),
        (Venue, "venues.<name>."),
        (PhoneEntry, ""),
        (GroupEntry, ""),
        (Member, ""),
        (Forward, "forward."),
    ):
        for name, field in model.model_fields.items():
            assert f"| `{prefix}{name}` | {field.json_schema_extra['doc']}" in text.replace("\\\\|", "|"), (model, name)


def test_the_check_mode_says_stale_and_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(reference, "DOC", tmp_path / "reference.md")
    (tmp_path / "reference.md").write_text("old\n")
    assert reference.main(["--check"]) == 1
    assert "is stale: run python -m roles.reference" in capsys.readouterr().err
    assert reference.main([]) == 0 and reference.main(["--check"]) == 0
