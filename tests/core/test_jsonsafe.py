"""core.jsonsafe.jsonable: anything the engine reports becomes strict JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from core.jsonsafe import jsonable


def _strict(value):
    out = jsonable(value)
    json.dumps(out, allow_nan=False)
    return out


def test_non_finite_numbers_become_none():
    assert _strict([math.nan, math.inf, -math.inf, 1.5, 0, True, None, "x"]) == [None, None, None, 1.5, 0, True, None, "x"]


def test_tensors_become_numbers_and_lists():
    assert _strict(torch.tensor(2.5)) == 2.5
    assert _strict(torch.tensor(3)) == 3
    assert _strict(torch.tensor([1.0, float("nan"), float("inf")])) == [1.0, None, None]
    assert _strict(torch.ones(2, 2, dtype=torch.bfloat16, requires_grad=True)) == [[1.0, 1.0], [1.0, 1.0]]


def test_numpy_values_become_python_values():
    out = _strict({"f": np.float32(0.5), "n": np.float64("nan"), "i": np.int64(7), "b": np.bool_(True),
                   "a": np.array([[1, 2], [3, 4]]), "x": np.array([np.inf])})
    assert out == {"f": 0.5, "n": None, "i": 7, "b": True, "a": [[1, 2], [3, 4]], "x": [None]}
    assert type(out["i"]) is int and type(out["b"]) is bool and type(out["f"]) is float


def test_nested_containers_keys_and_paths():
    @dataclasses.dataclass
    class Row:
        loss: float

        def to_dict(self):
            return {"loss": self.loss, "tuple": (1, 2)}

    @dataclasses.dataclass
    class Plain:
        path: Path

    value = {1: (math.nan, {"deep": (Path("/tmp/a"), torch.tensor([0.25]))}), "row": Row(math.inf),
             "plain": Plain(Path("x/y")), "other": object()}
    out = _strict(value)
    assert out["1"] == [None, {"deep": ["/tmp/a", [0.25]]}]
    assert out["row"] == {"loss": None, "tuple": [1, 2]}
    assert out["plain"] == {"path": "x/y"}
    assert isinstance(out["other"], str)


def test_module_imports_no_torch_or_numpy():
    code = "import sys, core.jsonsafe; print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
