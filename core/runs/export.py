"""Export a fine-tuned model: as a PEFT adapter folder, or merged into a full-precision model folder.

Adapter folder (small: LoRA weights and the token's two rows):

    adapter_config.json, adapter_model.safetensors   PEFT; ``trainable_tokens_delta`` holds the
                                                     token's trained input and output rows
    tokenizer files                                  with the new token (lstrip=True)
    glosslab.json                                    token, token id, base model, strategy, compute dtype

To use it: load the base model, untie its embeddings, grow the vocabulary to the tokenizer's size,
then ``PeftModel.from_pretrained(model, folder)`` (``load_adapter`` does exactly this, on a 4-bit
copy as in training or on the full-precision model).

Merged folder: the LoRA weights are merged into a **full-precision** copy of the base model with the
token (never into 4-bit weights, which would have to be re-quantized), the trained rows written
into both matrices, and the result saved with ``core.model.save.save_model_folder``; plain
``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load it. Its logits
differ from the 4-bit training model's by the quantization error of the base weights, and equal
those of an in-memory merge.

Export names are checked: a folder name, never a path, and it must stay inside the export folder.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from core import atomic
from core.quiet import quiet
from core.spec.errors import fail

METADATA_FILE = "glosslab.json"
EXPORT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


# -- names and places ------------------------------------------------------------------------------

def export_path(root: str | Path, name: Any) -> Path:
    """``root/name`` for a plain folder name; anything that could leave ``root`` is refused."""
    root_path = Path(root).expanduser().resolve()
    if not isinstance(name, str) or not EXPORT_NAME.match(name) or ".." in name:
        raise fail("export name", f"{str(name)[:80]!r} is not a valid folder name",
                   "use letters, digits, '-', '_' and '.', at most 100, not starting with '.'")
    path = (root_path / name).resolve()
    if path.parent != root_path:
        raise fail("export name", f"{name!r} points outside the export folder", "give a plain folder name")
    return path


# -- adapter ---------------------------------------------------------------------------------------

def save_adapter(peft_model, tokenizer, folder: str | Path, metadata: dict) -> Path:
    """Write the adapter, the tokenizer and ``glosslab.json`` into ``folder`` (which may exist, empty).

    ``metadata`` must name ``token`` and ``base_model`` (what ``core.model.loading.load_model`` accepts).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("token", "base_model"):
        if not metadata.get(name):
            raise ValueError(f"adapter metadata needs {name!r}")
    config = peft_model.peft_config[peft_model.active_adapter]
    config.base_model_name_or_path = str(metadata["base_model"])
    # The token's rows are saved by trainable_token_indices; the full matrices are not needed.
    peft_model.save_pretrained(str(folder), save_embedding_layers=False)
    tokenizer.save_pretrained(str(folder))
    (folder / METADATA_FILE).write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return folder


def read_adapter_metadata(folder: str | Path) -> dict:
    folder = Path(folder)
    file = folder / METADATA_FILE
    if not (folder / "adapter_config.json").is_file() or not file.is_file():
        raise fail("adapter", f"{str(folder)!r} holds no Gloss Lab adapter", "choose a run that finished training")
    return json.loads(file.read_text(encoding="utf-8"))


def base_with_token(base_model, tokenizer, token: str | list[str]):
    """A full-precision copy of ``base_model`` whose vocabulary has room for ``token`` (row zeroed).

    The row's value does not matter: the adapter's ``trainable_tokens_delta`` replaces it.
    ``token`` may be a list (a vocabulary's adapter): every token is added in one resize and the
    ids come back as a list.
    """
    from core.model.tokens import add_token, add_tokens, untie_embeddings

    model = copy.deepcopy(base_model)
    untie_embeddings(model)
    d = model.get_input_embeddings().weight.shape[1]
    if not isinstance(token, str):
        ids = add_tokens(model, copy.deepcopy(tokenizer), list(token), torch.zeros(len(token), d),
                         torch.zeros(len(token), d))
        if ids != [tokenizer.convert_tokens_to_ids(t) for t in token]:
            raise fail("adapter", "its tokenizer does not match the base model's vocabulary",
                       "export with the base model the run was trained on")
        model.eval()
        return model, ids
    token_id = add_token(model, copy.deepcopy(tokenizer), token, torch.zeros(d), torch.zeros(d))
    if token_id != tokenizer.convert_tokens_to_ids(token):
        raise fail("adapter", "its tokenizer does not match the base model's vocabulary",
                   "export with the base model the run was trained on")
    model.eval()
    return model, token_id


def load_adapter(folder: str | Path, base=None, quantized: bool = True):
    """(PEFT model, tokenizer, token id) from an adapter folder.

    ``base`` is a ``core.model.loading.LoadedModel`` (loaded from the metadata's ``base_model`` when
    None). ``quantized=True`` rebuilds the 4-bit model as in training (same logits as the model
    that was trained); ``False`` applies the adapter to the full-precision model.
    """
    from peft import PeftModel
    from transformers import AutoTokenizer

    from core.train.qlora import quantize_4bit, use_row_forward
    from core.model.loading import load_model

    folder = Path(folder)
    meta = read_adapter_metadata(folder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    base = base if base is not None else load_model(meta["base_model"])
    model, token_id = base_with_token(base.model, tokenizer, meta.get("tokens") or meta["token"])
    if token_id != meta.get("token_ids" if "tokens" in meta else "token_id", token_id):
        raise fail("adapter", f"the token's id is {token_id} here but was {meta.get('token_ids', meta.get('token_id'))} in training",
                   "export with the base model the run was trained on")
    dtype = None
    if quantized:
        dtype = getattr(torch, meta.get("compute_dtype") or "float32")
        model = quantize_4bit(model, dtype)
    with quiet():
        peft_model = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
    use_row_forward(peft_model, dtype)  # no copy of the vocabulary matrices at every token; as in training
    peft_model.eval()
    return peft_model, tokenizer, token_id


def merge_full_precision(fp_model, adapter_folder: str | Path):
    """The adapter merged into a copy of ``fp_model`` (full precision, with the token): a plain model."""
    from peft import PeftModel

    with quiet():
        peft_model = PeftModel.from_pretrained(copy.deepcopy(fp_model), str(adapter_folder), is_trainable=False)
    merged = peft_model.merge_and_unload()
    merged.config.tie_word_embeddings = False
    merged.eval()
    return merged


def export_adapter(adapter_folder: str | Path, out: str | Path, field: str = "out") -> Path:
    """Copy an adapter folder to ``out`` (a new folder, or an earlier export that is replaced);
    a refusal names ``field``."""
    src = Path(adapter_folder)
    read_adapter_metadata(src)
    out = Path(out)
    if out.exists() and not (out / METADATA_FILE).is_file():
        raise fail(field, f"{str(out)!r} exists and is not an earlier export", "choose another name")
    with atomic.folder(out) as tmp:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
    return out


def _trained_on(folder: str | Path, init: dict, base):
    """(the base the adapter was trained on, the run's initialization settings with the adapter's own
    strategy and seed): ``base`` when its name matches the adapter's metadata, else that model loaded."""
    from core.embedding.strategies import InitConfig
    from core.model.loading import load_model

    meta = read_adapter_metadata(folder)
    if base.name != meta["base_model"]:
        base = load_model(meta["base_model"])
    init = {**init, "strategy": meta.get("strategy", init.get("strategy")), "seed": meta.get("seed", init.get("seed"))}
    return base, InitConfig.from_dict({k: v for k, v in init.items() if v is not None})


def before_and_after(folder: str | Path, spec_data: dict, init: dict, base) -> dict:
    """A trained adapter's model and the same token's model before fine-tuning, for generating
    side by side: {"spec", "before": (model, tokenizer, token id), "after": (…)}.

    The rows before fine-tuning are recomputed with the run's initialization (every strategy is
    deterministic for its seed); a comparison member's own strategy and seed come from its
    metadata. ``base`` is used when the adapter was trained on it, else its base model is loaded.
    """
    from core.experiment.single.pipeline import initialize
    from core.spec.gloss import GlossSpec

    base, config = _trained_on(folder, init, base)
    spec = GlossSpec.from_dict(spec_data)
    before = initialize(spec, config, base, evaluate_after=False, compare_with=())
    after, tokenizer, token_id = load_adapter(folder, base=base)
    return {"spec": spec, "before": (before.model, before.tokenizer, before.token_id),
            "after": (after, tokenizer, token_id)}


def vocab_before_and_after(folder: str | Path, specs_data: list[dict], init: dict, contrast: bool, base) -> dict:
    """A vocabulary's trained adapter and the vocabulary's model before fine-tuning, for generating
    side by side: {"specs", "before": (model, tokenizer, token ids), "after": (…)}.

    The rows before fine-tuning are those of ``initialize_vocabulary`` with the run's settings and
    contrast (every strategy is deterministic for its seed); a comparison member's own strategy and
    seed come from its metadata.
    """
    from core.experiment.vocabulary.init import initialize_vocabulary
    from core.experiment.vocabulary.load import load_vocabulary

    base, config = _trained_on(folder, init, base)
    vocab = load_vocabulary(specs_data, base.tokenizer)
    before = initialize_vocabulary(vocab, config, base, contrast=contrast)
    after, tokenizer, token_ids = load_adapter(folder, base=base)
    return {"specs": vocab.specs, "before": (before.model, before.tokenizer, before.token_ids),
            "after": (after, tokenizer, token_ids)}


def zip_adapter(adapter_folder: str | Path, out: str | Path, name: str) -> Path:
    """The adapter folder as a zip file ``out`` whose entries sit in a folder ``name``."""
    import zipfile

    src = Path(adapter_folder)
    read_adapter_metadata(src)
    out = Path(out)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, Path(name) / path.relative_to(src))
    return out


def export_merged(adapter_folder: str | Path, out: str | Path, base=None, field: str = "out") -> Path:
    """Merge an adapter into the full-precision base with the token and save it at ``out``; a
    refusal to write there names ``field``."""
    from transformers import AutoTokenizer

    from core.model.loading import load_model
    from core.model.save import check_out_dir, save_model_folder

    meta = read_adapter_metadata(adapter_folder)
    check_out_dir(out, field)  # before the merge's work, not after it
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_folder), trust_remote_code=False)
    base = base if base is not None else load_model(meta["base_model"])
    fp_model, token_id = base_with_token(base.model, tokenizer, meta.get("tokens") or meta["token"])
    merged = merge_full_precision(fp_model, adapter_folder)
    ids = {"token_ids": token_id} if isinstance(token_id, list) else {"token_id": token_id}
    return save_model_folder(merged, tokenizer, out, metadata={**meta, "merged": True, **ids}, field=field)


def usage(path: str | Path, merged: bool) -> str:
    """How to load an export, for the page and the CLI."""
    if merged:
        return (f"from transformers import AutoModelForCausalLM, AutoTokenizer\n"
                f"model = AutoModelForCausalLM.from_pretrained({str(path)!r})\n"
                f"tokenizer = AutoTokenizer.from_pretrained({str(path)!r})")
    return (f"from core.runs.export import load_adapter\n"
            f"model, tokenizer, token_id = load_adapter({str(path)!r})  # 4-bit base + LoRA, as trained")
