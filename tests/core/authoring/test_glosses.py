"""Gloss parsing on real lexicon entries (by BCI-AV ID) and on the forms the lexicon could hold."""

from __future__ import annotations

import json

import pytest

from core.authoring.glosses import bare_gloss, parse_gloss, split_synonyms
from core.authoring.lexicon import LEXICON_PATH

RAW = {e["bciAvId"]: e["gloss"] for e in json.loads(LEXICON_PATH.read_text(encoding="utf-8"))["data"]
       if "bciAvId" in e}

# BCI-AV ID → (glosses, qualifiers, markers), read off the raw gloss by hand.
REAL = {
    16228: (["post office"], [], []),
    24918: (["lowness", "shortness"], ["height"], []),
    12914: (["to brush teeth"], [], []),
    8484: (["percent", "percentage", "%"], [], []),
    8496: (["zero", "0"], ["digit"], []),
    8497: (["one", "1", "modifier"], ["digit", "first person"], []),
    18231: (["what"], ["thing", "question"], []),
    13626: (["curtain", "curtains", "drape", "drapes"], [], []),
    14961: (["apparent", "apparently", "clear", "clearly", "evident", "evidently", "obvious", "obviously",
             "plain", "plainly"], [], []),
    25986: (["church ruin", "temple ruin", "wreck", "wreckage"], ["church, temple, mosque", "1"], []),
    26282: (["brace", "braces", "dental brace", "dental braces"], ["dental", "medical"], []),
    29027: (["date"], ["1"], []),
    25075: (["hiccup", "hiccups"], ["1"], []),
    29326: (["picture"], [], ["SYN"]),
    24509: (["short message system", "text message"], ["SMS"], []),
    21807: (["rugby ball", "football"], ["N.A."], []),
    23582: (["man doll"], ["e.g. Ken"], []),
    17978: (["unit", "example", "sample", "for example", "e.g."], [], []),
    23891: (["kebab"], ["UK, NL"], []),
    23903: (["MP3 player", "iPod"], ["etc"], []),
    24769: (["Take your time!"], [], []),
    15197: (["let us", "let's"], [], []),
    29111: (["yarn shop", "yarn store", "wool shop", "wool store"], [], []),
    16205: (["pliers", "tongs", "tweezer", "tweezers", "pincer", "pincers"], ["pair of"], []),
    25669: (["brother-in-law"], ["husband's brother"], []),
}


@pytest.mark.parametrize("bci_av_id", sorted(REAL))
def test_real_entries(bci_av_id):
    glosses, qualifiers, markers = REAL[bci_av_id]
    parsed = parse_gloss(RAW[bci_av_id])
    assert (list(parsed.glosses), list(parsed.qualifiers), list(parsed.markers)) == (glosses, qualifiers, markers)


def test_every_real_gloss_parses_to_clean_synonyms():
    for bci_av_id, raw in RAW.items():
        parsed = parse_gloss(raw)
        assert parsed.glosses, (bci_av_id, raw)
        for gloss in parsed.glosses:
            assert gloss == gloss.strip() and "  " not in gloss and not gloss.endswith("-"), (bci_av_id, gloss)
            assert "(" not in gloss and ")" not in gloss, (bci_av_id, gloss)
        assert len({g.casefold() for g in parsed.glosses}) == len(parsed.glosses), (bci_av_id, raw)


def test_markers_numbers_and_odd_punctuation():
    assert parse_gloss("house (OLD)").markers == ("OLD",)
    assert parse_gloss("house (OLD)").glosses == ("house",)
    assert parse_gloss("cat, kitten (OLD) (young)") == parse_gloss("cat, kitten (young) (OLD)")
    assert split_synonyms("1,000, thousand") == ["1,000", "thousand"]
    assert split_synonyms("a, b (c, d), e") == ["a", "b (c, d)", "e"]
    assert parse_gloss("a (nested (deep) note), b").glosses == ("a", "b")
    assert parse_gloss("a (nested (deep) note), b").qualifiers == ("nested (deep) note",)
    assert parse_gloss("broken (unclosed").glosses == ("broken unclosed",)
    assert parse_gloss(" ,, ").glosses == ()
    assert parse_gloss("Shop, shop").glosses == ("Shop",)


def test_bare_gloss_drops_only_a_leading_to():
    assert bare_gloss("to brush teeth") == "brush teeth"
    assert bare_gloss("tomato") == "tomato"
    assert bare_gloss("to") == "to"
