"""The optimized input embedding of many symbols at once (method, Step 1b.1, batched across symbols).

Each symbol ``k`` has its own vector ``e_k``, its own contexts and its own glosses; the loss of
``e_k`` is exactly ``core.embedding.optimize``'s (mean over its (context, gloss) pairs of
``1 − cos``). What is shared is the work: one ``PrefixCache`` prefill for the training and
validation contexts of a group of symbols, and at every step ONE batched forward pass of the
appended position for every context of every symbol in the group, each row carrying its own
symbol's vector. The rows of a batch never see each other (attention is per sequence), so the sum
of the symbols' losses has, for each ``e_k``, exactly the gradient of its own loss.

Everything that is per vector in the single-symbol loop stays per vector here: one AdamW per
symbol (its moments never mix with another's), gradient clipping to norm 1 per vector, the same
mini-batches in the same order per symbol (a symbol with fewer batches than another simply does
not step after its last one), a validation loss per symbol after every epoch and the best epoch
per symbol. So the vectors equal K single-symbol optimizations up to floating-point rounding of
the larger batch (the tests check this against ``optimize_input_embedding``).

Memory: the prefix cache grows with the number of contexts (for SmolLM2-135M about 1.4 MB per
30-token context); symbols are therefore taken in groups of at most ``max_contexts`` contexts,
each group optimized as above, one group after another.
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from core.embedding.contexts import encode, pad_id_of
from core.embedding.precision import passes_in
from core.embedding.optimize import (GRAD_CLIP, OptimizationResult, PrefixCache, _sets, cosine_loss, frozen,
                                     gloss_ids)

MAX_CONTEXTS = 1024


def consecutive_groups(sizes: list[int], limit: int) -> list[list[int]]:
    """Consecutive symbols whose sizes (contexts, snippets) add up to at most ``limit`` (one symbol
    at least)."""
    groups: list[list[int]] = []
    total = 0
    for k, n in enumerate(sizes):
        if not groups or total + n > limit:
            groups.append([])
            total = 0
        groups[-1].append(k)
        total += n
    return groups


def optimize_input_embeddings(model, tokenizer, specs: list, *, lr: float, epochs: int, inits: torch.Tensor,
                              batch_size: int = 64, on_epoch: Callable[[dict], None] | None = None,
                              max_contexts: int = MAX_CONTEXTS, precision: str = "model") -> list[OptimizationResult]:
    """One ``OptimizationResult`` per spec, as ``optimize_input_embedding`` gives for each alone.

    ``inits`` [K, D]: each symbol's starting vector. ``on_epoch`` gets ``{"epoch", "epochs",
    "train_loss", "val_loss", "seconds", "symbols"}`` (losses averaged over the group's symbols)
    after every epoch of every group. ``precision``: of the model's passes, as for one symbol.
    """
    sets = [_sets(spec, lr, epochs, batch_size) for spec in specs]
    if inits.shape[0] != len(specs):
        raise ValueError(f"expected {len(specs)} starting vectors, got {inits.shape[0]}")
    results: list[OptimizationResult | None] = [None] * len(specs)
    with frozen(model), passes_in(model, precision):
        for group in consecutive_groups([len(t) + len(v) for t, v in sets], max_contexts):
            found = _optimize_group(model, tokenizer, [specs[k] for k in group], [sets[k] for k in group],
                                    inits[group], lr=lr, epochs=epochs, batch_size=batch_size, on_epoch=on_epoch)
            for k, result in zip(group, found):
                results[k] = result
    return results  # type: ignore[return-value]


def _optimize_group(model, tokenizer, specs, sets, inits, *, lr, epochs, batch_size, on_epoch):
    started = time.perf_counter()
    texts: list[str] = []
    train_rows: list[torch.Tensor] = []
    val_rows: list[torch.Tensor] = []
    for train, val in sets:
        train_rows.append(torch.arange(len(texts), len(texts) + len(train)))
        val_rows.append(torch.arange(len(texts) + len(train), len(texts) + len(train) + len(val)))
        texts += train + val
    cache = PrefixCache(model, encode(tokenizer, texts), pad_id=pad_id_of(tokenizer))
    device = cache.device
    # Each symbol's targets from the shared cache: its glosses read after its own contexts.
    targets = []
    for spec, tr, va in zip(specs, train_rows, val_rows):
        rows = torch.cat([tr, va]).to(device)
        targets.append(torch.stack([cache.continue_with(ids, rows) for ids in gloss_ids(tokenizer, spec)], dim=1))
    train_targets = [t[: len(tr)] for t, tr in zip(targets, train_rows)]
    val_targets = [t[len(tr):] for t, tr in zip(targets, train_rows)]

    vectors = [inits[k].detach().to(torch.float32).cpu().clone().requires_grad_(True) for k in range(len(specs))]
    optimizers = [torch.optim.AdamW([e], lr=lr) for e in vectors]

    def validate() -> list[float]:
        index = torch.cat(val_rows).to(device)
        with torch.no_grad():
            x = torch.cat([e.detach().expand(len(v), -1) for e, v in zip(vectors, val_rows)])
            hidden = cache.hidden_rows(x, index)
        losses, start = [], 0
        for v, t in zip(val_rows, val_targets):
            losses.append(float(cosine_loss(hidden[start:start + len(v)], t)))
            start += len(v)
        return losses

    initial = validate()
    best = [e.detach().clone() for e in vectors]
    best_val = list(initial)
    best_epoch = [0] * len(specs)
    histories: list[list[dict]] = [[] for _ in specs]
    # Per symbol, its mini-batches of local row numbers, as the single-symbol loop makes them.
    batches = [[torch.arange(len(tr))] if len(tr) <= batch_size else
               [torch.arange(s, min(s + batch_size, len(tr))) for s in range(0, len(tr), batch_size)]
               for tr in train_rows]
    for epoch in range(1, epochs + 1):
        totals = [0.0] * len(specs)
        for step in range(max(len(b) for b in batches)):
            active = [k for k in range(len(specs)) if step < len(batches[k])]
            index = torch.cat([train_rows[k][batches[k][step]] for k in active]).to(device)
            x = torch.cat([vectors[k].expand(len(batches[k][step]), -1) for k in active])
            for k in active:
                optimizers[k].zero_grad(set_to_none=True)
            hidden = cache.hidden_rows(x, index)
            start, loss = 0, 0.0
            for k in active:
                n = len(batches[k][step])
                part = cosine_loss(hidden[start:start + n], train_targets[k][batches[k][step]])
                totals[k] += float(part.detach()) * n
                loss = loss + part
                start += n
            loss.backward()
            for k in active:
                torch.nn.utils.clip_grad_norm_([vectors[k]], GRAD_CLIP)
                optimizers[k].step()
        vals = validate()
        seconds = round(time.perf_counter() - started, 4)
        for k in range(len(specs)):
            histories[k].append({"epoch": epoch, "epochs": epochs, "train_loss": totals[k] / len(train_rows[k]),
                                 "val_loss": vals[k], "seconds": seconds})
            if vals[k] < best_val[k]:
                best_val[k], best_epoch[k], best[k] = vals[k], epoch, vectors[k].detach().clone()
        if on_epoch is not None:
            on_epoch({"epoch": epoch, "epochs": epochs, "symbols": len(specs), "seconds": seconds,
                      "train_loss": sum(totals[k] / len(train_rows[k]) for k in range(len(specs))) / len(specs),
                      "val_loss": sum(vals) / len(vals)})
    seconds = time.perf_counter() - started
    return [OptimizationResult(vector=best[k], history=histories[k], best_epoch=best_epoch[k],
                               best_val_loss=best_val[k], initial_val_loss=initial[k], seconds=seconds,
                               settings={"lr": lr, "epochs": epochs, "batch_size": batch_size,
                                         "train_contexts": len(train_rows[k]), "loss": "mean of 1 - cos",
                                         "symbols_together": len(specs)})
            for k in range(len(specs))]
