"""The precision of the initialization's passes through the model.

``"model"`` runs the model in its own dtype (float32 for the CPU default), exactly as the method
states. ``"bfloat16"`` runs the same passes under ``torch.autocast(dtype=torch.bfloat16)``: matrix
products take bfloat16 inputs and accumulate in float32, which is what a model loaded in bfloat16 on
a GPU computes anyway, and on a CPU with native bfloat16 (AVX-512 BF16, AMX) it is about 2.5 times
faster for the same passes. Contextual embeddings then differ from float32 by about 1 % (relative);
the least-squares fit stays exact for the embeddings it was given, and the target logits are still
taken in float32 from them (see ``core.embedding.output``). ``"auto"`` (the default) is bfloat16
where the hardware multiplies it natively (``core.model.hardware``) and the model's own dtype
elsewhere: on a CPU with only AVX2, bfloat16 products are about 70 times slower than float32, so
an explicit ``"bfloat16"`` there gets a warning (``precision_warning``) naming the measured slowdown.
``$GLOSSLAB_AUTO_PRECISION`` (``model`` or ``bfloat16``) fixes what ``auto`` means, for numbers that
agree across machines (the tests set ``model``).

Only the passes that read contextual embeddings use it: the output fit's pass over the contexts and
the passes of strategies that train their vector. Evaluation and fine-tuning keep their own precision.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterator, Literal

import torch

from core.model import hardware

Precision = Literal["auto", "model", "bfloat16"]
AUTO_ENV = "GLOSSLAB_AUTO_PRECISION"  # "model" or "bfloat16": what auto means, whatever the machine
log = logging.getLogger(__name__)


def model_dtype(model) -> torch.dtype:
    return model.get_input_embeddings().weight.dtype


def _device_of(model) -> str:
    return model.get_input_embeddings().weight.device.type if model is not None else "cpu"


def resolve_precision(precision: str, model=None) -> str:
    """``"model"`` or ``"bfloat16"``: what ``precision`` means on this machine (``auto`` decided,
    unless ``$GLOSSLAB_AUTO_PRECISION`` names what it means: numbers that agree across machines)."""
    if precision == "auto":
        forced = os.environ.get(AUTO_ENV, "").strip()
        if forced in ("model", "bfloat16"):
            return forced
        return "bfloat16" if hardware.bf16_native(_device_of(model)) else "model"
    if precision not in ("model", "bfloat16"):
        raise ValueError(f"unknown precision {precision!r}: use 'auto', 'model' or 'bfloat16'")
    return precision


def precision_warning(precision: str, device: str = "cpu") -> str | None:
    """A warning for an explicit bfloat16 on a CPU that does not multiply it natively, else None."""
    if precision != "bfloat16" or device != "cpu" or hardware.bf16_native(device):
        return None
    p = hardware.profile()
    return (f"precision bfloat16: this CPU multiplies bfloat16 about {p['slowdown']:g} times slower than float32 "
            f"({p['bfloat16_gflops']:g} against {p['float32_gflops']:g} GFLOP/s measured), so the initialization "
            f"will be far slower; choose auto or model")


@contextlib.contextmanager
def passes_in(model, precision: str = "model") -> Iterator[None]:
    """Run the block's model passes in ``precision`` (a no-op for ``"model"`` or a bfloat16 model)."""
    if resolve_precision(precision, model) == "model" or model_dtype(model) == torch.bfloat16:
        yield
        return
    device = model.get_input_embeddings().weight.device
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        yield
