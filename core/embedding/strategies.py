"""Initial input and output rows of the new token: one entry point, one function per strategy.

``initial_rows(model, tokenizer, spec, config)`` is the only public way in. It dispatches on
``config.strategy`` to one private function that computes the INPUT vector; the OUTPUT vector is
the calculated one (least squares, ``core.embedding.output``) for every strategy except
``random_both``, whose output row is random too (the research's worst case, kept for comparison).

Glosses are tokenized with their leading space (" wool shop"), as they appear after a word. With
several synonymous glosses, every sub-token strategy works per gloss and then averages across
glosses, so a gloss with more sub-tokens does not weigh more than a short one.

Every random draw uses a local ``torch.Generator`` seeded with ``config.seed``: the same seed gives
the same vector, whatever else has used the global random state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import torch

from core.spec import limits
from core.spec import settings
from core.spec.settings import choices_of, setting
from core.embedding.optimize import optimize_input_embedding
from core.embedding.output import OutputFit, output_embedding
from core.embedding.precision import Precision


StrategyName = Literal["optimized", "average", "last_token", "random", "random_both", "first_token", "pca",
                       "attention", "mean_resizing"]
RandomScale = Literal["matched", "unit"]
OptInit = Literal["average", "random"]
RESEARCH_STRATEGIES = ("optimized", "average", "last_token", "random", "random_both")

# transformers' mean_resizing scales the vocabulary's covariance by this factor before sampling
# (modeling_utils._init_added_embeddings_weights_with_mean in transformers 5).
MEAN_RESIZING_EPSILON = 1e-9


@dataclass
class InitConfig(settings.Config):
    """How to initialise the new token's rows. Invalid values raise one ``InputError`` naming each field."""

    WHAT = "initialization settings"

    strategy: StrategyName = setting("average", label="Initialization strategy", choices=choices_of(StrategyName),
                                     help="How the new token's input row starts (see the strategies table).")
    seed: int = setting(0, label="Random seed", range=limits.SEED_VALUE,
                        help="Seed of every random draw (random strategies, the optimization's start).")
    random_scale: RandomScale = setting("matched", label="Scale of random vectors", choices=choices_of(RandomScale),
                                        help="matched: like the model's embedding rows (fair baseline); "
                                             "unit: unit-variance noise (as in the research).")
    negative_logit: float = setting(-10.0, label="Target logit for negative contexts",
                                    range=limits.NEGATIVE_LOGIT,
                                    help="The output row's logit that least squares aims for after a negative "
                                         "context.")
    opt_lr: float = setting(0.01, label="Optimization learning rate", range=limits.LEARNING_RATE, positive=True,
                            help="Optimized strategy: AdamW learning rate of the input vector.")
    opt_epochs: int = setting(30, label="Optimization epochs", range=limits.OPTIMIZER_EPOCHS,
                              help="Optimized strategy: passes over the positive contexts.")
    opt_init: OptInit = setting("average", label="Optimization start", choices=choices_of(OptInit),
                                help="Optimized strategy: start from the average of the gloss's tokens or "
                                     "from a random vector.")
    opt_batch_size: int = setting(64, label="Optimization batch size", range=limits.BATCH_SIZE,
                                  help="Optimized strategy: contexts per step.")
    precision: Precision = setting("model", label="Precision of the passes", choices=choices_of(Precision),
                                   advanced=True,
                                   help="model: the contexts run through the model in its own dtype (float32 on "
                                        "a CPU), as the method states; bfloat16: the output fit's and the "
                                        "optimization's passes run in bfloat16 (float32 sums), about 2.5 times "
                                        "faster on a CPU with native bfloat16, with contextual embeddings about "
                                        "1 % off.")
    contrast_negatives: int = setting(200, label="Contrast negatives per symbol", range=limits.CONTRAST_NEGATIVES,
                                      advanced=True,
                                      help="A vocabulary with contrast: how many of the other symbols' positive "
                                           "contexts join each symbol's negatives, drawn with the seed (0 = all "
                                           "of them; all when there are fewer).")



@dataclass
class InitRows:
    """The new token's starting rows, the least-squares fit (None for random_both), and JSON-able details."""

    input_row: torch.Tensor
    output_row: torch.Tensor
    output_fit: OutputFit | None
    details: dict = field(default_factory=dict)


# -- helpers -----------------------------------------------------------------------------------

def _input_matrix(model) -> torch.Tensor:
    return model.get_input_embeddings().weight.detach().float().cpu()


def gloss_token_ids(tokenizer, spec) -> list[list[int]]:
    """Sub-token ids of each gloss, measured with its leading space."""
    return [tokenizer.encode(text, add_special_tokens=False) for text in spec.gloss_texts]


def _gloss_rows(model, tokenizer, spec) -> list[torch.Tensor]:
    """Per gloss: its sub-tokens' input embeddings [n_g, D] (float32)."""
    weight = _input_matrix(model)
    return [weight[ids] for ids in gloss_token_ids(tokenizer, spec)]


def _per_gloss(model, tokenizer, spec, combine: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Apply ``combine`` to each gloss's sub-token embeddings, then average across glosses."""
    return torch.stack([combine(rows) for rows in _gloss_rows(model, tokenizer, spec)]).mean(0)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def random_vector(matrix: torch.Tensor, scale: str, generator: torch.Generator) -> torch.Tensor:
    """Noise of the matrix's per-dimension mean and standard deviation ("matched") or N(0, 1) ("unit")."""
    noise = torch.randn(matrix.shape[1], generator=generator)
    if scale == "unit":
        return noise
    return matrix.mean(0) + matrix.std(0) * noise


def _scale_details(matrix: torch.Tensor, vector: torch.Tensor, scale: str) -> dict:
    return {"scale": scale,
            "std": "per dimension of the matrix" if scale == "matched" else 1.0,
            "vector_norm": float(vector.norm()),
            "median_row_norm": float(matrix.norm(dim=1).median())}


# -- one function per strategy: each returns (input vector, details) ---------------------------

def _average(model, tokenizer, spec, config) -> tuple[torch.Tensor, dict]:
    return _per_gloss(model, tokenizer, spec, lambda rows: rows.mean(0)), {}


def _last_token(model, tokenizer, spec, config) -> tuple[torch.Tensor, dict]:
    # With several glosses: the average of their last sub-tokens (" shop" for both "wool shop" and
    # "yarn shop", so here simply " shop").
    return _per_gloss(model, tokenizer, spec, lambda rows: rows[-1]), {}


def _first_token(model, tokenizer, spec, config) -> tuple[torch.Tensor, dict]:
    return _per_gloss(model, tokenizer, spec, lambda rows: rows[0]), {}


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


def _pca(model, tokenizer, spec, config) -> tuple[torch.Tensor, dict]:
    return _per_gloss(model, tokenizer, spec, principal_direction), {"centered": False}


def attention_mean(rows: torch.Tensor) -> torch.Tensor:
    """Sub-tokens weighted by ``softmax(rows @ mean)``: those most like the whole gloss count most.

    The dot products are not divided by sqrt(D): the method states the plain dot product, and for
    the default model they are a few units apart (" wool" 5.3, " shop" 4.2), which gives telling
    weights (0.75 / 0.25); divided by sqrt(576) = 24 they would be almost uniform, i.e. the average.
    """
    weights = torch.softmax(rows @ rows.mean(0), dim=0)
    return weights @ rows


def _attention(model, tokenizer, spec, config) -> tuple[torch.Tensor, dict]:
    weights = [torch.softmax(rows @ rows.mean(0), dim=0).tolist() for rows in _gloss_rows(model, tokenizer, spec)]
    vector = _per_gloss(model, tokenizer, spec, attention_mean)
    return vector, {"weights": [[round(w, 4) for w in ws] for ws in weights], "scaled": False}


def _random(model, tokenizer, spec, config) -> tuple[torch.Tensor, dict]:
    matrix = _input_matrix(model)
    vector = random_vector(matrix, config.random_scale, _generator(config.seed))
    return vector, {"input_random": _scale_details(matrix, vector, config.random_scale)}


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


def _mean_resizing(model, tokenizer, spec, config) -> tuple[torch.Tensor, dict]:
    mean, factor = mean_resizing_parameters(_input_matrix(model))
    if factor is None:
        return mean, {"epsilon": MEAN_RESIZING_EPSILON, "sampled": False}
    # The same draw MultivariateNormal(mean, ε·cov).sample() makes: mean + L·z with z ~ N(0, I).
    z = torch.empty(mean.shape[0]).normal_(generator=_generator(config.seed))
    return mean + factor @ z, {"epsilon": MEAN_RESIZING_EPSILON, "sampled": True}


def _optimized(model, tokenizer, spec, config, on_epoch=None) -> tuple[torch.Tensor, dict]:
    if config.opt_init == "average":
        start, _ = _average(model, tokenizer, spec, config)
    else:
        start, _ = _random(model, tokenizer, spec, config)
    result = optimize_input_embedding(model, tokenizer, spec, lr=config.opt_lr, epochs=config.opt_epochs,
                                      init=start, batch_size=config.opt_batch_size, on_epoch=on_epoch,
                                      precision=config.precision)
    details = {"init": config.opt_init, **result.to_dict()}
    details["optimization_seconds"] = details.pop("seconds")
    if config.opt_init == "random":
        details["random_scale"] = config.random_scale
    details["cosine_to_start"] = float(torch.nn.functional.cosine_similarity(result.vector, start, dim=0))
    return result.vector, details


@dataclass(frozen=True)
class StrategyInfo:
    """One strategy: its name, its label and help on the page, whether its output row is calculated,
    the function that computes its input vector, and its row label in the research table."""

    name: str
    label: str
    help: str
    calculated_output: bool
    input_vector: Callable
    row_label: str = ""

    @property
    def table_label(self) -> str:
        """The research table's first column ("Averaged input; calculated output")."""
        return self.row_label or f"{self.label}; {'calculated' if self.calculated_output else 'random'} output"


# The one registry: what the page, the CLI and a comparison list, in this order. ``random_both``
# shares ``_random`` for its input half; its output half is drawn in ``initial_rows``.
STRATEGIES: dict[str, StrategyInfo] = {s.name: s for s in (
    StrategyInfo("optimized", "Optimized (contextual)",
                 "Learns one vector so that, appended after each positive context, the model's contextual "
                 "embedding matches the gloss's (1 − cosine loss, AdamW, best epoch by validation loss).", True,
                 _optimized, row_label="Optimized input; calculated output"),
    StrategyInfo("average", "Average of the gloss's tokens",
                 "Mean of the input embeddings of the gloss's sub-tokens; averaged across glosses.", True,
                 _average, row_label="Averaged input; calculated output"),
    StrategyInfo("last_token", "Last token of the gloss",
                 "Input embedding of the gloss's last sub-token (' shop'); averaged across glosses.", True,
                 _last_token, row_label="Last token input; calculated output"),
    StrategyInfo("random", "Random input",
                 "Random noise, matched to the embedding matrix's per-dimension mean and spread (or unit "
                 "variance, as in the research); the output row is still calculated.", True,
                 _random, row_label="Random input; calculated output"),
    StrategyInfo("random_both", "Random input and output",
                 "Both rows random; nothing calculated. The research's baseline.", False,
                 _random, row_label="Random input & output"),
    StrategyInfo("first_token", "First token of the gloss",
                 "Input embedding of the gloss's first sub-token (' wool'); averaged across glosses.", True,
                 _first_token),
    StrategyInfo("pca", "Principal direction of the tokens",
                 "First principal direction of the gloss's sub-token embeddings, pointing like their mean "
                 "and as long as it.", True,
                 _pca),
    StrategyInfo("attention", "Attention-weighted mean",
                 "Sub-tokens weighted by the softmax of their dot product with the mean.", True,
                 _attention),
    StrategyInfo("mean_resizing", "Mean and covariance sampling",
                 "What transformers' resize_token_embeddings(mean_resizing=True) does: a sample from a normal "
                 "distribution with the vocabulary's mean and (scaled) covariance.", True,
                 _mean_resizing),
)}
if tuple(STRATEGIES) != choices_of(StrategyName):
    raise ImportError("StrategyName and STRATEGIES must list the same strategies in the same order")



def _input_vector(model, tokenizer, spec, config: InitConfig, on_epoch=None) -> tuple[torch.Tensor, dict]:
    if config.strategy == "optimized":
        return _optimized(model, tokenizer, spec, config, on_epoch)
    return STRATEGIES[config.strategy].input_vector(model, tokenizer, spec, config)


# Strategies whose input vector uses ``config.seed`` (a random draw); ``optimized`` does when it
# starts from a random vector. Every other computation here is deterministic.
SEEDED_STRATEGIES = ("random", "random_both", "mean_resizing")


def depends_on_seed(config: InitConfig) -> bool:
    """Whether ``initial_rows`` can give different rows for another ``config.seed``.

    False for the sub-token strategies (average, last_token, first_token, pca, attention) and for
    ``optimized`` from the average: the optimization has no random draw (fixed batches, no dropout,
    the model frozen). A comparison initializes and evaluates those once for all its seeds.
    """
    if config.strategy == "optimized":
        return config.opt_init != "average"
    return config.strategy in SEEDED_STRATEGIES


def fit_key(of: InitConfig | OutputFit) -> tuple[float, str]:
    """What the calculated output row depends on besides the model and the spec: the negative
    contexts' target logit and the precision of the pass."""
    return float(of.negative_logit), of.precision


def initial_rows(model, tokenizer, spec, config: InitConfig,
                 on_epoch: Callable[[dict], None] | None = None, output_fit: OutputFit | None = None) -> InitRows:
    """The new token's input and output rows for ``config.strategy`` (see the module docstring).

    ``on_epoch`` receives ``{"epoch", "epochs", "train_loss", "val_loss", "seconds"}`` after every
    epoch of the optimized strategy; other strategies never call it. ``output_fit``: the calculated
    output row already computed for this model, spec, ``config.negative_logit`` and
    ``config.precision`` (it depends on nothing else; a comparison computes it once for all its
    members); a fit for other settings is not used.
    """
    started = time.perf_counter()
    input_row, details = _input_vector(model, tokenizer, spec, config, on_epoch)
    if config.strategy == "random_both":
        output = model.get_output_embeddings().weight.detach().float().cpu()
        # A generator of its own (seed + 1), so the output draw does not repeat the input's noise.
        output_row = random_vector(output, config.random_scale, _generator(config.seed + 1))
        details["output_random"] = _scale_details(output, output_row, config.random_scale)
        fit = None
    else:
        fit = output_fit
        if fit is None or fit_key(fit) != fit_key(config):
            fit = output_embedding(model, tokenizer, spec, negative_logit=config.negative_logit,
                                   precision=config.precision)
        else:
            details["output_fit_shared"] = True  # computed for an earlier member; not in "seconds"
        output_row = fit.vector.clone()  # the fit may be shared: each member gets rows of its own
    details.update({"strategy": config.strategy, "input_norm": float(input_row.norm()),
                    "output_norm": float(output_row.norm()),
                    "seconds": round(time.perf_counter() - started, 4)})
    return InitRows(input_row=input_row.detach().float().cpu(), output_row=output_row.detach().float().cpu(),
                    output_fit=fit, details=details)


def input_vectors(model, tokenizer, spec, names, config: InitConfig) -> dict[str, torch.Tensor]:
    """The input vector each named strategy starts from (e.g. for a table of cosine similarities)."""
    vectors = {}
    for name in names:
        sub = InitConfig(**{**config.to_dict(), "strategy": name})
        vectors[name] = _input_vector(model, tokenizer, spec, sub)[0].detach().float().cpu()
    return vectors
