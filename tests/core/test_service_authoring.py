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
    assert svc.load_model(wait=True)["state"] == "ready"
    return svc


def test_an_id_gives_the_symbol_with_targets_for_the_loaded_model(service):
    found = service.bliss_symbol(" 16228 ")
    json.dumps(found)
    symbol = found["symbol"]
    assert found["kind"] == "symbol" and symbol["bci_av_id"] == 16228 and symbol["model"] == "tiny-random"
    tokenizer = service.model.get().tokenizer
    assert (symbol["targets"], symbol["without_target"]) == proposed_targets(load_lexicon().symbol(16228), tokenizer)
    assert symbol["glosses"] == ["post office"] and symbol["token_name"] == "[BLISS_16228]"


def test_without_a_model_no_targets_are_proposed(tmp_path):
    symbol = Service(tiny=True, runs_dir=tmp_path / "runs").bliss_symbol("12914")["symbol"]
    assert symbol["targets"] is None and symbol["model"] is None and symbol["glosses"] == ["to brush teeth"]


def test_words_give_ranked_matches(service):
    found = service.bliss_symbol("post office")
    assert found["kind"] == "matches" and found["matches"][0]["bci_av_id"] == 16228
    assert service.bliss_symbol("zzqx")["matches"] == []


@pytest.mark.parametrize("query, field", [("", "Bliss symbol"), ("99999", "bliss_id")])
def test_bad_queries_name_the_field(service, query, field):
    with pytest.raises(InputError) as err:
        service.bliss_symbol(query)
    assert err.value.fields == [field]
