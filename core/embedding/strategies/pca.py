"""``pca``: the first principal direction of the gloss's sub-token rows."""

from __future__ import annotations

import torch

from core.embedding.strategies.base import Strategy, per_gloss


def principal_direction(rows: torch.Tensor) -> torch.Tensor:
    """The first principal direction of ``rows`` (uncentered), pointing like and as long as their mean.

    Uncentered on purpose: centering two sub-tokens leaves only their difference (" wool" − " shop"),
    which is not a meaning of the gloss; without centering, the first right singular vector is the
    single direction that best represents all sub-tokens together (their mean's direction when
    they are parallel). Its sign is arbitrary, so it is flipped to agree with the mean, and it is
    scaled to the mean's norm so that it sits where the other strategies' vectors sit.
    """
    mean = rows.mean(0)
    direction = torch.linalg.svd(rows.double(), full_matrices=False).Vh[0].float()
    if torch.dot(direction, mean) < 0:
        direction = -direction
    return direction * mean.norm()


class Pca(Strategy):
    name = "pca"
    label = "Principal direction of the tokens"
    help = ("First principal direction of the gloss's sub-token embeddings, pointing like their mean and as long "
            "as it.")
    order = 70

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        return per_gloss(model, tokenizer, spec, principal_direction), {"centered": False}


STRATEGY = Pca()
