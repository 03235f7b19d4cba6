"""core/spec/limits.py: every range is well-formed and the page's description covers every count."""

from __future__ import annotations

import math

from core.spec import limits
from core.spec.gloss import GlossSpec
from tests.conftest import tiny_spec_dict


def _ranges() -> dict[str, tuple]:
    return {name: value for name, value in vars(limits).items()
            if name.isupper() and isinstance(value, tuple) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)}


def test_every_range_is_low_to_high():
    ranges = _ranges()
    # The ranges the settings and the generation length are checked against are all here.
    assert {"LEARNING_RATE", "EPOCHS", "BATCH_SIZE", "GRAD_ACCUM", "LORA_RANK", "DROPOUT", "SEEDS",
            "GENERATION_MAX_NEW_TOKENS"} <= set(ranges)
    for name, (lo, hi) in ranges.items():
        assert math.isfinite(lo) and math.isfinite(hi), name
        assert lo <= hi, name
    for name, (lo, hi) in limits.COUNTS.items():
        assert isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi, name
    assert limits.LEARNING_RATE[0] > 0  # a learning rate must be positive
    assert 0 < limits.MODEL_MEMORY_FRACTION <= 1


def test_per_item_limits_are_positive_and_ordered():
    for name in ("TEXT_CHARS", "GLOSS_CHARS", "SYMBOL_ID_CHARS", "TOKEN_NAME_CHARS", "NOTES_CHARS",
                 "GLOSS_TOKENS", "CONTEXT_TOKENS", "SENTENCE_TOKENS", "SPEC_FILE_BYTES"):
        assert isinstance(getattr(limits, name), int) and getattr(limits, name) > 0, name
    assert limits.GLOSS_CHARS <= limits.TEXT_CHARS
    assert limits.GLOSS_TOKENS <= limits.CONTEXT_TOKENS <= limits.SENTENCE_TOKENS


def test_describe_covers_every_count():
    rows = limits.describe()
    assert all(isinstance(what, str) and isinstance(limit, str) and what and limit for what, limit in rows)
    described = dict(rows)
    for name, (lo, hi) in limits.COUNTS.items():
        what = name.replace("_", " ")
        assert what in described, name
        assert described[what] == f"{lo} to {hi} items"
    text = " ".join(limit for _, limit in rows)
    for value in (limits.GLOSS_CHARS, limits.TEXT_CHARS, limits.TOKEN_NAME_CHARS, limits.GLOSS_TOKENS,
                  limits.CONTEXT_TOKENS, limits.SENTENCE_TOKENS):
        assert str(value) in text
    for value in (limits.VOCAB_SYMBOLS[1], limits.VOCAB_FINE_TUNING_SENTENCES, limits.DRAFT_LINES,
                  limits.DRAFT_GENERATE[1], limits.DRAFT_CORPUS_SENTENCES[1]):  # vocabularies and drafting too
        assert f"{value:,}" in text or str(value) in text, value
    assert f"{limits.CORPUS_BYTES // 1_000_000} MB" in text
    assert len({what for what, _ in rows}) == len(rows)  # no limit listed twice


def test_the_counts_are_the_ones_the_spec_enforces():
    """Every COUNTS key is a list field of the spec, and one item too many is refused naming it."""
    from core.spec.errors import InputError

    data = tiny_spec_dict()
    assert set(limits.COUNTS) <= set(data)
    lo, hi = limits.COUNTS["glosses"]
    too_many = dict(data, glosses=[f"gloss {chr(97 + i)}" for i in range(hi + 1)])
    try:
        GlossSpec.from_dict(too_many)
    except InputError as err:
        assert "glosses" in err.fields
    else:
        raise AssertionError("a spec with one gloss too many was accepted")


def test_a_vocabulary_may_hold_the_whole_lexicon():
    import json

    from core.authoring.lexicon import LEXICON_PATH

    assert limits.VOCAB_SYMBOLS[1] == len(json.loads(LEXICON_PATH.read_text(encoding="utf-8"))["data"])
