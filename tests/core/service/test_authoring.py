"""The page's door into the lexicon: plain dicts, targets for the loaded model, InputErrors naming the field."""

from __future__ import annotations

import json

import pytest

from core.authoring.lexicon import load_lexicon, proposed_targets
from core.service import Service
from core.spec.errors import InputError


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    return svc


def test_an_id_gives_the_symbol_with_targets_for_the_loaded_model(service):
    found = service.authoring.bliss_symbol(" 16228 ")
    json.dumps(found)
    symbol = found["symbol"]
    assert found["kind"] == "symbol" and symbol["bci_av_id"] == 16228 and symbol["model"] == "tiny-random"
    tokenizer = service.models.get().tokenizer
    assert (symbol["targets"], symbol["without_target"]) == proposed_targets(load_lexicon().symbol(16228), tokenizer)
    assert symbol["glosses"] == ["post office"] and symbol["token_name"] == "[BLISS_16228]"


def test_without_a_model_no_targets_are_proposed(tmp_path):
    symbol = Service(tiny=True, runs_dir=tmp_path / "runs").authoring.bliss_symbol("12914")["symbol"]
    assert symbol["targets"] is None and symbol["model"] is None and symbol["glosses"] == ["to brush teeth"]


def test_words_give_ranked_matches(service):
    found = service.authoring.bliss_symbol("post office")
    assert found["kind"] == "matches" and found["matches"][0]["bci_av_id"] == 16228
    assert service.authoring.bliss_symbol("zzqx")["matches"] == []


@pytest.mark.parametrize("query, field", [("", "Bliss symbol"), ("99999", "bliss_id")])
def test_bad_queries_name_the_field(service, query, field):
    with pytest.raises(InputError) as err:
        service.authoring.bliss_symbol(query)
    assert err.value.fields == [field]


def _draft_values(**changes) -> dict:
    from tests.app.post_office import NEGATIVES, SENTENCES

    values = {"symbol_id": "16228", "glosses": ["post office"], "new_token": "[BLISS_16228]", "target_tokens": [],
              "notes": "", "sentences": "\n".join(SENTENCES), "negatives": "\n".join(NEGATIVES), "keep": "",
              "corpus": "", "positive_rank": 2000, "negative_rank": 1, "min_context_chars": 40.0, "seed": 0}
    return values | changes


def test_a_draft_from_page_values_is_plain_data_and_seeded(service):
    first = service.authoring.draft(_draft_values())
    json.dumps(first)
    assert first["model"] == "tiny-random" and first["spec"]["target_tokens"] == ["post"]
    assert first["counts"]["positive"]["given"] == 40 and first["counts"]["negative"]["given"] == 15
    assert "Part of speech: noun" in first["spec"]["notes"]     # from the lexicon, by the numeric ID
    assert service.specs.check(first["spec"]) == []
    assert service.authoring.draft(_draft_values())["spec"] == first["spec"]
    # Drafting again from the drafted notes does not pile up drafting lines.
    again = service.authoring.draft(_draft_values(notes=first["spec"]["notes"], seed=1))
    assert again["spec"]["notes"].count("Drafted from") == 1 and again["spec"] != first["spec"]


def test_draft_problems_name_the_field(service):
    with pytest.raises(InputError) as err:
        service.authoring.draft(_draft_values(sentences="No gloss here.\nNor here."))
    assert err.value.fields == ["sentences"]
    with pytest.raises(InputError) as err:
        service.authoring.draft(_draft_values(positive_rank=0))
    assert err.value.fields == ["positive_rank"]
    with pytest.raises(InputError) as err:
        service.authoring.prompts([" "])
    assert err.value.fields == ["glosses"]


def test_chat_prompts_settings_and_warnings(service):
    prompts = service.authoring.prompts(["post office"], "16228")
    assert '"post office"' in prompts["positive"] and "building where mail is processed" in prompts["positive"]
    names = [f["name"] for f in service.settings.describe("draft")]
    assert {"positive_rank", "negative_rank", "seed", "keep"} <= set(names)
    from tests.conftest import tiny_spec_dict

    spec = tiny_spec_dict() | {"generation_prompts": ["A{placeholder} is"]}
    assert [w["field"] for w in service.specs.warnings(spec)] == ["generation_prompts (item 1)"]
    assert service.specs.warnings({"glosses": []}) == []


def test_the_lexicon_s_parts_of_speech_are_listed_once_each(service):
    found = service.authoring.parts_of_speech()
    assert found == sorted({s.pos for s in load_lexicon() if s.pos}) and "noun" in found and "" not in found
