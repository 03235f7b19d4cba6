"""Evaluation of a model that has the new token: ranks, top 5, generations, nearest tokens, and
the held-out hidden-state measure (``core.embedding.hidden``).

Everything here reads the model and never changes it (``@torch.no_grad()``, eval mode restored).
Ranks are 1 for the top candidate, counted among *all* next-token candidates: the whole
vocabulary, the new token included (method.md, Step 3). A rank is one plus the number of
candidates with a strictly higher logit, so equal logits share the better rank.
"""

from __future__ import annotations

import difflib
import statistics
import time
from typing import Callable

import torch

from core.embedding.hidden import measure_token
from core.model import tokens
from core.spec.settings import MAX_NEW_TOKENS
from core.embedding.contexts import eval_mode, n_candidates, next_token_logits, ranks_of  # noqa: F401

DEFAULT_MAX_NEW_TOKENS = MAX_NEW_TOKENS.default
# Held-out snippets of an evaluation's hidden-state measure: sampled once per spec (a few seconds
# on a CPU) and kept for every later evaluation of it; ``bench/initializers.py`` measures on 32.
EVALUATION_HELD_OUT = 16


def target_ids(tokenizer, spec) -> dict[str, int]:
    """Each target word's token id, measured with its leading space (" wool").

    The spec has been checked for this tokenizer (every target is one token); should one still
    split, its first sub-token is the one whose logit says "this word comes next".
    """
    return {word: tokenizer.encode(text, add_special_tokens=False)[0]
            for word, text in zip(spec.target_tokens, spec.target_texts)}


def rank_table(model, tokenizer, spec, token_id: int) -> list[dict]:
    """One row per testing context (positives first): ranks of the new token and each target, top 5."""
    contexts = [("positive", c) for c in spec.testing_positive_contexts]
    contexts += [("negative", c) for c in spec.testing_negative_contexts]
    logits = next_token_logits(model, tokenizer, [c for _, c in contexts])
    logits = logits[:, : n_candidates(model, tokenizer)]
    new_ranks = ranks_of(logits, token_id).tolist()
    per_target = {word: ranks_of(logits, tid).tolist() for word, tid in target_ids(tokenizer, spec).items()}
    top_values, top_ids = logits.topk(5, dim=1)
    rows = []
    for i, (kind, context) in enumerate(contexts):
        rows.append({
            "context": context,
            "kind": kind,
            "rank_new_token": int(new_ranks[i]),
            "rank_targets": {word: int(r[i]) for word, r in per_target.items()},
            # decode without skipping special tokens: "<|im_end|>" in a top 5 is worth seeing.
            "top5": [{"token": tokenizer.decode([int(t)]), "logit": round(float(v), 4)}
                     for t, v in zip(top_ids[i].tolist(), top_values[i].tolist())],
        })
    return rows


Progress = Callable[[int, int], None]


def _token_counter(on_token: Progress, done_before: int, total: int):
    """A stopping criterion that never stops: it reports each generated token as ``on_token(done, total)``
    (``generate`` calls its stopping criteria once per new token)."""
    from transformers import StoppingCriteria

    class Count(StoppingCriteria):
        def __init__(self) -> None:
            self.n = 0

        def __call__(self, input_ids, scores, **kwargs):
            self.n += 1
            on_token(done_before + self.n, total)
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return Count()


@torch.no_grad()
def greedy_generate(model, tokenizer, prompts: list[str], max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                    batch_size: int = 32, on_token: Progress | None = None) -> list[list[int]]:
    """Greedy continuations (token ids, prompt excluded) of each prompt, batched with left padding.

    Left padding keeps every prompt's last token at the end of the batch, where generation
    continues; ``generate`` derives position ids from the attention mask, so padding does not
    shift positions. A fresh ``GenerationConfig`` makes it greedy whatever the model's own
    sampling defaults are. Generation stops at the end-of-sequence token or after
    ``max_new_tokens``. ``on_token(done, total)``: called after every generation step, counting
    the steps of every batch (``total`` = batches × ``max_new_tokens``; a batch that stops early
    at the end-of-sequence token skips ahead).
    """
    from transformers import GenerationConfig, StoppingCriteriaList

    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos if isinstance(eos, int) else eos[0])
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                              eos_token_id=eos, pad_token_id=pad)
    device = next(model.parameters()).device
    outputs: list[list[int]] = []
    starts = range(0, len(prompts), batch_size)
    total = len(starts) * max_new_tokens
    with eval_mode(model):
        for number, start in enumerate(starts):
            batch = tokenizer(prompts[start:start + batch_size], return_tensors="pt", padding=True,
                              padding_side="left", add_special_tokens=False).to(device)
            counting = {} if on_token is None else \
                {"stopping_criteria": StoppingCriteriaList([_token_counter(on_token, number * max_new_tokens, total)])}
            generated = model.generate(**batch, generation_config=config, **counting)
            new = generated[:, batch["input_ids"].shape[1]:].tolist()
            stops = set([eos] if isinstance(eos, int) else eos or [])
            for ids in new:
                cut = next((j for j, t in enumerate(ids) if t in stops), len(ids))
                outputs.append(ids[:cut])
    return outputs


def generations(model, tokenizer, spec, token_id: int, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                on_token: Progress | None = None) -> list[dict]:
    """For every prompt: the greedy continuation with the gloss and with the token, side by side.

    ``with_gloss`` / ``with_token`` are the filled prompt followed by its continuation; the
    continuations alone are kept too, to measure how close the two are. ``on_token``: see
    ``greedy_generate``.
    """
    token = spec.new_token
    filled_gloss = [spec.fill(p, spec.glosses[0]) for p in spec.generation_prompts]
    filled_token = [spec.fill(p, token) for p in spec.generation_prompts]
    continued = greedy_generate(model, tokenizer, filled_gloss + filled_token, max_new_tokens, on_token=on_token)
    n = len(spec.generation_prompts)
    rows = []
    for i, prompt in enumerate(spec.generation_prompts):
        gloss_ids = tokenizer.encode(filled_gloss[i], add_special_tokens=False) + continued[i]
        token_ids = tokenizer.encode(filled_token[i], add_special_tokens=False) + continued[n + i]
        rows.append({
            "prompt": prompt,
            "with_gloss": tokens.decode(tokenizer, gloss_ids, token),
            "with_token": tokens.decode(tokenizer, token_ids, token),
            "continuation_with_gloss": tokens.decode(tokenizer, continued[i], token),
            "continuation_with_token": tokens.decode(tokenizer, continued[n + i], token),
        })
    return rows


def generation_similarity(rows: list[dict]) -> float | None:
    """Mean word-level similarity (difflib ratio, 0 to 1) of the continuations with gloss and token.

    1 means the token leads the model to write exactly what it writes after the gloss.
    """
    if not rows:
        return None
    ratios = [difflib.SequenceMatcher(None, r["continuation_with_gloss"].split(),
                                      r["continuation_with_token"].split()).ratio() for r in rows]
    return round(sum(ratios) / len(ratios), 4)


@torch.no_grad()
def nearest_tokens(model, tokenizer, token_id: int, k: int = 5) -> dict[str, list[dict]]:
    """The ``k`` vocabulary tokens whose input (output) rows are closest by cosine to the token's."""
    n = n_candidates(model, tokenizer)
    result = {}
    for side, matrix in (("input", model.get_input_embeddings().weight),
                         ("output", model.get_output_embeddings().weight)):
        rows = matrix[:n].detach().float()
        # One matrix-vector product; an all-zero row (e.g. a padding token's) gets cosine 0.
        norms = rows.norm(dim=1) * rows[token_id].norm()
        cos = (rows @ rows[token_id]) / norms.clamp_min(1e-12)
        cos[token_id] = float("-inf")  # the token itself
        values, ids = cos.topk(min(k, n - 1))
        result[side] = [{"token": tokenizer.decode([int(i)]), "token_id": int(i), "cosine": round(float(v), 4)}
                        for v, i in zip(values.tolist(), ids.tolist())]
    return result


def cosine_matrix(vectors: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """Pairwise cosine similarity of named vectors, e.g. the strategies' input vectors."""
    names = list(vectors)
    if not names:
        return {}
    stacked = torch.stack([vectors[n].detach().float().flatten().cpu() for n in names])
    normed = torch.nn.functional.normalize(stacked, dim=1)
    sims = (normed @ normed.T).tolist()
    return {a: {b: round(sims[i][j], 4) for j, b in enumerate(names)} for i, a in enumerate(names)}


def quality(rank_rows: list[dict]) -> dict:
    """The research's "test quality" as numbers: MRR of the new token on testing-positive
    contexts (1 = always top), and its median rank on testing-negative and -positive contexts.
    A value is ``None`` when there is no context of that kind."""
    pos = [r["rank_new_token"] for r in rank_rows if r["kind"] == "positive"]
    neg = [r["rank_new_token"] for r in rank_rows if r["kind"] == "negative"]
    return {
        "mrr_positive": round(sum(1 / r for r in pos) / len(pos), 4) if pos else None,
        "median_rank_negative": float(statistics.median(neg)) if neg else None,
        "median_rank_positive": float(statistics.median(pos)) if pos else None,
    }


def add_time(timings: dict[str, float] | None, key: str, started: float) -> float:
    """Add the seconds since ``started`` to ``timings[key]`` (when ``timings`` is a dict); returns now."""
    now = time.perf_counter()
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + now - started
    return now


def evaluate(model, tokenizer, spec, token_id: int, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
             timings: dict[str, float] | None = None, on_event: Callable[[dict], None] | None = None,
             held_out: int = EVALUATION_HELD_OUT) -> dict:
    """Ranks on every testing context, generations, nearest tokens, the held-out hidden-state
    measure (on ``held_out`` snippets; ``quality["hidden_mse"]`` is its combined value) and the
    quality numbers.

    ``timings``: seconds are added to its ``evaluation`` (ranks, nearest tokens) and ``generation``
    entries. ``on_event`` gets ``{"stage": "rank" | "generate", "message", "fraction"}``: once
    before ranking, then after every generation step (``fraction``: of this evaluation done).
    """
    emit = on_event or (lambda event: None)
    started = time.perf_counter()
    emit({"stage": "rank", "message": f"ranking {len(spec.testing_positive_contexts) + len(spec.testing_negative_contexts)}"
                                      " testing contexts and measuring the hidden states on held-out snippets",
          "fraction": 0.0})
    testing = rank_table(model, tokenizer, spec, token_id)
    nearest = nearest_tokens(model, tokenizer, token_id)
    hidden = measure_token(model, tokenizer, spec, token_id, count=held_out)
    started = add_time(timings, "evaluation", started)

    def on_token(done: int, total: int) -> None:
        # Ranking is one pass; the generation steps are most of an evaluation's time.
        emit({"stage": "generate", "message": f"generating text, step {done} of {total}",
              "fraction": round(0.1 + 0.9 * done / max(total, 1), 4)})

    gens = generations(model, tokenizer, spec, token_id, max_new_tokens, on_token=on_token if on_event else None)
    add_time(timings, "generation", started)
    scores = quality(testing)
    scores["generation_similarity"] = generation_similarity(gens)
    scores["hidden_mse"] = round(hidden.combined, 6)
    return {
        "testing": testing,
        "generations": gens,
        "nearest": nearest,
        "quality": scores,
        "hidden_mse": hidden.to_dict(),
    }
