"""Evaluation on a tiny random Llama, checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.experiment.single import evaluate as ev
from core.model.tokens import add_token, decode
from tests.conftest import TOKEN


@pytest.fixture
def tiny_with_token(tiny, tiny_spec):
    model, tokenizer = tiny
    g = torch.Generator().manual_seed(5)
    hidden = model.config.hidden_size
    # The output row points along the first testing context's last hidden state (plus noise), so
    # the new token ranks near the top there and lower elsewhere: ranks spread over the range.
    ids = tokenizer.encode(tiny_spec.testing_positive_contexts[0], add_special_tokens=False)
    with torch.no_grad():
        h = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0, -1]
    direction = h / h.norm() + 0.5 * torch.randn(hidden, generator=g) / hidden**0.5
    scale = 0.3 * float(model.get_output_embeddings().weight.detach().norm(dim=1).mean())
    token_id = add_token(model, tokenizer, TOKEN, torch.randn(hidden, generator=g), scale * direction)
    return model, tokenizer, tiny_spec, token_id


def _last_logits(model, tokenizer, text: str) -> np.ndarray:
    """Independent: one unpadded full forward pass, logits at the last position."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, -1].double().numpy()


def _rank_by_argsort(logits: np.ndarray, token_id: int) -> int:
    order = np.argsort(-logits, kind="stable")
    return int(np.nonzero(order == token_id)[0][0]) + 1


def test_ranks_and_top5_match_an_independent_argsort(tiny_with_token):
    model, tokenizer, spec, token_id = tiny_with_token
    rows = ev.rank_table(model, tokenizer, spec, token_id)
    contexts = spec.testing_positive_contexts + spec.testing_negative_contexts
    assert [r["context"] for r in rows] == contexts
    assert [r["kind"] for r in rows] == ["positive"] * 2 + ["negative"] * 2
    target_ids = {w: tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" " + w))[0] for w in spec.target_tokens}
    for row in rows:
        logits = _last_logits(model, tokenizer, row["context"])
        assert logits.shape[0] == len(tokenizer)  # every candidate, the new token included
        assert row["rank_new_token"] == _rank_by_argsort(logits, token_id)
        assert row["rank_targets"] == {w: _rank_by_argsort(logits, i) for w, i in target_ids.items()}
        top = np.argsort(-logits, kind="stable")[:5]
        assert [t["token"] for t in row["top5"]] == [tokenizer.decode([int(i)]) for i in top]
        assert [t["logit"] for t in row["top5"]] == pytest.approx(logits[top].tolist(), abs=1e-3)
    assert len({r["rank_new_token"] for r in rows}) > 1, "ranks should differ between contexts"


def test_equal_logits_share_the_better_rank():
    logits = torch.tensor([[1.0, 3.0, 3.0, 0.0]])
    assert [int(ev.ranks_of(logits, i)) for i in range(4)] == [3, 1, 1, 4]


def test_padding_rows_of_the_output_matrix_are_not_candidates(tiny_with_token):
    model, tokenizer, spec, token_id = tiny_with_token
    before = ev.rank_table(model, tokenizer, spec, token_id)
    model.resize_token_embeddings(len(tokenizer) + 8, mean_resizing=False)
    with torch.no_grad():  # rows no text can produce, made to win every context
        model.get_output_embeddings().weight[len(tokenizer):] = 50 * model.get_output_embeddings().weight[token_id]
    after = ev.rank_table(model, tokenizer, spec, token_id)
    assert [r["rank_new_token"] for r in after] == [r["rank_new_token"] for r in before]


def test_quality_by_hand():
    rows = [
        {"kind": "positive", "rank_new_token": 1},
        {"kind": "positive", "rank_new_token": 2},
        {"kind": "positive", "rank_new_token": 4},
        {"kind": "negative", "rank_new_token": 100},
        {"kind": "negative", "rank_new_token": 300},
    ]
    q = ev.quality(rows)
    assert q["mrr_positive"] == pytest.approx((1 + 1 / 2 + 1 / 4) / 3, abs=1e-4)
    assert q["median_rank_positive"] == 2
    assert q["median_rank_negative"] == 200
    assert ev.quality([])["mrr_positive"] is None


def _greedy_by_hand(model, tokenizer, text: str, n: int) -> list[int]:
    ids = tokenizer.encode(text, add_special_tokens=False)
    new = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax())
            if nxt == tokenizer.eos_token_id:
                break
            new.append(nxt)
    return new


def test_generations_are_greedy_and_side_by_side(tiny_with_token):
    model, tokenizer, spec, token_id = tiny_with_token
    rows = ev.generations(model, tokenizer, spec, token_id, max_new_tokens=8)
    assert [r["prompt"] for r in rows] == spec.generation_prompts
    for row in rows:
        gloss_prompt = spec.fill(row["prompt"], spec.glosses[0])
        token_prompt = spec.fill(row["prompt"], TOKEN)
        assert row["with_gloss"].startswith(gloss_prompt)
        # The token absorbed the space before it; decoding puts it back.
        assert row["with_token"].startswith(token_prompt) and f" {TOKEN}" in row["with_token"]
        for text, key in ((gloss_prompt, "continuation_with_gloss"), (token_prompt, "continuation_with_token")):
            expected = _greedy_by_hand(model, tokenizer, text, 8)
            assert row[key] == decode(tokenizer, expected, TOKEN)
    assert ev.generations(model, tokenizer, spec, token_id, max_new_tokens=8) == rows


def test_generation_reports_every_step_of_every_batch_and_generates_the_same(tiny_with_token):
    model, tokenizer, spec, token_id = tiny_with_token
    prompts = [spec.fill(p, spec.glosses[0]) for p in spec.generation_prompts] * 2
    plain = ev.greedy_generate(model, tokenizer, prompts, max_new_tokens=5, batch_size=2)
    calls = []
    counted = ev.greedy_generate(model, tokenizer, prompts, max_new_tokens=5, batch_size=2,
                                 on_token=lambda done, total: calls.append((done, total)))
    assert counted == plain
    batches = -(-len(prompts) // 2)
    assert {total for _, total in calls} == {batches * 5}
    # Within a batch the count rises by one a step; batch b starts after b * 5 steps.
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and len(dones) == len(set(dones))
    for b in range(batches):
        mine = [d - b * 5 for d in dones if b * 5 < d <= (b + 1) * 5]
        assert mine == list(range(1, len(mine) + 1)) and mine   # every batch reports from its first step on


def test_generation_similarity():
    same = {"continuation_with_gloss": "a b c d", "continuation_with_token": "a b c d"}
    half = {"continuation_with_gloss": "a b c d", "continuation_with_token": "a b x y"}
    assert ev.generation_similarity([same]) == 1.0
    assert ev.generation_similarity([same, half]) == pytest.approx((1 + 0.5) / 2)
    assert ev.generation_similarity([]) is None


def test_nearest_tokens_by_cosine_exclude_the_token(tiny_with_token):
    model, tokenizer, _, token_id = tiny_with_token
    wool = tokenizer.encode(" wool", add_special_tokens=False)[0]
    with torch.no_grad():
        inp = model.get_input_embeddings().weight
        inp[token_id] = inp[wool] + 0.01 * torch.randn(inp.shape[1], generator=torch.Generator().manual_seed(1))
    near = ev.nearest_tokens(model, tokenizer, token_id, k=4)
    assert near["input"][0]["token_id"] == wool
    for side, matrix in (("input", model.get_input_embeddings().weight),
                         ("output", model.get_output_embeddings().weight)):
        m = matrix.detach().double().numpy()
        with np.errstate(invalid="ignore"):  # the padding row is all zeros: cosine 0 by convention
            cos = np.nan_to_num(m @ m[token_id] / (np.linalg.norm(m, axis=1) * np.linalg.norm(m[token_id])))
        cos[token_id] = -np.inf
        expected = np.argsort(-cos, kind="stable")[:4].tolist()
        assert [n["token_id"] for n in near[side]] == expected
        assert [n["cosine"] for n in near[side]] == pytest.approx(cos[expected].tolist(), abs=1e-4)
        assert token_id not in [n["token_id"] for n in near[side]]


def test_cosine_matrix_by_hand():
    a, b, c = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([-2.0, 0.0])
    m = ev.cosine_matrix({"a": a, "b": b, "c": c})
    assert m["a"]["a"] == pytest.approx(1.0)
    assert m["a"]["b"] == pytest.approx(1 / np.sqrt(2), abs=1e-4)
    assert m["b"]["a"] == m["a"]["b"]
    assert m["a"]["c"] == pytest.approx(-1.0)
    assert ev.cosine_matrix({}) == {}


def test_evaluate_reads_the_model_without_changing_it(tiny_with_token):
    model, tokenizer, spec, token_id = tiny_with_token
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    result = ev.evaluate(model, tokenizer, spec, token_id, max_new_tokens=4)
    assert set(result) == {"testing", "generations", "nearest", "quality", "hidden_mse"}
    assert result["quality"]["mrr_positive"] == ev.quality(result["testing"])["mrr_positive"]
    assert result["quality"]["hidden_mse"] == pytest.approx(result["hidden_mse"]["combined"], abs=1e-6)
    assert 0 <= result["quality"]["generation_similarity"] <= 1
    assert model.training, "the model's mode is restored"
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert len(tokenizer) == token_id + 1


@torch.no_grad()
def test_the_hidden_measure_on_the_contexts_equals_two_plain_readings(tiny_with_token):
    """The contexts' part of ``hidden_mse``: each testing-positive context followed by each gloss, and
    by the token, read by the model that has the token; last layer, last position."""
    model, tokenizer, spec, token_id = tiny_with_token
    result = ev.evaluate(model, tokenizer, spec, token_id, max_new_tokens=2, held_out=2)
    errors = []
    for context in spec.testing_positive_contexts:
        ids = tokenizer.encode(context, add_special_tokens=False)
        token = model(input_ids=torch.tensor([ids + [token_id]]), output_hidden_states=True).hidden_states[-1][0, -1]
        for gloss in spec.gloss_texts:
            gloss_ids = tokenizer.encode(gloss, add_special_tokens=False)
            read = model(input_ids=torch.tensor([ids + gloss_ids]), output_hidden_states=True).hidden_states[-1][0, -1]
            errors.append(float((token - read).pow(2).mean()))
    measured = result["hidden_mse"]
    assert measured["contexts"] == pytest.approx(float(np.mean(errors)), rel=1e-4)
    assert measured["context_pairs"] == len(errors) and measured["snippet_positions"] > 0
    assert measured["combined"] == pytest.approx((measured["contexts"] + measured["snippets"]) / 2)
