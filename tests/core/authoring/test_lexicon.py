"""The Bliss lexicon: loading with ``datasets``, lookup, search ranking, compositions, targets and
statistics against a tokenizer (checked against its vocabulary, not against our own encoding)."""

from __future__ import annotations

import json

import pytest

from core.authoring.lexicon import LEXICON_PATH, load_lexicon, lookup, proposed_targets, stats
from core.spec.errors import InputError
from core.spec.gloss import GlossSpec, builtin_examples

FILE = json.loads(LEXICON_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def lexicon():
    return load_lexicon()


_VOCABS: dict = {}


def byte_level_single(tokenizer, word: str) -> bool:
    """Whether `` word`` is one token of a byte-level BPE tokenizer, read off its vocabulary."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    if id(tokenizer) not in _VOCABS:
        _VOCABS[id(tokenizer)] = (tokenizer, set(tokenizer.get_vocab()), bytes_to_unicode())
    _, vocab, table = _VOCABS[id(tokenizer)]
    return "Ġ" + "".join(table[b] for b in word.encode("utf-8")) in vocab


def test_loads_every_entry_in_memory_with_license_and_attribution(lexicon):
    assert len(lexicon) == len(FILE["data"]) == 6420
    assert lexicon.license["type"].startswith("Creative Commons Attribution-ShareAlike 4.0")
    assert set(lexicon.attribution) == {"adaptive-palette", "blissary", "bci-av"}
    assert lexicon.table.num_rows == 6420 and lexicon.table.cache_files == []  # no cache written
    assert load_lexicon() is lexicon  # read once per process
    ids = [s.bci_av_id for s in lexicon]
    assert sum(i is not None for i in ids) == 6411 and len({i for i in ids if i is not None}) == 6411


def test_the_shipped_copy_keeps_the_source_file_unchanged():
    assert set(FILE) == {"license", "attribution", "data"}
    assert (LEXICON_PATH.parent / "README.md").read_text().count("CC BY-SA 4.0") >= 1


def test_symbol_fields_token_name_and_notes(lexicon):
    s = lexicon.symbol(16228)
    assert (s.bci_av_id, s.glosses, s.pos, s.is_character) == (16228, ("post office",), "noun", False)
    assert s.token_name == "[BLISS_16228]" and lexicon.symbol("16228") is s
    assert s.composition == (392, "/", 421)
    notes = s.notes()
    assert "noun" in notes and "building where mail is processed" in notes and "house + letter" in notes
    low = lexicon.symbol(24918)
    assert low.qualifiers == ("height",) and "Qualifiers: height" in low.notes()
    # The wool shop example's token follows the lexicon's naming.
    if "wool_shop" in builtin_examples():
        spec = GlossSpec.load(builtin_examples()["wool_shop"])
        assert lexicon.symbol(int(spec.symbol_id)).token_name == spec.new_token


def test_parts_resolve_the_composition_ids(lexicon):
    by_entry = {e["id"]: e for e in FILE["data"]}
    post_office = lexicon.symbol(16228)
    assert [p.raw_gloss for p in lexicon.parts(post_office)] == [by_entry[392]["gloss"], by_entry[421]["gloss"]]
    # An indicator after ";" is a part too; spacing (RK:…) and letters (X…) are not symbols.
    active = lexicon.symbol(12336)
    assert [p.raw_gloss for p in lexicon.parts(active)] == [by_entry[106]["gloss"], by_entry[86]["gloss"]]
    runes = lexicon.symbol(22830)
    assert runes.composition[:3] == ("Xa", "/", "Xb")
    assert len(lexicon.parts(runes)) == sum(isinstance(x, int) for x in runes.composition)
    assert "letter 'a'" in runes.notes()
    assert lexicon.parts(lexicon.symbol(8484)) == []


@pytest.mark.parametrize("bad, problem", [("abc", "not a BCI-AV ID"), ("", "is empty"), (" 12.5", "not a BCI-AV ID"),
                                          (99999, "no symbol"), (-4, "not a BCI-AV ID")])
def test_bad_ids_name_the_field_and_the_fix(lexicon, bad, problem):
    with pytest.raises(InputError) as err:
        lexicon.symbol(bad)
    (p,) = err.value.problems
    assert p.field == "bliss_id" and problem in p.problem and "lexicon search" in p.fix


def test_search_ranks_exact_then_whole_words_then_prefixes(lexicon):
    hits = lexicon.search("post office")
    assert hits[0][0].bci_av_id == 16228 and hits[0][1] == 1.0
    ids = [s.bci_av_id for s, _ in lexicon.search("wool", limit=5)]
    assert ids[:2] == [18271, 29111]          # "wool" itself, then "… wool shop …"
    verbs = lexicon.search("brush teeth")
    assert verbs[0][0].bci_av_id == 12914     # "to brush teeth" without its "to"
    post = lexicon.search("post", limit=50)
    scores = [score for _, score in post]
    assert scores == sorted(scores, reverse=True)
    ranked = [s.bci_av_id for s, _ in post]
    assert ranked.index(15198) < ranked.index(16228) < ranked.index(16227)  # "post" < "post office" < "postcard"
    assert lexicon.search("POST   Office")[0][0].bci_av_id == 16228
    assert lexicon.search("mail is processed")[0][0].bci_av_id == 16228  # the explanation, last
    assert lexicon.search("zzqx") == []
    assert len(lexicon.search("shop", limit=3)) == 3


@pytest.mark.parametrize("words, limit, field", [("", 20, "words"), ("   ", 20, "words"), ("x" * 300, 20, "words"),
                                                 ("shop", 0, "limit"), ("shop", 1000, "limit")])
def test_bad_searches_name_the_field(lexicon, words, limit, field):
    with pytest.raises(InputError) as err:
        lexicon.search(words, limit=limit)
    assert err.value.fields == [field]


def test_proposed_targets_follow_the_tokenizers_vocabulary(lexicon, tiny):
    _, tokenizer = tiny
    assert proposed_targets(lexicon.symbol(29111), tokenizer) == (["yarn", "wool"], [])
    targets, without = proposed_targets(lexicon.symbol(12914), tokenizer)
    assert targets == ["brush"] and without == []  # a verb's "to" is skipped
    checked = 0
    for symbol in lexicon:
        if symbol.pos == "action" or not all(g.split()[0].isalpha() for g in symbol.glosses):
            continue
        targets, without = proposed_targets(symbol, tokenizer)
        single = [g for g in symbol.glosses if byte_level_single(tokenizer, g.split()[0])]
        assert [g for g in symbol.glosses if g not in single] == without, symbol
        assert {t.casefold() for t in targets} == {g.split()[0].casefold() for g in single}, symbol
        checked += 1
    assert checked > 4000


def test_stats_match_a_count_from_the_vocabulary(lexicon, tiny):
    _, tokenizer = tiny
    got = stats(lexicon, tokenizer)
    single = sum(1 for s in lexicon if any(" " not in g and byte_level_single(tokenizer, g) for g in s.glosses))
    assert got["single_token_gloss"] == single > 0
    assert got["symbols"] == 6420 and got["single_token_gloss"] + got["only_multi_token_glosses"] + got["no_gloss"] == 6420
    assert got["glosses"] == sum(len(s.glosses) for s in lexicon)
    assert got["with_target"] == sum(1 for s in lexicon if proposed_targets(s, tokenizer)[0])


def test_lookup_for_the_page(lexicon, tiny):
    _, tokenizer = tiny
    found = lookup("16228", tokenizer, "tiny-random")
    assert found["kind"] == "symbol" and found["symbol"]["token_name"] == "[BLISS_16228]"
    assert found["symbol"]["targets"] == proposed_targets(lexicon.symbol(16228), tokenizer)[0]
    json.dumps(found)  # plain values only
    assert found["symbol"]["description"] == "building + letter: building where mail is processed"
    assert found["symbol"]["generation_prompts"][0] == "At the {placeholder} you can"   # a noun's prompts
    many = lookup("14961")["symbol"]  # ten glosses: the spec takes eight
    assert len(many["glosses"]) == 8 and many["cut"]["glosses"] == ["plain", "plainly"] and many["targets"] is None
    matches = lookup("post office")
    assert matches["kind"] == "matches" and matches["matches"][0]["bci_av_id"] == 16228
    with pytest.raises(InputError) as err:
        lookup("  ")
    assert err.value.fields == ["Bliss symbol"]


@pytest.mark.slow
def test_stats_for_the_default_model_match_its_vocabulary(lexicon, default_model):
    tokenizer = default_model.tokenizer
    got = stats(lexicon, tokenizer)
    single = sum(1 for s in lexicon if any(" " not in g and byte_level_single(tokenizer, g) for g in s.glosses))
    assert got["single_token_gloss"] == single
    assert got["only_multi_token_glosses"] == 6420 - single - got["no_gloss"]
    post_office = lexicon.symbol(16228)
    assert proposed_targets(post_office, tokenizer) == (["post"], [])
