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

from core.embedding.contexts import last_hidden, logits_from_hidden


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

    def to_dict(self) -> dict:
        return {
            "residual": self.residual,
            "max_abs_error": self.max_abs_error,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
            "negative_logit": self.negative_logit,
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


def output_embedding(model, tokenizer, spec, negative_logit: float = -10.0) -> OutputFit:
    """Step 1a: the output row whose logit is the best target's after positive contexts and
    ``negative_logit`` after negative ones."""
    positives, negatives = list(spec.positive_contexts), list(spec.negative_contexts)
    hidden = last_hidden(model, tokenizer, positives + negatives)
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
    )
