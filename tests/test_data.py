"""The built-in gloss specs in data/: complete, valid for both tokenizers, and good data for the default model.

"Good data" is measured, not assumed: on SmolLM2-135M-Instruct a target token must really rank high
as the next token after the testing-positive contexts and low after the testing-negative ones, and
for the wool shop the least-squares output row (method.md, Step 1a) must already put the new token
near the top after positive contexts and far down after negative ones (the issue's acceptance bar).
"""

from __future__ import annotations

import statistics

import pytest
import torch

from core.model.tiny import CORPUS_SPECS
from core.spec.gloss import GlossSpec, builtin_examples, check_spec, load_example

EXAMPLES = ("wool_shop", "to_brush_teeth", "lowness_shortness", "petrol_station", "to_wash_up", "ice_cream")

# The minimum size of every built-in spec (the list); the spec format itself allows less.
MINIMUM_COUNTS = {
    "positive_contexts": 30,
    "negative_contexts": 15,
    "validation_contexts": 10,
    "testing_positive_contexts": 10,
    "testing_negative_contexts": 5,
    "fine_tuning_sentences": 60,
    "validation_sentences": 15,
    "generation_prompts": 8,
}

SYMBOLS = {"wool_shop": "29111", "to_brush_teeth": "12914", "lowness_shortness": "24918",
           "petrol_station": "29642", "to_wash_up": "23705", "ice_cream": "22369"}


def test_every_example_is_shipped():
    assert set(EXAMPLES) <= set(builtin_examples())


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_loads_and_round_trips(name):
    spec = load_example(name)
    again = GlossSpec.from_json(spec.to_json())
    assert again == spec
    assert again.to_json() == spec.to_json()
    # The file is stored exactly as the app would save it, so a saved copy diffs cleanly.
    assert builtin_examples()[name].read_text(encoding="utf-8") == spec.to_json()


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_meets_minimum_counts(name):
    spec = load_example(name)
    counts = {field: len(getattr(spec, field)) for field in MINIMUM_COUNTS}
    short = {field: n for field, n in counts.items() if n < MINIMUM_COUNTS[field]}
    assert not short, f"{name}: too few items {short}"
    assert len(spec.glosses) >= 2 and spec.notes.strip()


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_symbol_token_and_sentences(name):
    spec = load_example(name)
    assert spec.symbol_id == SYMBOLS[name]
    assert spec.new_token == f"[BLISS_{SYMBOLS[name]}]"
    for sentence in spec.fine_tuning_sentences + spec.validation_sentences:
        assert sentence.count(spec.new_token) == 1, sentence
    for prompt in spec.generation_prompts:
        assert prompt.count("{placeholder}") == 1, prompt
        # Prompts are written naturally: the gloss follows a word and keeps the space before it.
        assert " {placeholder}" in prompt or prompt.startswith("{placeholder}"), prompt


@pytest.mark.parametrize("name", CORPUS_SPECS)
def test_example_validates_for_tiny_tokenizer(name, tiny):
    """The tiny test model's tokenizer is learned from these built-ins (``core.model.tiny.CORPUS_SPECS``),
    so they validate with it; every built-in validates with the default model below."""
    _, tokenizer = tiny
    spec = check_spec(load_example(name), tokenizer)
    for text in spec.target_texts:
        assert len(tokenizer.encode(text, add_special_tokens=False)) == 1, text


# -- on the embedded default model -----------------------------------------------------------


@torch.no_grad()
def _last_position(model, tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(hidden [N, D], logits [N, V]) at each text's last real token, in float64.

    One right-padded batch: with causal attention, padding after a text does not change its
    positions, so the last real position sees exactly what it would see alone.
    """
    encoded = [tokenizer.encode(t, add_special_tokens=False) for t in texts]
    width = max(len(ids) for ids in encoded)
    input_ids = torch.zeros(len(texts), width, dtype=torch.long)
    mask = torch.zeros(len(texts), width, dtype=torch.long)
    for row, ids in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
    out = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
    last = torch.tensor([len(ids) - 1 for ids in encoded])
    rows = torch.arange(len(texts))
    return out.hidden_states[-1][rows, last].double(), out.logits[rows, last].double()


def _rank(logits: torch.Tensor, value: torch.Tensor) -> int:
    """1 + how many vocabulary logits are strictly higher (1 = top)."""
    return int((logits > value).sum()) + 1


def _target_ids(spec, tokenizer) -> list[int]:
    return [tokenizer.encode(t, add_special_tokens=False)[0] for t in spec.target_texts]


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_validates_for_default_tokenizer(name, default_model):
    check_spec(load_example(name), default_model.tokenizer)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_targets_rank_high_after_positive_and_low_after_negative_contexts(name, default_model):
    model, tokenizer = default_model.model, default_model.tokenizer
    spec = load_example(name)
    ids = _target_ids(spec, tokenizer)

    _, logits = _last_position(model, tokenizer, spec.testing_positive_contexts)
    best = [min(_rank(row, row[i]) for i in ids) for row in logits]
    assert statistics.median(best) <= 10, dict(zip(spec.testing_positive_contexts, best))

    _, logits = _last_position(model, tokenizer, spec.testing_negative_contexts)
    for context, row in zip(spec.testing_negative_contexts, logits):
        ranks = {word: _rank(row, row[i]) for word, i in zip(spec.target_tokens, ids)}
        assert min(ranks.values()) > 100, (context, ranks)


@pytest.mark.slow
def test_wool_shop_least_squares_output_row_separates_testing_contexts(default_model):
    """method.md Step 1a, computed here independently of core: the data must support the acceptance bar."""
    model, tokenizer = default_model.model, default_model.tokenizer
    spec = load_example("wool_shop")
    ids = _target_ids(spec, tokenizer)
    h_pos, l_pos = _last_position(model, tokenizer, spec.positive_contexts)
    h_neg, _ = _last_position(model, tokenizer, spec.negative_contexts)
    h = torch.cat([h_pos, h_neg])
    t = torch.cat([l_pos[:, ids].max(dim=1).values, torch.full((len(h_neg),), -10.0, dtype=torch.float64)])
    w = torch.linalg.pinv(h) @ t  # minimum-norm least squares

    def ranks(contexts):
        hidden, logits = _last_position(model, tokenizer, contexts)
        return [_rank(row, new) for row, new in zip(logits, hidden @ w)]

    positive = ranks(spec.testing_positive_contexts)
    negative = ranks(spec.testing_negative_contexts)
    assert statistics.median(positive) <= 5, positive
    assert min(negative) >= 100, negative
