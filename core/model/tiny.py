"""A tiny random Llama and a small tokenizer built in-process: for tests and the app's test mode.

The tokenizer is a byte-level BPE trained on the built-in specs' text, with every gloss word and
target word repeated so that each target becomes a single token, as with the real model. Building
both takes well under a second and needs no file from the network.
"""

from __future__ import annotations

import copy
import functools
import json

import torch

from core.model.tokens import untie_embeddings
from core.spec.gloss import DATA_DIR

_SPECIALS = ["<|endoftext|>", "<|pad|>"]
_EXTRA_TEXT = (
    "The shop on the corner sells many things. She went to the market to buy bread and milk. "
    "He likes to read books in the evening. We walked to the park after school. "
    "The weather was cold, so they stayed at home. My friend plays the piano every day. "
    "She bought yarn at the wool shop. The wool shop on the high street sells yarn. "
    "Grandma knits with wool from the yarn shop. He brushes his teeth before bed. "
)


# The tokenizer learns from these built-in specs only, so that adding a built-in spec to data/ does
# not change the tiny model every test is calibrated on.
CORPUS_SPECS = ("lowness_shortness", "to_brush_teeth", "wool_shop")


def _corpus() -> list[str]:
    texts = [_EXTRA_TEXT] * 20
    for path in (DATA_DIR / f"{name}.json" for name in CORPUS_SPECS):
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for value in spec.values():
            if isinstance(value, list):
                texts.extend(v for v in value if isinstance(v, str))
        for word in spec.get("target_tokens", []) + " ".join(spec.get("glosses", [])).split():
            texts.extend([f"the {word} and {word}"] * 60)
    return texts


@functools.lru_cache(maxsize=4)
def _build(seed: int, hidden: int, layers: int, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                        pad_token="<|pad|>", model_max_length=512)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=512, tie_word_embeddings=True, rms_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config).eval()
    return model, tokenizer


def tiny_model(seed: int = 0, hidden: int = 64, layers: int = 2, vocab_size: int = 2000):
    """(model, tokenizer): a fresh copy each call, untied like every model Gloss Lab hands out."""
    model, tokenizer = _build(seed, hidden, layers, vocab_size)
    model, tokenizer = copy.deepcopy(model), copy.deepcopy(tokenizer)
    untie_embeddings(model)
    return model, tokenizer
