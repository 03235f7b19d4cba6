"""A vocabulary's confusion matrix, kept sparse: which token comes up where another symbol belongs.

Entry ``[i][j]`` of the full matrix is the median rank of token ``i`` over symbol ``j``'s
testing-positive contexts, ranked among all next-token candidates as ``evaluate.rank_table``
ranks (1 = top). The diagonal is each token's own median rank (low is good); off the diagonal,
high is good. For K symbols the whole matrix is K² numbers (41 million for the lexicon's 6,420),
and nearly all of them say only "far down"; what a reader needs is each token's own rank and its
closest confusions. So the result keeps:

* ``own_rank[k]``: token k's median rank on its own symbol's contexts (the diagonal);
* ``cells``: ``[i, j, rank]`` off the diagonal for each token's ``top_k`` best-ranked other
  symbols (where it comes up most) and each symbol's ``top_k`` best-ranked other tokens (what comes
  up where it belongs), each cell once, sorted by (i, j); ties go to the lower index;
* ``shown``: the symbols a heatmap draws, at most ``SHOWN`` of them: every symbol of a small
  vocabulary, else the most confused (lowest off-diagonal rank in their row or column).

With ``top_k`` ≥ K − 1 every cell is kept, and ``dense`` gives back the full matrix. The summary
(own rank, worst confusion, how many tokens rank best on their own symbol) is exact from the
sparse form: a symbol's best other token is always among its column's ``top_k``.

The pass goes symbol by symbol through ``core.embedding.contexts.median_ranks`` in chunks of
contexts, so memory grows with the vocabulary's size (K × ``top_k`` kept, one chunk's logits), not
with K × contexts.
"""

from __future__ import annotations

import statistics

import torch

from core.embedding.contexts import median_ranks
from core.spec import limits

SHOWN = 30  # symbols a heatmap draws: every cell still prints its rank (glossui.plots)


def _column_cells(column: torch.Tensor, j: int, top_k: int) -> list[tuple[int, int, float]]:
    """The ``top_k`` best-ranked other tokens on symbol ``j``: (i, j, rank), lower i first on ties."""
    others = column.clone()
    others[j] = float("inf")
    order = torch.sort(others, stable=True).indices[:top_k]
    return [(int(i), j, float(others[i])) for i in order if torch.isfinite(others[i])]


class _RowBest:
    """Each token's ``top_k`` best-ranked other symbols so far, merged chunk by chunk of columns."""

    def __init__(self, n_tokens: int, top_k: int) -> None:
        self.values = torch.full((n_tokens, top_k), float("inf"), dtype=torch.float64)
        self.symbols = torch.full((n_tokens, top_k), -1, dtype=torch.long)
        self.top_k = top_k

    def add(self, columns: torch.Tensor, js: list[int]) -> None:
        block = columns.clone()
        block[js, range(len(js))] = float("inf")  # the diagonal is not a confusion
        values = torch.cat([self.values, block], dim=1)
        symbols = torch.cat([self.symbols, torch.tensor(js).expand(block.shape[0], -1)], dim=1)
        # Stable: earlier (lower) symbols win ties, as the columns come in vocabulary order.
        order = torch.sort(values, dim=1, stable=True).indices[:, : self.top_k]
        self.values, self.symbols = values.gather(1, order), symbols.gather(1, order)

    def cells(self) -> list[tuple[int, int, float]]:
        return [(i, int(j), float(v)) for i in range(self.values.shape[0])
                for v, j in zip(self.values[i], self.symbols[i]) if j >= 0 and torch.isfinite(v)]


def confusion_matrix(model, tokenizer, vocab, token_ids: list[int], top_k: int = limits.CONFUSION_TOP_K,
                     contexts_at_once: int = limits.CONFUSION_CONTEXTS_AT_ONCE) -> dict:
    """The sparse confusion matrix of ``token_ids`` (one per symbol of ``vocab``) over every symbol's
    testing-positive contexts (see the module docstring)."""
    groups = [list(spec.testing_positive_contexts) for spec in vocab.specs]
    k = max(1, min(top_k, len(token_ids) - 1))
    own = [0.0] * len(groups)
    cells: dict[tuple[int, int], float] = {}
    rows = _RowBest(len(token_ids), k)
    pending: list[torch.Tensor] = []
    pending_js: list[int] = []
    for j, column in median_ranks(model, tokenizer, groups, token_ids, contexts_at_once):
        own[j] = float(column[j])
        if len(token_ids) > 1:
            cells.update({(i, jj): v for i, jj, v in _column_cells(column, j, k)})
        pending.append(column)
        pending_js.append(j)
        if len(pending) >= 64:
            rows.add(torch.stack(pending, dim=1), pending_js)
            pending, pending_js = [], []
    if pending:
        rows.add(torch.stack(pending, dim=1), pending_js)
    if len(token_ids) > 1:
        cells.update({(i, j): v for i, j, v in rows.cells()})
    return _sparse(vocab.tokens, [s.glosses[0] for s in vocab.specs], own, cells, top_k)


def _sparse(tokens: list[str], symbols: list[str], own: list[float], cells: dict[tuple[int, int], float],
            top_k: int) -> dict:
    data = {"tokens": list(tokens), "symbols": list(symbols), "top_k": top_k, "own_rank": list(own),
            "cells": [[i, j, v] for (i, j), v in sorted(cells.items())]}
    data["shown"] = most_confused(data, SHOWN)
    return data


def sparse_from_dense(tokens: list[str], symbols: list[str], matrix: list[list[float]],
                      top_k: int = limits.CONFUSION_TOP_K) -> dict:
    """The sparse form of a full matrix ``[token][symbol]`` (what ``confusion_matrix`` keeps of it)."""
    n = len(matrix)
    k = max(1, min(top_k, n - 1))
    full = torch.tensor(matrix, dtype=torch.float64).reshape(n, n)
    cells: dict[tuple[int, int], float] = {}
    rows = _RowBest(n, k)
    if n > 1:
        for j in range(n):
            cells.update({(i, jj): v for i, jj, v in _column_cells(full[:, j], j, k)})
        rows.add(full, list(range(n)))
        cells.update({(i, j): v for i, j, v in rows.cells()})
    return _sparse(tokens, symbols, [float(full[i, i]) for i in range(n)], cells, top_k)


def dense(confusion: dict) -> list[list[float | None]]:
    """The full matrix ``[token][symbol]`` with the kept cells (None where a cell was not kept)."""
    n = len(confusion["own_rank"])
    matrix: list[list[float | None]] = [[None] * n for _ in range(n)]
    for k, v in enumerate(confusion["own_rank"]):
        matrix[k][k] = v
    for i, j, v in confusion["cells"]:
        matrix[i][j] = v
    return matrix


def most_confused(confusion: dict, limit: int) -> list[int]:
    """Up to ``limit`` symbols, in vocabulary order: all of a small vocabulary; else those whose token
    ranks best on another symbol's contexts, or on whose contexts another token ranks best."""
    n = len(confusion["own_rank"])
    if n <= limit:
        return list(range(n))
    closest = [float("inf")] * n
    for i, j, v in confusion["cells"]:
        closest[i] = min(closest[i], v)
        closest[j] = min(closest[j], v)
    return sorted(sorted(range(n), key=lambda s: (closest[s], s))[:limit])


def confusion_summary(confusion: dict) -> dict:
    """How well the tokens are told apart: the diagonal's median, the off-diagonal's smallest median
    rank (the worst confusion) and where it is, and how many tokens rank best on their own symbol."""
    own = confusion["own_rank"]
    n = len(own)
    best_other: dict[int, float] = {}
    for _, j, v in confusion["cells"]:
        best_other[j] = min(best_other.get(j, float("inf")), v)
    worst = min(((v, i, j) for i, j, v in confusion["cells"]), default=None)
    return {
        "median_own_rank": float(statistics.median(own)) if own else None,
        "lowest_other_rank": worst[0] if worst else None,
        "lowest_other": {"token": confusion["tokens"][worst[1]], "on": confusion["symbols"][worst[2]]} if worst else None,
        "own_token_best": sum(1 for j in range(n) if own[j] <= best_other.get(j, float("inf"))),
        "symbols": n,
    }
