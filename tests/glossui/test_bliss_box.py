"""The Bliss symbol box's handlers as wired on the page (tiny model): a look-up into a spec for
another symbol starts from a blank spec (the default) or keeps the lists, and both statuses say which."""

from __future__ import annotations

import pytest

from core.service import SPEC_FIELDS, Service
from glossui import strings as S
from glossui.bliss_box import other_symbol
from glossui.layout import build_page
from glossui.page import spec_to_texts
from tests.conftest import tiny_spec_dict


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    return build_page(svc)


def _values(page, spec: dict, query: str, lists: str = "blank") -> dict:
    box = page["bliss"]
    texts = spec_to_texts(spec, SPEC_FIELDS)
    return {page.spec_fields[n]: v for n, v in texts.items()} | {box["query"]: query, box["lists"]: lists}


def _value(out: dict, page, name: str):
    return out[page.spec_fields[name]]["value"] if page.spec_fields[name] in out else None


def test_a_look_up_into_another_symbols_spec_starts_blank_by_default(page):
    wool = tiny_spec_dict()
    out = page.fn("bliss_lookup")(_values(page, wool, "16228"))
    assert _value(out, page, "new_token") == "[BLISS_16228]" and _value(out, page, "glosses") == "post office"
    for name in ("positive_contexts", "negative_contexts", "testing_positive_contexts", "fine_tuning_sentences",
                 "validation_sentences"):
        assert _value(out, page, name) == ""
    assert "{placeholder}" in _value(out, page, "generation_prompts")
    assert "blank spec for this symbol" in out[page["bliss"]["status"]] and "symbol 29111" in out[page["bliss"]["status"]]
    assert "A blank spec for Bliss symbol 16228" in out[page["gloss"]["status"]]


def test_keeping_the_lists_says_so_and_the_check_names_the_other_token(page):
    wool = tiny_spec_dict()
    out = page.fn("bliss_lookup")(_values(page, wool, "16228", lists="keep"))
    assert _value(out, page, "positive_contexts") is None            # the lists are left as they were
    assert "Kept the lists of symbol 29111" in out[page["bliss"]["status"]].replace("\\", "")
    assert "[BLISS_29111]" in out[page["bliss"]["status"]].replace("\\", "")
    assert "with the lists kept from symbol 29111" in out[page["gloss"]["status"]]
    mixed = wool | {"symbol_id": "16228", "glosses": ["post office"], "new_token": "[BLISS_16228]"}
    checked = page.fn("check_spec")({page.spec_fields[n]: v for n, v in spec_to_texts(mixed, SPEC_FIELDS).items()})
    text = checked[page["gloss"]["status"]].replace("\\", "")
    assert "use [BLISS_29111], not the new token [BLISS_16228]" in text


def test_the_same_symbol_or_empty_lists_leave_the_lists_alone():
    symbol = {"bci_av_id": 16228, "token_name": "[BLISS_16228]"}
    post = {"symbol_id": "16228", "positive_contexts": ["I posted it at the"],
            "fine_tuning_sentences": ["I posted it at the [BLISS_16228]."]}
    assert other_symbol(post, symbol) is None
    assert other_symbol({"symbol_id": "29111"}, symbol) is None                       # nothing to clear
    assert other_symbol(post | {"symbol_id": ""}, symbol) is None
    typed = post | {"symbol_id": "", "fine_tuning_sentences": ["At the [BLISS_29111] today."]}
    assert other_symbol(typed, symbol) == ("the spec for [BLISS_29111]", ["[BLISS_29111]"])
    assert other_symbol(post | {"symbol_id": "29111"}, symbol) == ("symbol 29111", [])


def test_the_same_symbol_again_keeps_the_lists_and_says_they_are_unchanged(page):
    post = tiny_spec_dict() | {"symbol_id": "16228", "new_token": "[BLISS_16228]", "fine_tuning_sentences": [
        s.replace("[BLISS_29111]", "[BLISS_16228]") for s in tiny_spec_dict()["fine_tuning_sentences"]],
        "validation_sentences": ["My aunt works at the [BLISS_16228] in town."]}
    out = page.fn("bliss_lookup")(_values(page, post, "16228"))
    assert _value(out, page, "positive_contexts") is None
    assert S.BLISS_LISTS_UNCHANGED.rstrip(".") in out[page["bliss"]["status"]].replace("\\", "")
