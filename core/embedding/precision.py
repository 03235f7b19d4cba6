"""The precision of the initialization's passes through the model.

``"model"`` runs the model in its own dtype (float32 for the CPU default), exactly as the method
states. ``"bfloat16"`` runs the same passes under ``torch.autocast(dtype=torch.bfloat16)``: matrix
products take bfloat16 inputs and accumulate in float32, which is what a model loaded in bfloat16 on
a GPU computes anyway, and on a CPU with native bfloat16 (AVX-512 BF16, AMX) it is about 2.5 times
faster for the same passes. Contextual embeddings then differ from float32 by about 1 % (relative);
the least-squares fit stays exact for the embeddings it was given, and the target logits are still
taken in float32 from them (see ``core.embedding.output``).

Only the passes that read contextual embeddings use it: the output fit's pass over the contexts and
the optimized strategy's passes. Evaluation and fine-tuning keep their own precision.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Literal

import torch

Precision = Literal["model", "bfloat16"]


def model_dtype(model) -> torch.dtype:
    return model.get_input_embeddings().weight.dtype


@contextlib.contextmanager
def passes_in(model, precision: str = "model") -> Iterator[None]:
    """Run the block's model passes in ``precision`` (a no-op for ``"model"`` or a bfloat16 model)."""
    if precision == "model" or model_dtype(model) == torch.bfloat16:
        yield
        return
    if precision != "bfloat16":
        raise ValueError(f"unknown precision {precision!r}: use 'model' or 'bfloat16'")
    device = model.get_input_embeddings().weight.device
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        yield
