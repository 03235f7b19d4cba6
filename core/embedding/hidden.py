"""``hidden_mse``: how closely a new token's input row makes the model read the token as the gloss.

The measure compares two readings by the same model of held-out material: one with the gloss's
sub-tokens, one with a single position holding the input row ``e`` in their place, at the LAST
layer (``hidden_states[-1]`` of ``output_hidden_states=True``: the final hidden state, after the
model's final norm, what the output layer multiplies). It is Token Distillation's loss
(``core.embedding.distill``) on material no strategy trains on, so it can be computed for any
strategy's row, without adding the token to the model (the row enters as ``inputs_embeds``).

Two parts, each a mean squared error (the mean over compared positions and over the D dimensions
of the squared difference):

* ``snippets``: held-out snippets the model generates after the beginning-of-sequence token and
  a gloss (``core.embedding.snippets.generated_snippets``: ``snippets`` of them, shared out among
  the glosses, ``length`` tokens in all), compared at the gloss's last position ↔ the token's
  and at every later position ↔ its shifted twin, all positions of all snippets pooled. They are
  drawn with the seed ``HELD_OUT_SEED_OFFSET + seed`` (2³¹ + seed): training seeds range over
  0 … 2³¹ − 1, so no training draw can use the same seed.
* ``contexts``: every testing-positive context followed by each gloss vs followed by the token,
  compared at one position each (the gloss's last ↔ the token's), averaged over the (context,
  gloss) pairs. The contexts are read without a beginning-of-sequence token, as everywhere the
  project reads contexts.

``combined`` is the plain mean of the two parts, so that running text and the contexts where the
token is used weigh the same whatever the counts of positions.

``HeldOut`` computes everything that does not depend on the row once (the snippets, the gloss
readings, the contexts' key/value cache); ``measure(e)`` then runs only the readings with ``e``,
so many strategies' rows are measured on the same material for the cost of one student pass each.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch

from core.embedding.contexts import encode, gloss_token_ids, pad_id_of
from core.embedding.distill import MAX_ROWS, student_states, teacher_rows
from core.embedding.optimize import PrefixCache, cached_targets, frozen
from core.embedding.snippets import Snippet, generated_snippets
from core.spec.errors import fail

HELD_OUT_SEED_OFFSET = 2**31
HELD_OUT_SNIPPETS = 32
HELD_OUT_LENGTH = 50
# The held-out snippets of recent specs, so that a token is measured on the same material before
# and after fine-tuning (a fine-tuned model would sample other snippets) and by every member.
_SNIPPETS: OrderedDict = OrderedDict()
_KEPT = 64


def held_out_seed(seed: int) -> int:
    """The seed of the held-out snippets for training seed ``seed`` (outside every training seed)."""
    return HELD_OUT_SEED_OFFSET + int(seed)


@dataclass
class HiddenMSE:
    """The two parts of the measure, their mean, and how much material each part compared."""

    snippets: float
    contexts: float
    combined: float
    snippet_positions: int
    context_pairs: int

    def to_dict(self) -> dict:
        return asdict(self)


class HeldOut:
    """The held-out material of one spec and its gloss readings, computed once for many rows."""

    def __init__(self, model, tokenizer, spec, *, snippets: int = HELD_OUT_SNIPPETS, length: int = HELD_OUT_LENGTH,
                 seed: int = 0, snippet_set: list[Snippet] | None = None):
        self.model = model
        self.pad_id = pad_id_of(tokenizer)
        self.depth = int(model.config.get_text_config().num_hidden_layers)
        if snippet_set is None:
            snippet_set = generated_snippets(model, tokenizer, spec, count=snippets, length=length,
                                             seed=held_out_seed(seed))
        self.snippet_set = snippet_set
        with frozen(model):
            self.targets = torch.cat(teacher_rows(model, snippet_set, self.depth, pad_id=self.pad_id))
            self.cache = PrefixCache(model, encode(tokenizer, spec.testing_positive_contexts), pad_id=self.pad_id)
            self.context_targets = cached_targets(self.cache, gloss_token_ids(tokenizer, spec))  # [C, G, D]

    @torch.no_grad()
    def measure(self, vector: torch.Tensor) -> HiddenMSE:
        """``hidden_mse`` of the input row ``vector`` [D]."""
        e = vector.detach().float().view(-1)
        with frozen(self.model):
            states = torch.cat([
                student_states(self.model, part, e.view(1, -1).expand(len(part), -1), self.depth, pad_id=self.pad_id)
                for part in (self.snippet_set[s:s + MAX_ROWS] for s in range(0, len(self.snippet_set), MAX_ROWS))])
            snippets = float((states - self.targets.to(states.device)).pow(2).mean())
            read = self.cache.hidden(e)  # [C, D]: the last hidden state at the token after each context
            contexts = float((read.unsqueeze(1) - self.context_targets).pow(2).mean())
        return HiddenMSE(snippets=snippets, contexts=contexts, combined=(snippets + contexts) / 2,
                         snippet_positions=int(self.targets.shape[0]),
                         context_pairs=int(self.context_targets.shape[0] * self.context_targets.shape[1]))


def held_out_snippets(model, tokenizer, spec, *, count: int = HELD_OUT_SNIPPETS, length: int = HELD_OUT_LENGTH,
                      seed: int = 0) -> list[Snippet]:
    """The held-out snippets of ``spec`` (seed ``held_out_seed(seed)``), sampled once per model,
    spec and count and then kept: the model that samples them never samples a new token, so the
    tokens' own rows do not change them, and the same snippets serve before and after fine-tuning."""
    config = model.config.get_text_config()
    # The same model family and the same threads (sampling follows the logits' last bits, which the
    # threads' sums can change); never the model's state: the fine-tuned model reuses the snippets
    # its initialized self sampled (a fine-tuned model would sample others).
    # (A fine-tuned model's config may name another folder: the quantized copy.) The vocabulary's
    # size too: sampling draws one random number per candidate, so a model with more tokens added
    # samples other snippets from the same seed, even though it never samples the added ones.
    key = (int(config.hidden_size), int(config.num_hidden_layers), int(config.intermediate_size), len(tokenizer),
           torch.get_num_threads(), spec.new_token, tuple(spec.gloss_texts), int(count), int(length), int(seed))
    if key in _SNIPPETS:
        _SNIPPETS.move_to_end(key)
        return _SNIPPETS[key]
    found = generated_snippets(model, tokenizer, spec, count=count, length=length, seed=held_out_seed(seed))
    _SNIPPETS[key] = found
    while len(_SNIPPETS) > _KEPT:
        _SNIPPETS.popitem(last=False)
    return found


@torch.no_grad()
def token_vector(model, token_id: int) -> torch.Tensor:
    """The input row the model reads for ``token_id``: its embedding layer called on it, so that an
    adapter's trained rows (PEFT's trainable tokens) count as the model uses them."""
    embedding = model.get_input_embeddings()
    device = next(embedding.parameters()).device
    return embedding(torch.tensor([[int(token_id)]], device=device))[0, 0].detach().float().cpu()


def measure_token(model, tokenizer, spec, token_id: int, *, count: int = HELD_OUT_SNIPPETS,
                  length: int = HELD_OUT_LENGTH) -> HiddenMSE:
    """``hidden_mse`` of the token ``token_id`` as ``model`` has it (after it was added: before or
    after fine-tuning), on the spec's held-out snippets and testing-positive contexts."""
    snippets = held_out_snippets(model, tokenizer, spec, count=count, length=length)
    return HeldOut(model, tokenizer, spec, snippet_set=snippets).measure(token_vector(model, token_id))


def token_row(model, tokenizer, spec) -> torch.Tensor:
    """The new token's input row in a model that has it already."""
    if spec.new_token not in tokenizer.get_vocab():
        raise fail("new_token", f"{spec.new_token} is not in this model's vocabulary",
                   "add the token first, or measure its input row directly")
    token_id = tokenizer.convert_tokens_to_ids(spec.new_token)
    return model.get_input_embeddings().weight[token_id].detach().float().cpu().clone()


def hidden_mse(model, tokenizer, spec, vector: torch.Tensor | None = None, *, snippets: int = HELD_OUT_SNIPPETS,
               length: int = HELD_OUT_LENGTH, seed: int = 0) -> HiddenMSE:
    """The held-out hidden-state measure of ``vector`` (default: the token's row in ``model``).

    For several rows on the same spec, build ``HeldOut`` once and call ``measure`` for each.
    """
    if vector is None:
        vector = token_row(model, tokenizer, spec)
    return HeldOut(model, tokenizer, spec, snippets=snippets, length=length, seed=seed).measure(vector)
