"""QLoRA plumbing: a 4-bit copy of a model with the new token, LoRA on it, and the token's two rows.

Order matters (method.md, Step 2):
1. The token is added and its rows are set on the **full-precision** model (``core.model.tokens``).
2. That model is saved as safetensors to a temporary folder and loaded back with bitsandbytes
   4-bit NF4 and double quantization: every linear layer of the transformer is quantized, while
   the embedding matrix and the (untied) output layer stay full precision (``lm_head`` is skipped
   explicitly, and an embedding is not a linear layer). Quantizing through a reload is the route
   transformers supports on CPU and CUDA alike.
3. LoRA adapters go on the attention projections (optionally the MLP too), rank-stabilized, and
   PEFT's ``trainable_token_indices`` makes the new token's input row *and* output row trainable
   and nothing else: each is a separate ``[1, D]`` parameter that replaces its row in the forward
   pass, so no other row of either matrix can change, not even by weight decay.

CPU caveat (bitsandbytes 0.50): on a CPU with AVX512-BF16, a 4-bit layer that runs in eval mode
without gradients repacks its weights for a fast inference kernel that has no backward pass;
training after an evaluation would then silently stop gradients flowing through the frozen 4-bit
layers. ``quantize_4bit`` turns that repacking off, so evaluation and training use the same kernel
(and the validation loss is computed exactly as the training loss). A test guards this.
That same kernel dequantizes every frozen 4-bit matrix again at every call (forward, backward, each
generated token); ``keep_dequantized`` keeps the dequantized matrices of a small model instead, with
the same numbers.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import shutil
import tempfile
import types
from typing import Literal, get_args

import torch

from core.model import hardware
from core.quiet import quiet
from core.spec.errors import fail

# bitsandbytes warns at import, on every CPU with AVX512-BF16, that an optional kernel package from
# the hub is missing; Gloss Lab never fetches code from the hub, so the fallback it uses is expected.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)

LoraTargets = Literal["attention", "attention_mlp"]
_ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
LORA_TARGETS: dict[str, tuple[str, ...]] = dict(zip(get_args(LoraTargets),
                                                    (_ATTENTION, _ATTENTION + ("gate_proj", "up_proj", "down_proj"))))


def pick_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def compute_dtype(config, device: str) -> torch.dtype:
    """bfloat16 where the hardware multiplies it natively (``core.model.hardware``), float32 otherwise (``auto``)."""
    if config.compute_dtype != "auto":
        return getattr(torch, config.compute_dtype)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if hardware.bf16_native("cpu") else torch.float32


def _scratch_dir() -> str:
    """A temporary folder for the quantization round trip: RAM-backed /dev/shm when it has room."""
    shm = "/dev/shm"
    with contextlib.suppress(OSError):
        if os.path.isdir(shm) and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 4 * 2**30:
            return tempfile.mkdtemp(prefix="glosslab-q-", dir=shm)
    return tempfile.mkdtemp(prefix="glosslab-q-")


def quantize_4bit(model, dtype: torch.dtype, device: str | None = None, source: str | None = None):
    """A 4-bit NF4 (double-quantized) copy of ``model``; embeddings and ``lm_head`` stay full precision.

    ``model`` (full precision, with the token's rows set) is not changed. ``source``: a folder of
    safetensors that holds ``model`` already (a data-parallel worker's copy): read, not rewritten.
    """
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    device = device or pick_device()
    if model.config.tie_word_embeddings:
        raise fail("model", "has tied input and output embeddings", "untie them first (core.model.tokens.untie_embeddings)")
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=dtype, llm_int8_skip_modules=["lm_head"])
    folder = source or _scratch_dir()
    try:
        with quiet():
            if source is None:
                model.save_pretrained(folder, safe_serialization=True)
            qmodel = AutoModelForCausalLM.from_pretrained(
                folder, quantization_config=quant, dtype=torch.float32, device_map={"": device},
                use_safetensors=True, trust_remote_code=False)
    finally:
        if source is None:
            shutil.rmtree(folder, ignore_errors=True)
    _keep_training_kernel(qmodel)
    return qmodel


def _quantized_dtype(qmodel) -> torch.dtype | None:
    quant = getattr(qmodel.config, "quantization_config", None)
    dtype = getattr(quant, "bnb_4bit_compute_dtype", None)
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def _keep_training_kernel(model) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for its CPU inference kernel (see module doc)."""
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


# The frozen 4-bit weights of a model being fine-tuned are dequantized once and kept when the
# dequantized copies take at most this many bytes (212 MB for the default model), instead of at
# every forward pass, every backward pass and every generated token. See ``keep_dequantized``.
DEQUANTIZED_BYTES_MAX = 2 * 2**30


def _dequantized_weight(layer) -> torch.Tensor | None:
    """The matrix bitsandbytes dequantizes at every call of ``layer`` (a ``Linear4bit``), or None
    where the forward and backward passes would not use the very same matrix."""
    import bitsandbytes.functional as bnbf

    state = layer.weight.quant_state
    packed = layer.weight.data.view(-1, 1)
    absmax = state.absmax
    if state.nested:  # exactly as bitsandbytes' gemm_4bit computes the per-block scales
        absmax = torch.ops.bitsandbytes.dequantize_blockwise.default(
            state.absmax, state.state2.absmax, state.state2.code, state.state2.blocksize, torch.float32) + state.offset
    forward = torch.ops.bitsandbytes.dequantize_4bit.default(packed, absmax, state.blocksize, state.quant_type,
                                                             state.shape, layer.compute_dtype)
    backward = bnbf.dequantize_4bit(packed, state).to(layer.compute_dtype)  # MatMul4Bit.backward's matrix
    return forward if torch.equal(forward, backward) else None


def _dequantized_forward(layer, x: torch.Tensor) -> torch.Tensor:
    """``Linear4bit.forward`` with the dequantized matrix kept: bitsandbytes' CPU ``gemm_4bit`` is
    ``linear(x, dequantize_4bit(W))`` and its backward ``grad @ dequantize_4bit(W)``, so the same
    numbers, without dequantizing a frozen matrix again at every pass."""
    weight = layer.__dict__.get("_glosslab_dequantized")
    if weight is None:
        state = getattr(layer.weight, "quant_state", None)
        if x.device.type != "cpu" or layer.bias is not None or layer.compute_dtype is None or state is None \
                or getattr(state, "packing_format_for_cpu", False):
            return type(layer).forward(layer, x)
        weight = _dequantized_weight(layer)
        if weight is None:
            layer.forward = types.MethodType(type(layer).forward, layer)  # never try again
            return layer.forward(x)
        layer.__dict__["_glosslab_dequantized"] = weight
    return torch.nn.functional.linear(x.to(layer.compute_dtype), weight).to(x.dtype)


def keep_dequantized(model, max_bytes: int | None = None) -> bool:
    """Make every 4-bit layer of ``model`` dequantize its frozen matrix once, at its first call.

    Only where bitsandbytes' 4-bit matrix product is its generic one (dequantize, then multiply:
    on the CPU in bitsandbytes 0.50) and the dequantized copies fit in ``max_bytes`` (default:
    ``DEQUANTIZED_BYTES_MAX`` as it is now; 0 turns this off, as bench/compare.py does for today's
    path); otherwise nothing changes. Returns whether it applied. The 4-bit weights stay as they
    are (saved adapters, the shared 4-bit base); only the forward pass of this model's layers changes.
    """
    import bitsandbytes as bnb

    max_bytes = DEQUANTIZED_BYTES_MAX if max_bytes is None else max_bytes

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    if not layers or torch._C._dispatch_has_kernel_for_dispatch_key("bitsandbytes::gemm_4bit", "CPU"):
        return False
    if any(m.weight.device.type != "cpu" or m.compute_dtype is None for m in layers):
        return False
    size = sum(math.prod(m.weight.quant_state.shape) * m.compute_dtype.itemsize for m in layers)
    if size > max_bytes:
        return False
    for m in layers:
        m.forward = types.MethodType(_dequantized_forward, m)
    return True


def prepare(model, token_id: int | list[int], config, device: str | None = None, quantized=None,
            source: str | None = None):
    """Quantize a copy of ``model`` and add LoRA and the token's trainable rows: a ``PeftModel``.

    ``token_id``: one token's id, or a list of ids (a vocabulary trained together): every listed
    token's input and output rows are trainable, and no other row of either matrix.

    ``quantized``: a 4-bit model from ``quantize_4bit`` of a model that differs from ``model`` in
    the token's rows at most (another strategy's start, in a comparison). It is copied and given
    ``model``'s rows instead of quantizing again: the 4-bit layers do not depend on those rows.
    ``source``: see ``quantize_4bit``.
    """
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import set_seed

    device = device or pick_device()
    dtype = compute_dtype(config, device)
    ids = [int(token_id)] if isinstance(token_id, int) else [int(i) for i in token_id]
    if quantized is not None and _quantized_dtype(quantized) == dtype:
        qmodel = copy.deepcopy(quantized)
        for one in ids:
            inp, out = token_rows(model, one)
            with torch.no_grad():
                qmodel.get_input_embeddings().weight[one] = inp
                qmodel.get_output_embeddings().weight[one] = out
    else:
        qmodel = quantize_4bit(model, dtype, device, source=source)
    # Freezes the base and casts any half-precision non-4-bit weights to float32 (ours are float32
    # already, so nothing is copied); gradient checkpointing only when asked for.
    with quiet():
        qmodel = prepare_model_for_kbit_training(qmodel, use_gradient_checkpointing=config.gradient_checkpointing)
    set_seed(config.seed)  # the LoRA A matrices are initialized randomly
    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        use_rslora=config.use_rslora, target_modules=list(LORA_TARGETS[config.lora_targets]),
        trainable_token_indices={"embed_tokens": list(ids), "lm_head": list(ids)},
        bias="none", task_type="CAUSAL_LM")
    with quiet():
        peft_model = get_peft_model(qmodel, lora)
    use_row_forward(peft_model, dtype)
    keep_dequantized(peft_model)
    return peft_model


def _row_forward(layer, x, active_adapters, *args, **kwargs):
    """``TrainableTokensLayer.forward_adapters`` without building the whole effective matrix.

    PEFT computes ``F.linear(x, W.index_copy(token_rows))`` (and the same for the embedding), so
    autograd keeps a gradient for every row of the output matrix — a [vocabulary × hidden] matrix
    product per micro-batch, about a third of a training step for the default model — and copies
    the matrix at every forward pass, generation included. Here the frozen matrix is used as it is
    and only the token's rows come from the trainable parameter: the same numbers, and gradients
    only where they are needed. Anything unusual (merged, several adapters) takes PEFT's own path.
    """
    base = layer.base_layer
    if (layer.disable_adapters or layer.merged or len(active_adapters) != 1 or args or kwargs
            or not isinstance(base, (torch.nn.Embedding, torch.nn.Linear)) or base.weight.requires_grad):
        return type(layer).forward_adapters(layer, x, active_adapters, *args, **kwargs)
    name = active_adapters[0]
    ids = layer.token_indices[name]
    rows = layer.trainable_tokens_delta[name]
    if isinstance(base, torch.nn.Embedding):
        out = torch.nn.functional.embedding(x, base.weight, base.padding_idx, base.max_norm, base.norm_type,
                                            base.scale_grad_by_freq, base.sparse)
        for j, token_id in enumerate(ids):
            out = torch.where((x == token_id).unsqueeze(-1), rows[j].to(out.dtype), out)
        scale = layer._get_embed_scale()
        return out if scale is None else out * scale.to(out.dtype)
    low = layer.__dict__.get("_glosslab_frozen_low")
    if low is not None:  # the frozen rows in the compute dtype (see ``OUTPUT_IN_COMPUTE_DTYPE``)
        out = torch.nn.functional.linear(x.to(low.dtype), low).to(x.dtype)
    else:
        out = torch.nn.functional.linear(x, base.weight)  # PEFT's path has no bias either
    columns = torch.nn.functional.linear(x, rows.to(x.dtype))
    # In place: the product's backward needs only x and the weight, never its own output.
    return out.index_copy_(out.dim() - 1, torch.tensor(ids, device=out.device), columns)


# The output layer's frozen rows multiply in the compute dtype (bfloat16 where the CPU has it) rather
# than in float32: on the default model that matrix product (hidden × 49,152 rows, forward and
# backward) is the largest of a training step, and float32 runs it at a fifth of bfloat16's speed
# here (bench/finetune.py prints the ratio). The logits of the frozen rows are then rounded to
# bfloat16 (a relative 2⁻⁹, as a QLoRA model held in bfloat16 computes them), while the new token's
# trainable row stays a float32 parameter multiplied in float32. False keeps float32 throughout.
OUTPUT_IN_COMPUTE_DTYPE = True


def use_row_forward(peft_model, dtype: torch.dtype | None = None) -> None:
    """Switch every trainable-token layer of ``peft_model`` to ``_row_forward`` (see there); with a
    half-precision ``dtype`` and ``OUTPUT_IN_COMPUTE_DTYPE``, the output layer's frozen rows are
    multiplied in that dtype (a copy made once: the rows are frozen)."""
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    for module in peft_model.modules():
        if isinstance(module, TrainableTokensLayer):
            module.forward_adapters = types.MethodType(_row_forward, module)
            weight = module.base_layer.weight
            if (OUTPUT_IN_COMPUTE_DTYPE and isinstance(module.base_layer, torch.nn.Linear)
                    and dtype in (torch.bfloat16, torch.float16) and weight.dtype == torch.float32
                    and not weight.requires_grad):
                module.__dict__["_glosslab_frozen_low"] = weight.detach().to(dtype)


def token_rows(model, token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input row, output row) as the model uses them, float32 on the CPU: for a PEFT model the
    trained rows (``trainable_tokens_delta`` holds the rows themselves, not differences)."""
    rows = []
    for layer in (model.get_input_embeddings(), model.get_output_embeddings()):
        adapter = getattr(layer, "token_adapter", None)
        if adapter is not None and adapter.active_adapters:
            name = adapter.active_adapters[0]
            index = adapter.token_indices[name].index(token_id)
            rows.append(adapter.trainable_tokens_delta[name][index].detach().float().cpu().clone())
        else:
            rows.append(layer.weight[token_id].detach().float().cpu().clone())
    return rows[0], rows[1]
