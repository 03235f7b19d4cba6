"""``jsonable(value)``: a copy that strict JSON (``json.dumps(..., allow_nan=False)``) accepts;
``finite(value)``: whether a value is a real number, the test every table and statistic applies.

Standard library only at import (the web UI must stay torch-free): tensors and numpy values are
recognised by their ``tolist``/``item`` methods, never by importing torch or numpy.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any


def finite(value: Any) -> bool:
    """A real number: not a bool, not NaN, not infinite (what tables show and statistics use)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def jsonable(value: Any) -> Any:
    """NaN and ±inf become None; tensors and numpy arrays/scalars become Python numbers or lists;
    tuples and sets become lists; dict keys become strings; paths become strings; an object with
    ``to_dict()`` (or a dataclass) becomes its dict; anything else unknown becomes ``str(value)``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return jsonable(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if callable(getattr(value, "detach", None)):  # a torch tensor, possibly on a GPU or needing grad
        value = value.detach().cpu()
    if callable(getattr(value, "tolist", None)):  # tensors, numpy arrays and scalars
        try:
            return jsonable(value.tolist())
        except Exception:
            return str(value)
    if callable(getattr(value, "item", None)):  # other 0-d scalars
        try:
            return jsonable(value.item())
        except Exception:
            return str(value)
    return str(value)
