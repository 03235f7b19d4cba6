"""Saving a model with its new token as a plain Hugging Face folder, and loading it back.

The folder holds safetensors weights, the config (``tie_word_embeddings: false``: the token's
input and output rows differ, so the matrices must stay separate) and the tokenizer files, where
the new token keeps ``lstrip=True``. ``AutoModelForCausalLM.from_pretrained`` and
``AutoTokenizer.from_pretrained`` reload it with nothing from Gloss Lab.

Writing is atomic: everything goes to a temporary folder beside the target, which is renamed
into place last, so a reader never sees half a model and a failed save leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from core import atomic
from core.quiet import quiet
from core.spec.errors import fail

METADATA_FILE = "glosslab.json"


def _is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file()


def check_out_dir(out_dir: str | os.PathLike, field: str = "out") -> Path:
    """The resolved folder to save into, or an ``InputError`` naming ``field`` when saving there is
    refused: a file, or a non-empty folder that is not an earlier saved model (checked before any work)."""
    out = Path(out_dir).expanduser().resolve()
    if out.exists():
        if not out.is_dir():
            raise fail(field, f"{str(out)!r} is a file", "give a folder path for the saved model")
        if any(out.iterdir()) and not _is_model_folder(out):
            raise fail(field, f"{str(out)!r} is a folder with other files in it",
                       "give a new or empty folder (an earlier saved model there would be replaced)")
    return out


def save_model_folder(model, tokenizer, out_dir: str | os.PathLike, metadata: dict | None = None,
                      field: str = "out") -> Path:
    """Save ``model`` and ``tokenizer`` to ``out_dir`` (safetensors) and return its path.

    An existing model folder at ``out_dir`` (one with config.json) is replaced; any other
    non-empty folder or a file there is refused, so a typo cannot wipe unrelated files.
    ``metadata`` (JSON-able: token, strategy, …) is written to ``glosslab.json`` beside the weights.
    ``field``: what a refusal names (the CLI's ``out``, the page's ``export name``).
    """
    out = check_out_dir(out_dir, field)
    if model.get_input_embeddings().weight.data_ptr() == model.get_output_embeddings().weight.data_ptr():
        raise ValueError("embeddings are tied; the token's two rows cannot be saved apart")
    with contextlib.ExitStack() as stack:
        try:
            tmp = stack.enter_context(atomic.folder(out))
        except OSError as exc:
            raise fail(field, f"cannot write in {str(out.parent)!r} ({exc.strerror})",
                       "choose a folder you can write to") from None
        model.config.tie_word_embeddings = False
        with quiet():  # transformers draws a bar per shard written; a save is one step for our callers
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        if metadata is not None:
            (tmp / METADATA_FILE).write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n",
                                             encoding="utf-8")
    return out


def load_model_folder(path: str | os.PathLike):
    """Load a saved folder as a ``core.model.loading.LoadedModel`` (untied, eval mode, safetensors only)."""
    from core.model.loading import load_model

    folder = Path(path).expanduser()
    if not _is_model_folder(folder):
        raise fail("model folder", f"{str(folder)!r} holds no saved model (no config.json)",
                   "give a folder written by `python -m core init … --out DIR`")
    return load_model(str(folder))


def read_metadata(path: str | os.PathLike) -> dict:
    """The ``glosslab.json`` saved beside the weights (an empty dict when there is none)."""
    file = Path(path) / METADATA_FILE
    if not file.is_file():
        return {}
    return json.loads(file.read_text(encoding="utf-8"))
