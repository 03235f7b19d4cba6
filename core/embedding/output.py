"""The calculated output embedding (method, Step 1a): minimum-norm least squares.

For every positive and negative context ``c`` the unmodified model gives ``h_c``, the contextual
embedding at the context's last token. The new token should score like the best target token after
a positive context and very low (``negative_logit``) after a negative one. Stacking gives
``H w ≈ t``; with fewer contexts than hidden dimensions the system is under-determined and every
exact solution fits, so we take the one of minimum norm: it adds nothing in directions the
contexts never exercise, which keeps the new token's logit small in unrelated contexts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.embedding.contexts import last_hidden, logits_from_hidden, soft_cap
from core.embedding.precision import resolve_precision


@dataclass
class OutputFit:
    """The output row and how well it reproduces the target logits (``h_c · w ≈ t_c``)."""

    vector: torch.Tensor
    residual: float  # root mean square of H·w − t
    max_abs_error: float
    n_positive: int
    n_negative: int
    negative_logit: float
    targets: torch.Tensor
    precision: str = "model"  # of the pass that gave the contextual embeddings (core.embedding.precision)

    def to_dict(self) -> dict:
        return {
            "residual": self.residual,
            "max_abs_error": self.max_abs_error,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
            "negative_logit": self.negative_logit,
            "precision": self.precision,
            "vector_norm": float(self.vector.norm()),
            "targets": [round(float(t), 4) for t in self.targets],
        }


def target_ids(tokenizer, spec) -> list[int]:
    """The id of every target token, measured with its leading space (each is one token)."""
    ids = []
    for word, text in zip(spec.target_tokens, spec.target_texts):
        pieces = tokenizer.encode(text, add_special_tokens=False)
        if len(pieces) != 1:
            raise ValueError(f"target token {word!r} is {len(pieces)} tokens; validate the spec with check_spec first")
        ids.append(pieces[0])
    return ids


def solve_min_norm(hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Minimum-norm least-squares solution of ``hidden @ w ≈ targets``, computed in float64.

    ``gelsd`` is LAPACK's SVD-based solver: it returns the minimum-norm solution whether the system
    is over- or under-determined, and whatever the rank of ``hidden``.
    """
    h64 = hidden.detach().to(torch.float64).cpu()
    t64 = targets.detach().to(torch.float64).cpu().reshape(-1, 1)
    return torch.linalg.lstsq(h64, t64, driver="gelsd").solution.reshape(-1)


def output_embedding(model, tokenizer, spec, negative_logit: float = -10.0, precision: str = "model") -> OutputFit:
    """Step 1a: the output row whose logit is the best target's after positive contexts and
    ``negative_logit`` after negative ones. ``precision``: of the pass over the contexts; the target
    logits are taken from its contextual embeddings in the output layer's own dtype."""
    precision = resolve_precision(precision, model)
    positives, negatives = list(spec.positive_contexts), list(spec.negative_contexts)
    hidden = last_hidden(model, tokenizer, positives + negatives, precision=precision)
    ids = target_ids(tokenizer, spec)
    # The logits of the unmodified model, from the same contextual embeddings (h_c · W_out).
    positive_logits = logits_from_hidden(model, hidden[: len(positives)])[:, ids]
    targets = torch.cat([
        positive_logits.max(dim=1).values,
        torch.full((len(negatives),), float(negative_logit)),
    ])
    w = solve_min_norm(hidden, targets)
    errors = hidden.to(torch.float64) @ w - targets.to(torch.float64)
    return OutputFit(
        vector=w.to(torch.float32),
        residual=float(errors.pow(2).mean().sqrt()),
        max_abs_error=float(errors.abs().max()),
        n_positive=len(positives),
        n_negative=len(negatives),
        negative_logit=float(negative_logit),
        targets=targets.to(torch.float32),
        precision=precision,
    )


@torch.no_grad()
def _target_logits(model, hidden: torch.Tensor, ids: list[int]) -> torch.Tensor:
    """``logits_from_hidden(model, hidden)[:, ids]`` without the product over the whole vocabulary.

    The same arithmetic on the chosen rows of the output matrix (dtype, bias and soft-capping as the
    model's own forward pass), so that a batch of many symbols never holds an [N × vocabulary] matrix.
    """
    head = model.get_output_embeddings()
    weight = head.weight
    index = torch.tensor(ids, device=weight.device)
    logits = torch.nn.functional.linear(hidden.to(device=weight.device, dtype=weight.dtype),
                                        weight.index_select(0, index),
                                        None if head.bias is None else head.bias.index_select(0, index)).float()
    return soft_cap(model, logits).cpu()


def _fit(hidden: torch.Tensor, targets: torch.Tensor, n_positive: int, negative_logit: float,
         precision: str) -> OutputFit:
    w = solve_min_norm(hidden, targets)
    errors = hidden.to(torch.float64) @ w - targets.to(torch.float64)
    return OutputFit(vector=w.to(torch.float32), residual=float(errors.pow(2).mean().sqrt()),
                     max_abs_error=float(errors.abs().max()), n_positive=n_positive,
                     n_negative=hidden.shape[0] - n_positive, negative_logit=float(negative_logit),
                     targets=targets.to(torch.float32), precision=precision)


@torch.no_grad()
def output_embeddings(model, tokenizer, specs: list, negative_logit: float = -10.0,
                      extra_negatives: list[list[str]] | None = None, precision: str = "model") -> list[OutputFit]:
    """Step 1a for several specs at once: ONE batched pass of hidden states over every distinct
    context of every spec, then one least-squares fit per spec with its own targets.

    Spec ``k``'s system is exactly ``output_embedding``'s: the rows of its positive contexts
    (target: the best of ITS target tokens' logits) and of its negative contexts (target:
    ``negative_logit``), followed by ``extra_negatives[k]`` (more negative contexts, e.g. the other
    symbols' positives, so that the rows learn to tell the symbols apart). A context that several
    specs share is run once. The fits are separate solves because each spec has other rows.
    ``precision``: of the one pass, as in ``output_embedding``.
    """
    precision = resolve_precision(precision, model)
    extra = extra_negatives if extra_negatives is not None else [[] for _ in specs]
    if len(extra) != len(specs):
        raise ValueError("one list of extra negative contexts per spec")
    rows: dict[str, int] = {}
    for spec, more in zip(specs, extra):
        for text in [*spec.positive_contexts, *spec.negative_contexts, *more]:
            rows.setdefault(text, len(rows))
    texts = list(rows)
    hidden = last_hidden(model, tokenizer, texts, batch_size=64, precision=precision) if texts else torch.empty(0)
    fits = []
    for spec, more in zip(specs, extra):
        positives = [rows[c] for c in spec.positive_contexts]
        negatives = [rows[c] for c in [*spec.negative_contexts, *more]]
        h = hidden[positives + negatives]
        positive_logits = _target_logits(model, hidden[positives], target_ids(tokenizer, spec))
        targets = torch.cat([positive_logits.max(dim=1).values,
                             torch.full((len(negatives),), float(negative_logit))])
        fits.append(_fit(h, targets, len(positives), negative_logit, precision))
    return fits
