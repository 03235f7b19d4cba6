"""``mean_resizing``: a sample as transformers' ``resize_token_embeddings(mean_resizing=True)`` draws it."""

from __future__ import annotations

import torch

from core.embedding.strategies.base import Strategy, generator, input_matrix

# transformers' mean_resizing scales the vocabulary's covariance by this factor before sampling
# (modeling_utils._init_added_embeddings_weights_with_mean in transformers 5).
MEAN_RESIZING_EPSILON = 1e-9


def mean_resizing_parameters(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(mean, Cholesky factor of ε·covariance) exactly as transformers' mean_resizing computes them.

    The covariance divides by the number of rows (not rows − 1) and is scaled by ε = 1e-9, so the
    samples sit very close to the vocabulary's mean. When ε·covariance is not positive definite,
    transformers falls back to the mean; the factor is then ``None``.
    """
    weight = matrix.to(torch.float32)
    mean = weight.mean(0)
    centered = weight - mean
    covariance = centered.T @ centered / weight.shape[0]
    factor, info = torch.linalg.cholesky_ex(MEAN_RESIZING_EPSILON * covariance)
    return mean, (factor if int(info) == 0 else None)


class MeanResizing(Strategy):
    name = "mean_resizing"
    label = "Mean and covariance sampling"
    help = ("What transformers' resize_token_embeddings(mean_resizing=True) does: a sample from a normal "
            "distribution with the vocabulary's mean and (scaled) covariance.")
    order = 90

    def seeded(self, config) -> bool:
        return True

    def input_row(self, model, tokenizer, spec, config, on_epoch=None):
        mean, factor = mean_resizing_parameters(input_matrix(model))
        if factor is None:
            return mean, {"epsilon": MEAN_RESIZING_EPSILON, "sampled": False}
        # The same draw MultivariateNormal(mean, ε·cov).sample() makes: mean + L·z with z ~ N(0, I).
        z = torch.empty(mean.shape[0]).normal_(generator=generator(config.seed))
        return mean + factor @ z, {"epsilon": MEAN_RESIZING_EPSILON, "sampled": True}


STRATEGY = MeanResizing()
