"""Export round trips on the tiny model: the adapter reloads to the very model that was trained, and
the merged full-precision folder loads with plain transformers and gives the in-memory merge's logits."""

from __future__ import annotations

import copy

import pytest
import torch

from core.spec.errors import InputError
from core.runs.export import (export_adapter, export_merged, export_path, load_adapter, merge_full_precision,
                         read_adapter_metadata, save_adapter)
from core.train.finetune import FinetuneConfig, finetune
from core.train.qlora import quantize_4bit, token_rows
from core.model.tokens import add_token


def test_export_names_stay_inside_the_export_folder(tmp_path):
    root = tmp_path / "exports"
    assert export_path(root, "wool-shop_1.merged") == (root / "wool-shop_1.merged").resolve()
    for bad in ["../x", "/etc", "a/b", ".hidden", "", "..", "x" * 101, "a\\b", None, "a b"]:
        with pytest.raises(InputError) as err:
            export_path(root, bad)
        assert err.value.fields == ["export name"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model fine-tuned for a few steps, with its adapter saved."""
    from tests.conftest import tiny_spec_dict

    from core.model.loading import load_model
    from core.spec.gloss import GlossSpec

    base = load_model("tiny-random")
    spec = GlossSpec.from_dict(tiny_spec_dict())
    model, tokenizer = copy.deepcopy(base.model), copy.deepcopy(base.tokenizer)
    g = torch.Generator().manual_seed(4)
    d = model.config.hidden_size
    token_id = add_token(model, tokenizer, spec.new_token, torch.randn(d, generator=g), torch.randn(d, generator=g))
    config = FinetuneConfig(epochs=2, batch_size=2, grad_accum=1, learning_rate=2e-2, warmup_ratio=0.0,
                            restore_best=False)
    result = finetune(model, tokenizer, token_id, spec, config)
    folder = tmp_path_factory.mktemp("run") / "adapter"
    save_adapter(result.model, tokenizer, folder, {"token": spec.new_token, "token_id": token_id,
                                                   "base_model": base.name,
                                                   "compute_dtype": result.result.compute_dtype})
    batch = dict(tokenizer(spec.validation_sentences + spec.fine_tuning_sentences, return_tensors="pt",
                           padding=True))
    return {"base": base, "spec": spec, "fp_model": model, "tokenizer": tokenizer, "token_id": token_id,
            "result": result, "folder": folder, "batch": batch}


def _logits(model, batch):
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


def test_adapter_reloads_to_the_trained_model(trained):
    meta = read_adapter_metadata(trained["folder"])
    assert meta["token"] == "[BLISS_29111]" and meta["token_id"] == trained["token_id"]
    reloaded, tokenizer, token_id = load_adapter(trained["folder"], trained["base"])
    assert token_id == trained["token_id"]
    assert tokenizer("the [BLISS_29111] sells")["input_ids"] == trained["tokenizer"]("the[BLISS_29111] sells")["input_ids"]
    # Same 4-bit weights, same LoRA, same token rows: the same numbers (tolerance: float rounding only).
    expected = _logits(trained["result"].model, trained["batch"])
    assert torch.allclose(_logits(reloaded, trained["batch"]), expected, atol=1e-5)
    for a, b in zip(token_rows(reloaded, token_id), trained["result"].rows_after):
        assert torch.equal(a, b)
    # Reloaded without the metadata's base: it is loaded by name.
    again, _, _ = load_adapter(trained["folder"])
    assert torch.allclose(_logits(again, trained["batch"]), expected, atol=1e-5)


def test_merged_folder_loads_with_plain_transformers(trained, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = export_merged(trained["folder"], tmp_path / "merged", trained["base"])
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.tie_word_embeddings is False
    assert tokenizer.convert_tokens_to_ids("[BLISS_29111]") == trained["token_id"]
    for text in ("the [BLISS_29111] sells", "the[BLISS_29111] sells"):
        assert tokenizer(text)["input_ids"] == trained["tokenizer"](text)["input_ids"]
    # Equal to merging in memory into the full-precision model with the token (float rounding only).
    in_memory = merge_full_precision(trained["fp_model"], trained["folder"])
    merged_logits = _logits(model, trained["batch"])
    assert torch.allclose(merged_logits, _logits(in_memory, trained["batch"]), atol=1e-5)
    # The merged rows are the trained rows.
    for a, b in zip(token_rows(model, trained["token_id"]), trained["result"].rows_after):
        assert torch.allclose(a, b)
    # Against the 4-bit model that was trained, the difference is the base's quantization error:
    # of the same size as between the full-precision model and its own 4-bit copy.
    q = quantize_4bit(trained["fp_model"], torch.float32, "cpu")
    quantization = (_logits(trained["fp_model"], trained["batch"]) - _logits(q, trained["batch"])).abs().max()
    trained_diff = (merged_logits - _logits(trained["result"].model, trained["batch"])).abs().max()
    assert trained_diff < 3 * quantization + 1e-3


def test_adapter_export_copies_and_refuses_other_folders(trained, tmp_path):
    out = export_adapter(trained["folder"], tmp_path / "exports" / "wool")
    assert read_adapter_metadata(out)["token"] == "[BLISS_29111]"
    export_adapter(trained["folder"], out)  # an earlier export is replaced
    other = tmp_path / "exports" / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(InputError) as err:
        export_adapter(trained["folder"], other)
    assert err.value.fields == ["out"]
    with pytest.raises(InputError) as err:  # the page names its own box
        export_adapter(trained["folder"], other, field="export name")
    assert err.value.fields == ["export name"]
    with pytest.raises(InputError) as err:  # a merge is refused there before any work
        export_merged(trained["folder"], other, base=object(), field="export name")
    assert err.value.fields == ["export name"] and "other files" in str(err.value)
    assert (other / "keep.txt").read_text() == "mine"
    with pytest.raises(InputError):
        read_adapter_metadata(tmp_path)
