"""One member of a comparison: the generation-agreement number against a direct computation, and a
stop asked for during initialization."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from core.experiment.single.member import continuation_logprob, generation_agreement, run_member
from core.model.tokens import add_token
from core.train.finetune import FinetuneConfig


@pytest.fixture
def with_token(tiny, tiny_spec):
    model, tokenizer = tiny
    g = torch.Generator().manual_seed(2)
    d = model.config.hidden_size
    token_id = add_token(model, tokenizer, tiny_spec.new_token, torch.randn(d, generator=g), torch.randn(d, generator=g))
    return model, tokenizer, token_id


def _direct_logprob(model, tokenizer, prompt: str, continuation: str) -> float:
    """One sequence, no padding, log-softmax position by position."""
    p = tokenizer.encode(prompt, add_special_tokens=False)
    c = tokenizer.encode(continuation, add_special_tokens=False)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([p + c])).logits[0].double()
    values = [torch.log_softmax(logits[len(p) + i - 1], dim=-1)[t].item() for i, t in enumerate(c)]
    return sum(values) / len(values)


def test_continuation_logprob_matches_a_direct_computation(with_token):
    model, tokenizer, _ = with_token
    prompts = ["At the [BLISS_29111] you can buy", "My favourite place is the wool shop because", "the"]
    conts = [" soft yarn and needles", " it sells wool", ""]
    batched = continuation_logprob(model, tokenizer, prompts, conts)
    assert batched[2] is None
    for i in range(2):
        assert math.isclose(batched[i], _direct_logprob(model, tokenizer, prompts[i], conts[i]), rel_tol=1e-4)


def test_generation_agreement_is_the_likelihood_ratio(with_token, tiny_spec):
    model, tokenizer, _ = with_token
    gens = [{"prompt": p, "continuation_with_gloss": c}
            for p, c in zip(tiny_spec.generation_prompts, [" yarn and wool", " the wool is soft"])]
    ratios = []
    for g in gens:
        t = _direct_logprob(model, tokenizer, tiny_spec.fill(g["prompt"], tiny_spec.new_token), g["continuation_with_gloss"])
        s = _direct_logprob(model, tokenizer, tiny_spec.fill(g["prompt"], tiny_spec.glosses[0]),
                            g["continuation_with_gloss"])
        ratios.append(math.exp(t - s))
    assert math.isclose(generation_agreement(model, tokenizer, tiny_spec, gens), statistics.fmean(ratios), abs_tol=2e-4)
    assert generation_agreement(model, tokenizer, tiny_spec, [{"prompt": gens[0]["prompt"],
                                                               "continuation_with_gloss": "  "}]) is None


def test_stop_during_initialization(tiny_spec):
    from core.train.events import StopRequested
    from core.model.loading import load_model
    from core.embedding.strategies import InitConfig

    base = load_model("tiny-random")
    seen: list[dict] = []
    with pytest.raises(StopRequested):
        run_member(tiny_spec, base, InitConfig(strategy="optimized", opt_epochs=500), FinetuneConfig(batch_size=2),
                   emit=seen.append, should_stop=lambda: any(e["type"] == "init_epoch" for e in seen))
    assert sum(e["type"] == "init_epoch" for e in seen) == 1  # the optimization ended after one epoch


def test_a_member_says_each_phase_and_its_evaluations_progress(tiny_spec):
    from core.embedding.strategies import InitConfig
    from core.model.loading import load_model

    seen: list[dict] = []
    member = run_member(tiny_spec, load_model("tiny-random"), InitConfig(strategy="average"),
                        FinetuneConfig(epochs=1, batch_size=2, grad_accum=1), emit=seen.append, max_new_tokens=3)
    # The held-out measure before and after, on the same snippets, the second through the adapter's rows.
    before, after = member.init.evaluation["hidden_mse"], member.evaluation_after["hidden_mse"]
    assert before["snippet_positions"] == after["snippet_positions"] > 0
    assert 0 < after["combined"] != before["combined"] > 0
    assert member.row()["hidden_mse_after"] == round(after["combined"], 6)
    phases = [e["phase"] for e in seen if e["type"] == "phase"]
    order = ["init:validate", "init:copy", "init:output_fit", "init:input_row", "init:add_token", "init:rank",
             "init:generate", "init:done", "agreement_before", "quantize", "train", "evaluate_after"]
    assert [p for p in dict.fromkeys(phases)] == order
    before = [e for e in seen if e.get("phase") == "init:generate"]
    assert all(e["message"].startswith("Evaluating before fine-tuning: generating text, step") for e in before)
    after = [e for e in seen if e.get("phase") == "evaluate_after"]
    assert after[0]["fraction"] == 0.0 and after[-1]["message"].startswith("Evaluating after fine-tuning: generating")
    assert [e["fraction"] for e in after] == sorted(e["fraction"] for e in after) and after[-1]["fraction"] > 0.1
    last_step = max(i for i, e in enumerate(seen) if e["type"] == "step")
    assert seen.index(after[0]) > last_step      # the evaluation after training comes after its last step
