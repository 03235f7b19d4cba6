"""A comparison that does not repeat work gives the numbers of one that does (tiny model only).

What is shared (``core.experiment.single.pipeline.InitCache``): the calculated output row, and for a
strategy whose rows do not depend on the seed, the first seed's initialization and evaluation
before fine-tuning. Greedy generation goes through all prompts in one left-padded batch.
"""

from __future__ import annotations

import pytest
import torch

from core.embedding.strategies import STRATEGIES, InitConfig, depends_on_seed
from core.execution import backend_for
from core.experiment.single.compare import CompareConfig, run_comparison
from core.experiment.single.member import generation_agreement
from core.experiment.single.evaluate import greedy_generate
from core.experiment.single.pipeline import InitCache, initialize
from core.model.tokens import add_token
from core.train.finetune import FinetuneConfig
from tests.conftest import TOKEN

# Row keys that are wall-clock times (they differ from run to run whatever is shared).
TIMES = {"time_per_epoch_s", "init_seconds"}


@pytest.fixture(scope="module")
def base():
    from core.model.loading import load_model

    return load_model("tiny-random")


def test_which_strategies_depend_on_the_seed():
    independent = {name for name in STRATEGIES if not depends_on_seed(InitConfig(strategy=name))}
    assert independent == {"optimized", "average", "last_token", "first_token", "pca", "attention", "adaptivocab",
                           "interpolation", "description"}
    assert depends_on_seed(InitConfig(strategy="optimized", opt_init="random"))


@pytest.mark.parametrize("strategy", ["average", "optimized", "attention", "adaptivocab", "interpolation"])
def test_seed_independent_rows_really_do_not_depend_on_the_seed(base, tiny_spec, strategy):
    from core.embedding.strategies import initial_rows
    from core.spec.gloss import check_spec

    spec = check_spec(tiny_spec, base.tokenizer)
    rows = [initial_rows(base.model, base.tokenizer, spec, InitConfig(strategy=strategy, seed=seed, opt_epochs=3))
            for seed in (0, 7)]
    assert torch.equal(rows[0].input_row, rows[1].input_row) and torch.equal(rows[0].output_row, rows[1].output_row)


def _one_at_a_time(model, tokenizer, prompts: list[str], n: int) -> list[list[int]]:
    """Greedy decoding by hand, one prompt at a time, a full forward pass per new token."""
    eos = tokenizer.eos_token_id
    out = []
    with torch.no_grad():
        for prompt in prompts:
            ids, new = tokenizer.encode(prompt, add_special_tokens=False), []
            for _ in range(n):
                nxt = int(model(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax())
                if nxt == eos:
                    break
                new.append(nxt)
            out.append(new)
    return out


def test_batched_greedy_generation_equals_one_prompt_at_a_time(tiny, tiny_spec):
    model, tokenizer = tiny
    add_token(model, tokenizer, TOKEN, torch.randn(model.config.hidden_size), torch.randn(model.config.hidden_size))
    model.eval()
    # Prompts of different lengths, with the gloss and with the token, as ``generations`` batches them.
    prompts = [tiny_spec.fill(p, g) for p in tiny_spec.generation_prompts for g in (tiny_spec.glosses[0], TOKEN)]
    prompts += ["At", "The knitting club meets every week at the local shop where you can buy"]
    lengths = {len(tokenizer.encode(p, add_special_tokens=False)) for p in prompts}
    assert len(lengths) > 2  # left padding is exercised
    batched = greedy_generate(model, tokenizer, prompts, max_new_tokens=10)
    assert batched == [greedy_generate(model, tokenizer, [p], max_new_tokens=10)[0] for p in prompts]
    assert batched == _one_at_a_time(model, tokenizer, prompts, 10)
    assert batched == greedy_generate(model, tokenizer, prompts, max_new_tokens=10, batch_size=3)


def test_a_reused_initialization_equals_a_fresh_one(base, tiny_spec):
    cache = InitCache()
    first = initialize(tiny_spec, InitConfig(strategy="average", seed=0), base, compare_with=(), max_new_tokens=8)
    agreement = generation_agreement(first.model, first.tokenizer, first.spec, first.evaluation["generations"])
    cache.remember(first, agreement, 8)
    assert cache.recall(tiny_spec, base, InitConfig(strategy="random", seed=1), 8) is None  # seeded
    assert cache.recall(tiny_spec, base, InitConfig(strategy="last_token", seed=1), 8) is None  # not seen
    assert cache.recall(tiny_spec, base, InitConfig(strategy="average", seed=1), 6) is None  # other settings

    recalled, recalled_agreement = cache.recall(tiny_spec, base, InitConfig(strategy="average", seed=1), 8)
    fresh = initialize(tiny_spec, InitConfig(strategy="average", seed=1), base, compare_with=(), max_new_tokens=8)
    assert recalled.evaluation == fresh.evaluation
    assert recalled_agreement == generation_agreement(fresh.model, fresh.tokenizer, fresh.spec,
                                                      fresh.evaluation["generations"])
    assert recalled.config.seed == 1 and recalled.token_id == fresh.token_id
    assert torch.equal(recalled.rows.input_row, fresh.rows.input_row)
    # A model of its own, equal to the one a fresh initialization builds (fine-tuning starts from it).
    assert recalled.model is not first.model and first.model is not None
    fresh_state = fresh.model.state_dict()
    for name, value in recalled.model.state_dict().items():
        assert torch.equal(value, fresh_state[name]), name
    timeless = lambda d: {**d, "config": None, "seconds": None, "details": {**d["details"], "seconds": None}}
    assert timeless(recalled.to_dict()) == timeless(fresh.to_dict())

    # The shared output fit gives the rows a fit of one's own gives.
    fit = cache.fits[(-10.0, "model")]
    shared = initialize(tiny_spec, InitConfig(strategy="last_token"), base, compare_with=(), output_fit=fit,
                        evaluate_after=False)
    own = initialize(tiny_spec, InitConfig(strategy="last_token"), base, compare_with=(), evaluate_after=False)
    assert torch.equal(shared.rows.output_row, own.rows.output_row) and shared.rows.output_row is not fit.vector
    assert shared.rows.details["output_fit_shared"] and "output_fit_shared" not in own.rows.details


def test_a_comparison_with_reuse_gives_the_rows_of_one_without(base, tiny_spec):
    config = CompareConfig(strategies=["average", "random"], seeds=2,
                           finetune=FinetuneConfig(epochs=1, batch_size=2, grad_accum=1, learning_rate=1e-2))
    runs = {}
    for reuse in (True, False):
        events: list[dict] = []
        runs[reuse] = (run_comparison(tiny_spec, base, config, backend=backend_for(), emit=events.append,
                                      reuse=reuse), events)
    (shared, shared_events), (alone, alone_events) = runs[True], runs[False]
    reused = [(e["strategy"], e["seed"]) for e in shared_events if e.get("phase") == "init:reuse"]
    assert reused == [("average", 1)] and not any(e.get("phase") == "init:reuse" for e in alone_events)
    assert [m["name"] for m in shared.members] == [m["name"] for m in alone.members]
    for a, b in zip(shared.members, alone.members):
        ra, rb = a["row"], b["row"]
        assert {k: v for k, v in ra.items() if k not in TIMES} == {k: v for k, v in rb.items() if k not in TIMES}
        assert a["evaluation_before"] == b["evaluation_before"] and a["evaluation_after"] == b["evaluation_after"]
        curve = lambda m: [(h["step"], h["loss"], h["eval_loss"]) for h in m["finetune"]["history"]]
        assert curve(a) == curve(b)
        assert set(a["timings"]) >= {"initialization", "evaluation", "generation", "training"}
    strip = lambda rows: [{k: v for k, v in r.items() if not any(k.startswith(t) for t in TIMES)} for r in rows]
    assert strip(shared.rows) == strip(alone.rows)
