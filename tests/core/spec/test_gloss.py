"""Gloss spec validation: every problem at once, each naming its field and the fix."""

from __future__ import annotations

import json

import pytest

from core.spec import limits
from core.spec.errors import InputError
from core.spec.gloss import GlossSpec, check_spec, validate_for_tokenizer
from tests.conftest import TOKEN, tiny_spec_dict


def problems_of(data: dict, tokenizer=None) -> dict[str, str]:
    """{field: problem text} for a spec that must be invalid."""
    with pytest.raises(InputError) as err:
        check_spec(data, tokenizer)
    return {p.field: f"{p.problem} — {p.fix}" for p in err.value.problems}


def test_valid_spec_builds_and_defaults_the_token(spec_dict, tiny):
    spec = check_spec(spec_dict, tiny[1])
    assert spec.new_token == TOKEN
    data = dict(spec_dict, new_token="")
    assert GlossSpec.from_dict(data).new_token == "[BLISS_29111]"
    assert spec.gloss_texts == [" wool shop", " yarn shop"]
    assert spec.target_texts == [" wool", " yarn"]


def test_every_structural_problem_is_reported_at_once(spec_dict):
    data = spec_dict
    data["glosses"] = ["wool shop", "   "]
    data["positive_contexts"] = data["positive_contexts"][:2]
    data["fine_tuning_sentences"][1] = "The shop sells wool in many colours."
    data["generation_prompts"][0] = "At the shop you can buy"
    data["negative_contexts"].append(data["negative_contexts"][0])
    data["validation_sentences"][0] = "x" * (limits.TEXT_CHARS + 1)
    found = problems_of(data)
    assert set(found) == {
        "glosses (item 2)",
        "positive_contexts",
        "fine_tuning_sentences (item 2)",
        "generation_prompts (item 1)",
        "negative_contexts (item 4)",
        "validation_sentences (item 1)",
    }
    assert "empty" in found["glosses (item 2)"]
    assert "needs at least 3" in found["positive_contexts"]
    assert TOKEN in found["fine_tuning_sentences (item 2)"]
    assert "{placeholder}" in found["generation_prompts (item 1)"]
    assert "repeats item 1" in found["negative_contexts (item 4)"]
    assert str(limits.TEXT_CHARS) in found["validation_sentences (item 1)"]


def test_duplicate_glosses_ignore_case(spec_dict):
    spec_dict["glosses"] = ["wool shop", "Wool Shop"]
    assert "repeats item 1" in problems_of(spec_dict)["glosses (item 2)"]


def test_too_many_items_names_the_limit(spec_dict):
    hi = limits.COUNTS["generation_prompts"][1]
    spec_dict["generation_prompts"] = [f"Prompt {i} about the {{placeholder}}" for i in range(hi + 1)]
    assert f"limit of {hi}" in problems_of(spec_dict)["generation_prompts"]


def test_over_long_gloss_in_characters_and_in_tokens(spec_dict, tiny):
    spec_dict["glosses"] = ["w" * (limits.GLOSS_CHARS + 1)]
    assert str(limits.GLOSS_CHARS) in problems_of(spec_dict)["glosses (item 1)"]
    data = tiny_spec_dict()
    data["glosses"] = [" ".join(["zq"] * (limits.GLOSS_TOKENS + 1))]
    assert f"limit of {limits.GLOSS_TOKENS}" in problems_of(data, tiny[1])["glosses (item 1)"]


def test_context_with_the_token_is_refused(spec_dict):
    spec_dict["positive_contexts"][0] = f"She went to the {TOKEN} and the"
    assert "contains the new token" in problems_of(spec_dict)["positive_contexts (item 1)"]


def test_held_out_contexts_must_be_held_out(spec_dict):
    spec_dict["testing_positive_contexts"][0] = spec_dict["positive_contexts"][0]
    assert "also a training context" in problems_of(spec_dict)["testing_positive_contexts (item 1)"]


def test_token_already_in_the_vocabulary(spec_dict, tiny):
    tokenizer = tiny[1]
    spec_dict["new_token"] = tokenizer.eos_token
    spec_dict["fine_tuning_sentences"] = [s.replace(TOKEN, tokenizer.eos_token) for s in spec_dict["fine_tuning_sentences"]]
    spec_dict["validation_sentences"] = [s.replace(TOKEN, tokenizer.eos_token) for s in spec_dict["validation_sentences"]]
    found = problems_of(spec_dict, tokenizer)
    assert "already exists" in found["new_token"]


def test_multi_token_target_names_its_sub_tokens(spec_dict, tiny):
    tokenizer = tiny[1]
    spec_dict["target_tokens"] = ["wool", "knitwearzz"]
    pieces = [tokenizer.decode([i]) for i in tokenizer.encode(" knitwearzz", add_special_tokens=False)]
    assert len(pieces) > 1
    message = problems_of(spec_dict, tokenizer)["target_tokens (item 2)"]
    assert f"{len(pieces)} tokens" in message
    for piece in pieces:
        assert repr(piece) in message


def test_tokenizer_problems_are_collected_together(spec_dict, tiny):
    tokenizer = tiny[1]
    spec_dict["target_tokens"] = ["knitwearzz", "crochetqq"]
    spec = GlossSpec.from_dict(spec_dict)
    fields = [p.field for p in validate_for_tokenizer(spec, tokenizer)]
    assert fields == ["target_tokens (item 1)", "target_tokens (item 2)"]


def test_json_round_trip(tiny_spec, tmp_path):
    again = GlossSpec.from_json(tiny_spec.to_json())
    assert again == tiny_spec
    path = tiny_spec.save(tmp_path / "spec.json")
    assert GlossSpec.load(path) == tiny_spec
    assert json.loads(path.read_text(encoding="utf-8"))["glosses"] == ["wool shop", "yarn shop"]


@pytest.mark.parametrize("text, field", [
    ('{"symbol_id": "1", "glosses": ["a"', "spec file"),
    ("[1, 2]", "spec"),
    (b"\xff\xfe{}", "spec file"),
])
def test_malformed_json_names_the_file(text, field):
    with pytest.raises(InputError) as err:
        GlossSpec.from_json(text)
    assert err.value.fields == [field]
    assert err.value.problems[0].fix


def test_malformed_json_says_where(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "symbol_id": "1",\n  "glosses": ["a",]\n}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        GlossSpec.load(path)
    assert "line 3" in str(err.value)


def test_missing_file_and_missing_fields(tmp_path, spec_dict):
    with pytest.raises(InputError) as err:
        GlossSpec.load(tmp_path / "nope.json")
    assert err.value.fields == ["spec file"]
    del spec_dict["target_tokens"], spec_dict["glosses"]
    spec_dict["colour"] = "red"
    found = problems_of(spec_dict)
    assert {"target_tokens", "glosses"} <= set(found)
    assert "missing" in found["glosses"]
    unknown = [field for field in found if "colour" in field]
    assert unknown and "not a field" in found[unknown[0]]


def test_a_placeholder_glued_to_a_letter_is_a_warning_not_a_problem(spec_dict):
    from core.spec.gloss import spec_warnings

    spec_dict["generation_prompts"] = ["A{placeholder} is", "At the {placeholder} you can buy", "({placeholder})",
                                       "Room 4{placeholder} is"]
    spec = GlossSpec.from_dict(spec_dict)  # still valid
    warnings = spec_warnings(spec)
    assert [w.field for w in warnings] == ["generation_prompts (item 1)", "generation_prompts (item 4)"]
    assert "'Awool shop is'" in warnings[0].problem and "space before {placeholder}" in warnings[0].fix
    spec_dict["generation_prompts"] = ["At the {placeholder} you can buy"]
    assert spec_warnings(GlossSpec.from_dict(spec_dict)) == []


def test_sentences_with_another_symbols_token_are_named_once_per_field(spec_dict):
    """A look-up that changed the token but kept another symbol's lists: one problem per field saying so."""
    mixed = spec_dict | {"symbol_id": "16228", "new_token": "[BLISS_16228]"}
    with pytest.raises(InputError) as err:
        GlossSpec.from_dict(mixed)
    by_field = {p.field: p for p in err.value.problems}
    assert set(by_field) == {"fine_tuning_sentences", "validation_sentences"}
    assert by_field["fine_tuning_sentences"].problem == "4 of 4 use [BLISS_29111], not the new token [BLISS_16228]"
    assert "another symbol" in by_field["fine_tuning_sentences"].fix


def test_a_valid_spec_naming_another_token_is_warned_about(spec_dict):
    from core.spec.gloss import spec_warnings

    spec = GlossSpec.from_dict(spec_dict | {"fine_tuning_sentences": spec_dict["fine_tuning_sentences"][:3] + [
        "The [BLISS_29111] next to the [BLISS_16228] closed."], "positive_contexts": spec_dict["positive_contexts"] + [
        "Next to the [BLISS_16228] is the"]})
    warnings = {w.field: w for w in spec_warnings(spec)}
    assert warnings["fine_tuning_sentences"].problem == "1 of 4 use [BLISS_16228], not the new token [BLISS_29111]"
    assert warnings["positive_contexts"].problem == "1 of 6 use [BLISS_16228], not the new token [BLISS_29111]"
    assert spec_warnings(GlossSpec.from_dict(spec_dict)) == []


def test_the_description_is_optional_bounded_and_written_only_when_given(spec_dict):
    from core.spec import limits

    plain = GlossSpec.from_dict(spec_dict)
    assert plain.description == "" and "description" not in plain.to_dict()
    described = GlossSpec.from_dict(spec_dict | {"description": "  building where wool is sold "})
    assert described.description == "building where wool is sold"
    assert GlossSpec.from_json(described.to_json()).to_dict() == described.to_dict()
    assert GlossSpec.from_dict(spec_dict | {"description": None}).description == ""   # a datasets column's gap
    for bad in ("x" * (limits.DESCRIPTION_CHARS + 1), 3):
        with pytest.raises(InputError) as err:
            GlossSpec.from_dict(spec_dict | {"description": bad})
        assert err.value.fields == ["description"]
