"""Token Distillation of one new token's input row (Dobler, Elliott, de Melo; arXiv 2505.20133).

The material is a set of snippets (``core.embedding.snippets``): texts holding the gloss. Each is
read twice by the frozen model: by the *teacher* with the gloss's sub-tokens, and by the *student*
with one position in their place that holds the trainable vector ``e`` (``inputs_embeds``). The
loss of a snippet is the mean squared error between the two readings' hidden states at one layer,
taken at the phrase's last position (teacher) ↔ the token's position (student) and at every later
position ↔ its shifted twin (``Snippet.aligned``), padding excluded: the mean over those positions
and the D dimensions. A batch's loss is the mean over all its compared positions together (the
published ``mse_loss`` over the batch's rows). The published code divides by every position of the
snippet instead, counting the positions before the phrase, whose error is always zero; the mean
over the compared positions is the same loss up to a factor per snippet.

The layer: ``layer`` indexes the ``hidden_states`` that ``output_hidden_states=True`` returns, for
teacher and student alike: with L decoder layers, index ``j`` (1 … L) is layer ``j``'s output, and
negative indices count from the end, so ``-1`` is index L, the final hidden state after the
model's final norm (exactly ``last_hidden_state``, what the output layer multiplies), ``-2`` is
layer L − 1's output (before any norm), and so on down to ``-L`` (layer 1). Index 0 (the input
embeddings themselves) is not a layer and is refused, as is anything beyond the model's depth.

Training (the published defaults): start from the mean of the sub-token input rows (per gloss,
then across glosses), AdamW with learning rate 1e-4 and no weight decay, a constant schedule, no
gradient clipping, 1 epoch, batch 1; the snippets are shuffled every epoch by a local generator
seeded with ``seed``. Only ``e`` trains: the model is frozen (no parameter gets a gradient).

Why it is fast on a CPU:

* the teacher's hidden states do not depend on ``e``: they are computed ONCE per snippet, in
  batches of snippets sorted by length (right padding, attention mask), before the first step,
  and cached as float32 rows at the compared positions only; the published loop runs the teacher
  again at every step;
* passes go through the decoder stack only: no output layer over the vocabulary at every position;
* the student passes of a step are batched: the step's snippets of EVERY symbol being distilled
  run in one padded pass (``distill_many``), each row holding its own symbol's vector; rows never
  see each other, so each vector gets exactly its own loss's gradient;
* gradients flow only into ``e``; the weights are frozen, so the backward pass computes no weight
  gradient (the published loop keeps a dense gradient of the whole embedding matrix).

Batch 1 (the default) makes the steps of one symbol strictly sequential: each step's student pass
needs the vector the previous step made, so one symbol alone cannot batch its student passes, and
a student forward and backward pass per snippet remains the bulk of the work (on a CPU, about
two-thirds of what the published loop does per step: its teacher pass is the rest).

``window`` (default 1, the published loop exactly) trades that exactness for batching: the
student passes of ``window`` consecutive steps run together at the vector of the window's first
step, and their gradients are then applied one step at a time, each by its own AdamW step. The
optimizer still takes one step per batch of snippets, with that batch's gradient, but evaluated up
to ``window − 1`` steps late; with AdamW at 1e-4 a step moves each coordinate by about 1e-4, so a
window of 16 evaluates gradients at most about 0.0016 per coordinate away from where the exact
loop would (the default model's rows spread about 0.13 per coordinate). The losses reported for
the steps of a window are those at the window's starting vector. ``bench/distill.py`` measures
both against the published loop.

Symbols are taken in groups of at most ``max_snippets`` snippets (the cached teacher rows of a
group stay in memory together); within a pass, at most ``max_rows`` snippets run at once (a
symbol's batch split over passes accumulates its gradient before its step, so the result does not
depend on either bound).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from core.embedding.contexts import decoder_of, pad_id_of, pad_right
from core.embedding.field_rows import subtoken_mean
from core.embedding.optimize import frozen
from core.embedding.optimize_many import consecutive_groups
from core.embedding.precision import passes_in
from core.embedding.snippets import Snippet, build_snippets, check_length
from core.spec import limits
from core.spec.errors import Collector, fail
from core.spec.settings import check_value

MAX_ROWS = 16  # snippets in one pass
MAX_SNIPPETS = 4096  # snippets whose teacher rows are cached at once
TEACHER_BATCH = 16


@dataclass
class DistillResult:
    """The learned vector, the mean loss per epoch, the loss of every step, and the settings used."""

    vector: torch.Tensor
    history: list[dict]  # per epoch: epoch, epochs, train_loss, val_loss (None: no validation set), seconds
    steps: list[float]  # the loss of every optimizer step, in order
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"history": self.history, "step_losses": self.steps, "seconds": self.seconds, **self.settings}


# -- settings ----------------------------------------------------------------------------------

def check_settings(*, snippets: int, length: int, layer: int, lr: float, epochs: int, batch_size: int,
                   seed: int, window: int = 1) -> None:
    """Every setting in its range (``core.spec.limits``); one ``InputError`` naming each wrong one."""
    c = Collector()
    for name, value, kind, bounds in (
            ("distill_snippets", snippets, "int", limits.DISTILL_SNIPPETS),
            ("distill_length", length, "int", limits.DISTILL_LENGTH),
            ("distill_layer", layer, "int", limits.DISTILL_LAYER),
            ("distill_lr", lr, "float", limits.DISTILL_LEARNING_RATE),
            ("distill_epochs", epochs, "int", limits.DISTILL_EPOCHS),
            ("distill_batch_size", batch_size, "int", limits.DISTILL_BATCH_SIZE),
            ("distill_window", window, "int", limits.DISTILL_WINDOW),
            ("seed", seed, "int", limits.SEED_VALUE)):
        check_value(c, name, value, kind=kind, range=bounds, positive=name == "distill_lr")
    if isinstance(layer, int) and layer == 0:
        c.add("distill_layer", "0 is the input embeddings, not a layer",
              "give -1 for the last layer, or a layer's number (negative counts from the end)")
    c.raise_if_any()


def resolve_layer(model, layer: int) -> int:
    """The index (1 … L) into ``hidden_states`` that ``layer`` names for this model."""
    depth = int(model.config.get_text_config().num_hidden_layers)
    if layer == 0 or not -depth <= layer <= depth:
        raise fail("distill_layer", f"{layer} is not a layer of this model, which has {depth}",
                   f"give -1 (the last) down to -{depth}, or 1 to {depth}")
    return layer if layer > 0 else depth + 1 + layer


# -- passes ------------------------------------------------------------------------------------

def _states(model, index: int, **inputs) -> torch.Tensor:
    """``hidden_states[index]`` of the decoder for the inputs ([B, T, D], the model's dtype)."""
    decoder = decoder_of(model)
    if index == int(model.config.get_text_config().num_hidden_layers):
        return decoder(**inputs, use_cache=False).last_hidden_state
    return decoder(**inputs, use_cache=False, output_hidden_states=True).hidden_states[index]


@torch.no_grad()
def teacher_rows(model, snippets: list[Snippet], index: int, *, pad_id: int = 0,
                 batch_size: int = TEACHER_BATCH) -> list[torch.Tensor]:
    """Per snippet, the teacher's hidden states at its compared positions ([n, D], float32)."""
    device = model.get_input_embeddings().weight.device
    order = sorted(range(len(snippets)), key=lambda i: len(snippets[i].ids))
    rows: list[torch.Tensor | None] = [None] * len(snippets)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        ids, mask, _ = pad_right([list(snippets[i].ids) for i in chunk], pad_id)
        states = _states(model, index, input_ids=ids.to(device), attention_mask=mask.to(device))
        for b, i in enumerate(chunk):
            rows[i] = states[b, list(snippets[i].aligned.teacher_positions)].float()
    return rows  # type: ignore[return-value]


def student_states(model, snippets: list[Snippet], vectors: torch.Tensor, index: int, *,
                   pad_id: int = 0) -> torch.Tensor:
    """The student's hidden states at every snippet's compared positions, stacked ([Σn, D], float32).

    ``vectors`` [B, D]: the vector each snippet's token positions hold; differentiable.
    """
    weight = model.get_input_embeddings().weight
    aligned = [s.aligned for s in snippets]
    ids, mask, _ = pad_right([list(a.student_ids) for a in aligned], pad_id)
    ids, mask = ids.to(weight.device), mask.to(weight.device)
    is_token = torch.zeros(ids.shape, dtype=torch.bool, device=weight.device)
    rows, cols = [], []
    for b, a in enumerate(aligned):
        is_token[b, list(a.token_positions)] = True
        rows += [b] * len(a.student_positions)
        cols += a.student_positions
    with torch.no_grad():
        base = model.get_input_embeddings()(ids)
    x = torch.where(is_token.unsqueeze(-1), vectors.to(device=weight.device, dtype=base.dtype).unsqueeze(1), base)
    states = _states(model, index, inputs_embeds=x, attention_mask=mask)
    return states[torch.tensor(rows, device=weight.device), torch.tensor(cols, device=weight.device)].float()


def snippet_loss(model, snippets: list[Snippet], vector: torch.Tensor, *, layer: int = -1,
                 pad_id: int = 0) -> torch.Tensor:
    """The distillation loss of ``vector`` on ``snippets`` as one batch (differentiable in ``vector``)."""
    index = resolve_layer(model, layer)
    targets = torch.cat(teacher_rows(model, snippets, index, pad_id=pad_id))
    states = student_states(model, snippets, vector.view(1, -1).expand(len(snippets), -1), index, pad_id=pad_id)
    return (states - targets.to(states.device)).pow(2).mean()


# -- training ----------------------------------------------------------------------------------

class _Group:
    """The symbols distilled together: their snippets, cached teacher rows, vectors and optimizers."""

    def __init__(self, model, sets: list[list[Snippet]], inits: torch.Tensor, *, index: int, lr: float,
                 seed: int, pad_id: int, max_rows: int):
        self.model, self.sets, self.index, self.pad_id, self.max_rows = model, sets, index, pad_id, max_rows
        flat = [s for snippets in sets for s in snippets]
        cached = teacher_rows(model, flat, index, pad_id=pad_id)
        self.targets, start = [], 0
        for snippets in sets:
            self.targets.append(cached[start:start + len(snippets)])
            start += len(snippets)
        device = model.get_input_embeddings().weight.device
        self.vectors = [inits[k].detach().to(device=device, dtype=torch.float32).clone().requires_grad_(True)
                        for k in range(len(sets))]
        self.optimizers = [torch.optim.AdamW([e], lr=lr, weight_decay=0.0) for e in self.vectors]
        self.shufflers = [torch.Generator().manual_seed(int(seed)) for _ in sets]

    def epoch_batches(self, batch_size: int) -> list[list[list[int]]]:
        """Per symbol, this epoch's batches of snippet numbers (a fresh seeded shuffle)."""
        out = []
        for snippets, shuffler in zip(self.sets, self.shufflers):
            order = torch.randperm(len(snippets), generator=shuffler).tolist()
            out.append([order[s:s + batch_size] for s in range(0, len(order), batch_size)])
        return out

    def steps(self, window: list[dict[int, list[int]]]) -> list[dict[int, float]]:
        """The optimizer steps of ``window`` (per step: symbol → its snippet numbers), in order; their losses.

        Every student pass of the window runs at the vectors as they are now, batched; each step's
        gradient is then applied in turn. One step per window is the published loop exactly.
        """
        rows = [(w, k, i) for w, batches in enumerate(window) for k, chosen in batches.items() for i in chosen]
        counts = {(w, k): sum(self.sets[k][i].compared for i in chosen) * self.vectors[k].shape[0]
                  for w, batches in enumerate(window) for k, chosen in batches.items()}
        losses = [dict.fromkeys(batches, 0.0) for batches in window]
        grads: dict[tuple[int, int], torch.Tensor] = {}
        for start in range(0, len(rows), self.max_rows):
            part = rows[start:start + self.max_rows]
            # One leaf per row, so that each row's gradient can go to its own step.
            leaves = torch.stack([self.vectors[k].detach() for _, k, _ in part]).requires_grad_(True)
            states = student_states(self.model, [self.sets[k][i] for _, k, i in part], leaves, self.index,
                                    pad_id=self.pad_id)
            targets = torch.cat([self.targets[k][i] for _, k, i in part]).to(states.device)
            errors = (states - targets).pow(2).sum(-1)
            total, offset = 0.0, 0
            for w, k, i in part:
                n = self.sets[k][i].compared
                share = errors[offset:offset + n].sum() / counts[(w, k)]
                losses[w][k] += float(share.detach())
                total = total + share
                offset += n
            total.backward()
            for r, (w, k, _) in enumerate(part):
                grads[(w, k)] = leaves.grad[r] if (w, k) not in grads else grads[(w, k)] + leaves.grad[r]
        for w, batches in enumerate(window):
            for k in batches:
                self.vectors[k].grad = grads[(w, k)]
                self.optimizers[k].step()
        return losses


def _check_inputs(model, tokenizer, specs, settings: dict, inits) -> int:
    check_settings(**settings)
    index = resolve_layer(model, settings["layer"])
    for spec in specs:
        check_length(tokenizer, spec, settings["length"])
    if inits is not None and tuple(inits.shape[:1]) != (len(specs),):
        raise ValueError(f"expected {len(specs)} starting vectors, got {tuple(inits.shape)}")
    return index


def distill_many(model, tokenizer, specs: list, *, snippets: int = 100, length: int = 50, layer: int = -1,
                 lr: float = 1e-4, epochs: int = 1, batch_size: int = 1, seed: int = 0, window: int = 1,
                 inits: torch.Tensor | None = None, snippet_sets: list[list[Snippet]] | None = None,
                 precision: str = "model", on_epoch: Callable[[dict], None] | None = None,
                 on_step: Callable[[dict], None] | None = None, max_rows: int = MAX_ROWS,
                 max_snippets: int = MAX_SNIPPETS) -> list[DistillResult]:
    """One ``DistillResult`` per spec, each what ``distill`` gives for that spec alone.

    ``window``: steps whose student passes run together (1: the published loop exactly; see the
    module docstring). ``inits`` [K, D]: the starting vectors (default: each spec's sub-token
    mean). ``snippet_sets``: each spec's snippets, already built (default: ``build_snippets`` with
    ``snippets``, ``length`` and ``seed``). ``precision``: of the passes (``core.embedding.precision``). ``on_step`` gets ``{"step", "steps", "epoch", "epochs", "train_loss", "val_loss",
    "seconds", "symbols"}`` after every step (the epoch fractional, the loss averaged over the
    symbols that stepped), ``on_epoch`` the same keys as ``optimize_input_embedding`` reports, plus
    ``symbols``, after every epoch; ``val_loss`` is None (the method has no validation set).
    """
    started = time.perf_counter()
    settings = dict(snippets=snippets, length=length, layer=layer, lr=lr, epochs=epochs, batch_size=batch_size,
                    seed=seed, window=window)
    index = _check_inputs(model, tokenizer, specs, settings, inits)
    if snippet_sets is None:
        snippet_sets = [build_snippets(model, tokenizer, spec, snippets=snippets, length=length, seed=seed)
                        for spec in specs]
    if inits is None:
        inits = torch.stack([subtoken_mean(model, tokenizer, spec) for spec in specs])
    built = time.perf_counter() - started
    results: list[DistillResult | None] = [None] * len(specs)
    with frozen(model), passes_in(model, precision):
        for members in consecutive_groups([len(s) for s in snippet_sets], max_snippets):
            group = _Group(model, [snippet_sets[k] for k in members], inits[members], index=index, lr=lr,
                           seed=seed, pad_id=pad_id_of(tokenizer), max_rows=max_rows)
            found = _train(group, epochs=epochs, batch_size=batch_size, window=window, started=started,
                           on_epoch=on_epoch, on_step=on_step)
            for k, result in zip(members, found):
                result.settings.update(settings, layer_index=index, precision=precision,
                                       snippets_built=len(snippet_sets[k]), symbols_together=len(members),
                                       snippet_seconds=round(built, 4),
                                       loss="mean squared error of hidden states")
                results[k] = result
    return results  # type: ignore[return-value]


def _train(group: _Group, *, epochs: int, batch_size: int, window: int, started: float, on_epoch,
           on_step) -> list[DistillResult]:
    symbols = len(group.sets)
    histories: list[list[dict]] = [[] for _ in range(symbols)]
    steps: list[list[float]] = [[] for _ in range(symbols)]
    per_epoch = max((len(s) + batch_size - 1) // batch_size for s in group.sets)
    for epoch in range(1, epochs + 1):
        batches = group.epoch_batches(batch_size)
        totals, counts = [0.0] * symbols, [0] * symbols
        for first in range(0, per_epoch, window):
            span = range(first, min(first + window, per_epoch))
            found = group.steps([{k: b[t] for k, b in enumerate(batches) if t < len(b)} for t in span])
            for t, losses in zip(span, found):
                for k, loss in losses.items():
                    steps[k].append(loss)
                    totals[k] += loss
                    counts[k] += 1
                if on_step is not None:
                    on_step({"step": (epoch - 1) * per_epoch + t + 1, "steps": epochs * per_epoch,
                             "epoch": round(epoch - 1 + (t + 1) / per_epoch, 4), "epochs": epochs,
                             "train_loss": sum(losses.values()) / len(losses), "val_loss": None,
                             "seconds": round(time.perf_counter() - started, 4), "symbols": symbols})
        seconds = round(time.perf_counter() - started, 4)
        means = [totals[k] / max(counts[k], 1) for k in range(symbols)]
        for k in range(symbols):
            histories[k].append({"epoch": epoch, "epochs": epochs, "train_loss": means[k], "val_loss": None,
                                 "seconds": seconds})
        if on_epoch is not None:
            on_epoch({"epoch": epoch, "epochs": epochs, "train_loss": sum(means) / symbols, "val_loss": None,
                      "seconds": seconds, "symbols": symbols})
    seconds = time.perf_counter() - started
    return [DistillResult(vector=group.vectors[k].detach().float().cpu().clone(), history=histories[k],
                          steps=steps[k], seconds=seconds, settings={}) for k in range(symbols)]


def _without_symbols(callback: Callable[[dict], None] | None) -> Callable[[dict], None] | None:
    if callback is None:
        return None
    return lambda entry: callback({k: v for k, v in entry.items() if k != "symbols"})


def distill(model, tokenizer, spec, *, snippets: int = 100, length: int = 50, layer: int = -1, lr: float = 1e-4,
            epochs: int = 1, batch_size: int = 1, seed: int = 0, window: int = 1, init: torch.Tensor | None = None,
            snippet_set: list[Snippet] | None = None, precision: str = "model",
            on_epoch: Callable[[dict], None] | None = None, on_step: Callable[[dict], None] | None = None,
            max_rows: int = MAX_ROWS) -> DistillResult:
    """Token Distillation of ``spec``'s new token's input row (see the module docstring).

    ``init``: the starting vector (default: the sub-token mean). ``snippet_set``: the snippets,
    already built (default: the fine-tuning sentences and ``snippets`` generated ones). ``on_epoch``
    gets ``{"epoch", "epochs", "train_loss", "val_loss", "seconds"}`` after every epoch, as from
    ``optimize_input_embedding`` (``val_loss`` None); ``on_step`` the same after every step, with
    ``step``, ``steps`` and a fractional ``epoch``.
    """
    return distill_many(model, tokenizer, [spec], snippets=snippets, length=length, layer=layer, lr=lr,
                        epochs=epochs, batch_size=batch_size, seed=seed, window=window,
                        inits=None if init is None else init.view(1, -1),
                        snippet_sets=None if snippet_set is None else [snippet_set], precision=precision,
                        on_epoch=_without_symbols(on_epoch), on_step=_without_symbols(on_step),
                        max_rows=max_rows)[0]
