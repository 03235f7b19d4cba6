"""The optimized input embedding (method, Step 1b.1): contextual optimization of one vector.

Target: for each positive context ``c`` and each gloss ``g``, ``y_cg`` is the contextual embedding
of the gloss's last token when the model reads ``c``'s tokens followed by the gloss's tokens (with
its leading space): exactly the tokens the new token stands in for. (For byte-level BPE tokenizers
such as SmolLM2's this is the same as tokenizing the joined text; the tests check it.) We learn one
vector ``e`` such that appending ``e`` as a single input position after ``c`` gives a contextual
embedding ``ĥ_c(e)`` close to every ``y_cg``: the loss is the mean over (context, gloss) pairs of
``1 − cos(ĥ_c(e), y_cg)``. The mean (not the sum) keeps the gradient's size, and so the effect of
clipping, independent of how many contexts a spec has. AdamW on ``e`` only (default betas and
weight decay), the model frozen, gradients clipped to norm 1. Validation contexts give the same
loss after every epoch; the vector with the lowest validation loss is kept, and that may be the
starting vector (best epoch 0).

Why it can be fast: under causal attention the prefix ``c`` never sees ``e``, so every layer's
keys and values for ``c`` are the same at every step. ``PrefixCache`` computes them once for all
contexts (training and validation together, in one pass); a step then runs only the one appended
position of every context, in one batch, against the cached keys and values. ``ĥ_c(e)`` does not
depend on the gloss, so each context is run once and scored against all its glosses' targets; the
targets themselves reuse the cache (each gloss's tokens read after every cached context).

Batching contexts of different lengths: the prefixes are padded on the right, so the prefix pass
is exactly the unpadded one (real tokens never see the pads after them). The appended position
goes after the padded width, with an attention mask that hides the pad columns and an explicit
position id equal to the context's true length. Positions enter attention only through the
rotary angles already baked into the cached keys and the new query, and masked columns get
exactly zero weight, so the result equals a forward pass over ``c + e`` alone.

transformers' ``DynamicCache`` appends the new position to itself during a forward pass. We keep
the prefix keys and values as plain tensors and wrap them in a fresh cache at every step; the
stored tensors are never modified, and no step's autograd graph leaks into the next one
(cropping a used cache back would keep a view into the previous step's graph).

An epoch is one pass over the training contexts in mini-batches of ``batch_size`` contexts, in a
fixed order. The whole problem is one D-dimensional vector and a spec has a few dozen contexts,
so the default batch (64) holds them all: one exact full-batch step per epoch, and "epochs" is the
number of optimizer steps. Several noisy steps per epoch would only trade exactness for speed
that this size does not need.

``reference_optimize`` is the straightforward version the research used: a full forward pass over
``c + e`` per context at every step, one context at a time, accumulating gradients. It shares the
training loop (same start, optimizer, clipping and batching), so the two differ only in how the
loss and its gradient are computed; ``bench/input_optimization.py`` times both.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from transformers import DynamicCache

from core.embedding.contexts import decoder_of, encode, eval_mode, pad_id_of, pad_right
from core.embedding.precision import passes_in

GRAD_CLIP = 1.0


@dataclass
class OptimizationResult:
    """The best vector, the loss history per epoch, and which epoch gave the best vector."""

    vector: torch.Tensor
    history: list[dict]  # one entry per epoch: epoch, epochs, train_loss, val_loss, seconds
    best_epoch: int  # 0 = the starting vector was never beaten on the validation contexts
    best_val_loss: float
    initial_val_loss: float = math.nan
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_val_loss": self.best_val_loss,
            "initial_val_loss": self.initial_val_loss,
            "seconds": self.seconds,
            **self.settings,
        }


# -- loss --------------------------------------------------------------------------------------

def cosine_loss(hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over (context, gloss) pairs of ``1 − cos(ĥ_c, y_cg)``; hidden [B, D], targets [B, G, D]."""
    cos = torch.nn.functional.cosine_similarity(hidden.unsqueeze(1), targets, dim=-1)
    return (1.0 - cos).mean()


@contextlib.contextmanager
def frozen(model) -> Iterator[None]:
    """Eval mode and no parameter gradients for the block; both restored afterwards."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        with eval_mode(model):
            yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def gloss_ids(tokenizer, spec) -> list[list[int]]:
    """Each gloss's token ids, with its leading space: what follows the context's tokens in a target."""
    return encode(tokenizer, spec.gloss_texts)


# -- the fast path: cached prefixes, one batched position per step -----------------------------

class PrefixCache:
    """Every layer's keys and values for a set of contexts, computed once.

    ``hidden(e, index)`` returns ``ĥ_c(e)`` for the contexts in ``index`` (all when ``None``) by
    running the single appended position for all of them in one batch; ``continue_with(ids)``
    runs a few given tokens after every context the same way (the gloss, for the targets).
    """

    def __init__(self, model, context_ids: list[list[int]], chunk_size: int = 16, pad_id: int = 0,
                 _layers=None):
        self.model = model
        self.decoder = decoder_of(model)
        weight = model.get_input_embeddings().weight
        self.device, self.dtype = weight.device, weight.dtype
        self.context_ids = context_ids
        self.lengths = torch.tensor([len(ids) for ids in context_ids], device=self.device)
        width = int(self.lengths.max())
        self.mask = (torch.arange(width, device=self.device) < self.lengths[:, None]).long()
        self.layers = _layers if _layers is not None else self._prefill(chunk_size, pad_id, width)

    def _prefill(self, chunk_size: int, pad_id: int, width: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # Contexts sorted by length and run in chunks, so that little compute goes to padding;
        # each chunk's keys and values are copied into zero-padded tensors at the contexts' rows.
        order = sorted(range(len(self.context_ids)), key=lambda i: len(self.context_ids[i]))
        layers: list[tuple[torch.Tensor, torch.Tensor]] = []
        with torch.no_grad(), eval_mode(self.model):
            for start in range(0, len(order), chunk_size):
                rows = order[start : start + chunk_size]
                input_ids, mask, _ = pad_right([self.context_ids[i] for i in rows], pad_id)
                out = self.decoder(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                                   use_cache=True)
                index = torch.tensor(rows, device=self.device)
                for i, layer in enumerate(out.past_key_values.layers):
                    if not layers or len(layers) <= i:
                        shape = (len(order), layer.keys.shape[1], width, layer.keys.shape[3])
                        layers.append((layer.keys.new_zeros(shape), layer.values.new_zeros(
                            (len(order), layer.values.shape[1], width, layer.values.shape[3]))))
                    keys, values = layers[i]
                    keys[index, :, : layer.keys.shape[2]] = layer.keys
                    values[index, :, : layer.values.shape[2]] = layer.values
        return layers

    def select(self, rows: list[int]) -> "PrefixCache":
        """The cache of a subset of the contexts (copied once, trimmed to their longest)."""
        index = torch.tensor(rows, device=self.device)
        width = max(len(self.context_ids[i]) for i in rows)
        layers = [(k.index_select(0, index)[:, :, :width].contiguous(),
                   v.index_select(0, index)[:, :, :width].contiguous()) for k, v in self.layers]
        return PrefixCache(self.model, [self.context_ids[i] for i in rows], _layers=layers)

    def __len__(self) -> int:
        return len(self.context_ids)

    def _forward(self, x: torch.Tensor | None, input_ids: torch.Tensor | None, index: torch.Tensor | None
                 ) -> torch.Tensor:
        """Run ``k`` new positions after the selected contexts; the last one's contextual embedding."""
        if index is None:
            data, mask, lengths = self.layers, self.mask, self.lengths
        else:
            data = [(k.index_select(0, index), v.index_select(0, index)) for k, v in self.layers]
            mask, lengths = self.mask.index_select(0, index), self.lengths.index_select(0, index)
        batch, k = mask.shape[0], (x if x is not None else input_ids).shape[1]
        # New positions follow each context's true length; the pad columns between stay masked.
        mask = torch.cat([mask, mask.new_ones(batch, k)], dim=1)
        positions = lengths.view(batch, 1) + torch.arange(k, device=self.device)
        # A fresh cache around the stored tensors: the forward pass appends to it, never to them.
        cache = DynamicCache(data, config=self.model.config)
        out = self.decoder(input_ids=input_ids, inputs_embeds=x, attention_mask=mask, position_ids=positions,
                           past_key_values=cache, use_cache=True)
        return out.last_hidden_state[:, -1].float()

    def hidden(self, e: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """``ĥ_c(e)`` [B, D] (float32) for the selected contexts; differentiable in ``e``."""
        batch = len(self) if index is None else index.shape[0]
        x = e.to(device=self.device, dtype=self.dtype).view(1, 1, -1).expand(batch, 1, -1)
        return self._forward(x, None, index)

    def hidden_rows(self, x: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        """Like ``hidden`` with one vector per selected context (``x`` [B, D]): ``ĥ_c(x_c)``."""
        return self._forward(x.to(device=self.device, dtype=self.dtype).unsqueeze(1), None, index)

    @torch.no_grad()
    def continue_with(self, ids: list[int], index: torch.Tensor | None = None) -> torch.Tensor:
        """Contextual embedding [N, D] of the last of ``ids`` read after every (selected) context."""
        batch = len(self) if index is None else index.shape[0]
        input_ids = torch.tensor([ids], device=self.device).expand(batch, -1)
        return self._forward(None, input_ids, index)


def cached_targets(cache: PrefixCache, glosses: list[list[int]]) -> torch.Tensor:
    """``y_cg`` [contexts, glosses, D] from the cached prefixes: each gloss's tokens after each context."""
    return torch.stack([cache.continue_with(ids) for ids in glosses], dim=1)


# -- the straightforward path: a full forward pass per context ---------------------------------

def appended_hidden(model, context_ids: list[int], e: torch.Tensor) -> torch.Tensor:
    """``ĥ_c(e)`` [D] from a full forward pass over the context's embeddings followed by ``e``."""
    weight = model.get_input_embeddings().weight
    ids = torch.tensor([context_ids], device=weight.device)
    x = torch.cat([model.get_input_embeddings()(ids), e.to(weight).view(1, 1, -1)], dim=1)
    out = model(inputs_embeds=x, output_hidden_states=True)
    return out.hidden_states[-1][0, -1].float()


@torch.no_grad()
def full_targets(model, contexts: list[list[int]], glosses: list[list[int]]) -> torch.Tensor:
    """``y_cg`` [contexts, glosses, D], one full forward pass per (context, gloss), as the research did."""
    device = model.get_input_embeddings().weight.device
    rows = []
    for ids in contexts:
        rows.append(torch.stack([
            model(input_ids=torch.tensor([ids + g], device=device), output_hidden_states=True
                  ).hidden_states[-1][0, -1].float() for g in glosses]))
    return torch.stack(rows)


# -- the shared training loop ------------------------------------------------------------------

StepFn = Callable[[torch.Tensor, torch.Tensor | None], float]  # (e, index) -> batch loss; fills e.grad


def _train(step: StepFn, validate: Callable[[torch.Tensor], float], *, n_train: int, init: torch.Tensor,
           lr: float, epochs: int, batch_size: int, on_epoch: Callable[[dict], None] | None) -> OptimizationResult:
    started = time.perf_counter()
    e = init.detach().to(torch.float32).cpu().clone().requires_grad_(True)
    optimizer = torch.optim.AdamW([e], lr=lr)
    best = e.detach().clone()
    best_val = initial_val = validate(e)
    best_epoch = 0
    history: list[dict] = []
    batches = [None] if n_train <= batch_size else [
        torch.arange(s, min(s + batch_size, n_train)) for s in range(0, n_train, batch_size)]
    for epoch in range(1, epochs + 1):
        total = 0.0
        for index in batches:
            optimizer.zero_grad(set_to_none=True)
            loss = step(e, index)
            total += loss * (n_train if index is None else len(index))
            torch.nn.utils.clip_grad_norm_([e], GRAD_CLIP)
            optimizer.step()
        val = validate(e)
        entry = {"epoch": epoch, "epochs": epochs, "train_loss": total / n_train, "val_loss": val,
                 "seconds": round(time.perf_counter() - started, 4)}
        history.append(entry)
        if val < best_val:
            best_val, best_epoch, best = val, epoch, e.detach().clone()
        if on_epoch is not None:
            on_epoch(dict(entry))
    return OptimizationResult(vector=best, history=history, best_epoch=best_epoch, best_val_loss=best_val,
                              initial_val_loss=initial_val, seconds=time.perf_counter() - started,
                              settings={"lr": lr, "epochs": epochs, "batch_size": batch_size,
                                        "train_contexts": n_train, "loss": "mean of 1 - cos"})


def _check(lr: float, epochs: int, batch_size: int, n_train: int) -> None:
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if n_train < 1:
        raise ValueError("no training contexts")


def _sets(spec, lr: float, epochs: int, batch_size: int) -> tuple[list[str], list[str]]:
    """(training contexts, validation contexts), after checking the settings (before any work)."""
    train, val = list(spec.positive_contexts), list(spec.validation_contexts)
    if not train or not val:
        raise ValueError("the optimized strategy needs positive and validation contexts")
    _check(lr, epochs, batch_size, len(train))
    return train, val


def optimize_input_embedding(model, tokenizer, spec, *, lr: float, epochs: int, init: torch.Tensor,
                             batch_size: int = 64, on_epoch: Callable[[dict], None] | None = None,
                             precision: str = "model") -> OptimizationResult:
    """Learn the input vector with cached prefixes and all contexts of a batch in one forward pass;
    the model's passes run in ``precision`` (``core.embedding.precision``), the vector stays float32."""
    train, val = _sets(spec, lr, epochs, batch_size)
    with frozen(model), passes_in(model, precision):
        # One prefill for training and validation contexts together; the targets reuse it too
        # (the gloss's tokens read after each cached context).
        everything = PrefixCache(model, encode(tokenizer, train + val), pad_id=pad_id_of(tokenizer))
        targets = cached_targets(everything, gloss_ids(tokenizer, spec))
        train_cache = everything.select(list(range(len(train))))
        val_cache = everything.select(list(range(len(train), len(train) + len(val))))
        train_targets, val_targets = targets[: len(train)], targets[len(train) :]
        del everything

        def step(e: torch.Tensor, index: torch.Tensor | None) -> float:
            batch_targets = train_targets if index is None else train_targets[index]
            loss = cosine_loss(train_cache.hidden(e, index), batch_targets)
            loss.backward()
            return float(loss.detach())

        def validate(e: torch.Tensor) -> float:
            with torch.no_grad():
                return float(cosine_loss(val_cache.hidden(e), val_targets))

        return _train(step, validate, n_train=len(train), init=init, lr=lr, epochs=epochs,
                      batch_size=batch_size, on_epoch=on_epoch)


def reference_optimize(model, tokenizer, spec, *, lr: float, epochs: int, init: torch.Tensor,
                       batch_size: int = 64, on_epoch: Callable[[dict], None] | None = None
                       ) -> OptimizationResult:
    """The same optimization computed the straightforward way: one full forward pass per context."""
    train, val = _sets(spec, lr, epochs, batch_size)
    with frozen(model):
        train_ids, val_ids, glosses = encode(tokenizer, train), encode(tokenizer, val), gloss_ids(tokenizer, spec)
        train_targets, val_targets = full_targets(model, train_ids, glosses), full_targets(model, val_ids, glosses)

        def step(e: torch.Tensor, index: torch.Tensor | None) -> float:
            rows = range(len(train)) if index is None else index.tolist()
            total = 0.0
            for i in rows:
                # This context's share of the batch mean, so the accumulated gradient is the mean's.
                loss = cosine_loss(appended_hidden(model, train_ids[i], e).unsqueeze(0),
                                   train_targets[i : i + 1]) / len(rows)
                loss.backward()
                total += float(loss.detach())
            return total

        def validate(e: torch.Tensor) -> float:
            with torch.no_grad():
                losses = [float(cosine_loss(appended_hidden(model, ids, e).unsqueeze(0), val_targets[i : i + 1]))
                          for i, ids in enumerate(val_ids)]
            return sum(losses) / len(losses)

        return _train(step, validate, n_train=len(train), init=init, lr=lr, epochs=epochs,
                      batch_size=batch_size, on_epoch=on_epoch)
