"""Bad input, table-driven: every case gets exit status 2 and a message naming the field and the fix.

Each case is run through the CLI (``core.cli.main.main``, in-process, on the tiny model), and every
spec-level case also straight through the engine (``check_spec`` with the tiny tokenizer). The
figures (cases tried, clear errors) are written to ``.reports/bad_inputs.json`` and printed at the
end of the test session (see tests/conftest.py), and the README quotes them.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from core.spec.errors import InputError
from tests.conftest import TOKEN, tiny_spec_dict
from tests.reliability import record

TINY = ["--model", "tiny-random"]


@dataclass
class Case:
    name: str
    field: str  # text the message must contain (the field's name)
    argv: Callable[[Path], list[str]]  # builds the command line, writing files under tmp_path
    spec_level: bool = False  # also checked straight through the engine


def spec_file(tmp: Path, data=None, text: str | None = None, name: str = "spec.json") -> str:
    path = tmp / name
    if text is None:
        text = json.dumps(data, ensure_ascii=False)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return str(path)


def with_spec(change: Callable[[dict], None], command: str = "init", extra: tuple = ()) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        data = tiny_spec_dict()
        change(data)
        return [command, spec_file(tmp, data), *TINY, *extra]
    return build


def set_(field: str, value) -> Callable[[dict], None]:
    return lambda d: d.__setitem__(field, value)


def rename_token(new: str) -> Callable[[dict], None]:
    """Use another token name everywhere, so only the name itself can be wrong."""
    def change(d: dict) -> None:
        d["new_token"] = new
        for key in ("fine_tuning_sentences", "validation_sentences"):
            d[key] = [s.replace(TOKEN, new) for s in d[key]]
    return change


def good(command: str, *extra: str) -> Callable[[Path], list[str]]:
    return lambda tmp: [command, spec_file(tmp, tiny_spec_dict()), *TINY, *extra]


def model_folder(kind: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        folder = tmp / f"model-{kind}"
        folder.mkdir()
        if kind == "bert":
            (folder / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
        elif kind == "huge":
            (folder / "config.json").write_text(json.dumps({
                "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 16384,
                "intermediate_size": 53248, "num_hidden_layers": 126, "num_attention_heads": 128,
                "num_key_value_heads": 8, "vocab_size": 128256}))
        elif kind == "pickle":
            (folder / "config.json").write_text(json.dumps({
                "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
                "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
                "num_key_value_heads": 2, "vocab_size": 100}))
            (folder / "pytorch_model.bin").write_bytes(b"not loaded: pickled weights are refused")
        return ["init", spec_file(tmp, tiny_spec_dict()), "--model", str(folder)]
    return build


CASES = [
    # -- the spec file itself
    Case("malformed JSON", "spec file", lambda t: ["init", spec_file(t, text="{not json"), *TINY]),
    Case("truncated JSON", "spec file",
         lambda t: ["init", spec_file(t, text=json.dumps(tiny_spec_dict())[:300]), *TINY]),
    Case("not an object", "spec", lambda t: ["init", spec_file(t, text="[1, 2, 3]"), *TINY]),
    Case("not UTF-8", "spec file", lambda t: ["init", str(_write_bytes(t, b"\xff\xfe{}")), *TINY]),
    Case("missing file", "spec file", lambda t: ["init", str(t / "nope.json"), *TINY]),
    Case("10 MB field", "spec file",
         lambda t: ["init", spec_file(t, {**tiny_spec_dict(), "notes": "x" * 10_000_000}), *TINY]),
    Case("100,000 sentences", "spec file", lambda t: ["init", spec_file(t, {
        **tiny_spec_dict(), "fine_tuning_sentences": [f"Line {i} at the {TOKEN}." for i in range(100_000)]}), *TINY]),
    # -- types and presence
    Case("glosses is a string", "glosses", with_spec(set_("glosses", "wool shop")), True),
    Case("a context is a number", "positive_contexts",
         with_spec(lambda d: d["positive_contexts"].append(42)), True),
    Case("symbol id is a list", "symbol_id", with_spec(set_("symbol_id", [1])), True),
    Case("missing target tokens", "target_tokens", with_spec(lambda d: d.pop("target_tokens")), True),
    Case("unknown field", "colour", with_spec(set_("colour", "blue")), True),
    # -- glosses and the token
    Case("empty gloss", "glosses", with_spec(set_("glosses", [""])), True),
    Case("whitespace-only gloss", "glosses", with_spec(set_("glosses", ["   "])), True),
    Case("duplicate glosses", "glosses", with_spec(set_("glosses", ["wool shop", "Wool Shop"])), True),
    Case("token already in vocabulary", "new_token", with_spec(rename_token("<|endoftext|>")), True),
    Case("token with a space", "new_token", with_spec(rename_token("[BLISS 29111]")), True),
    Case("token with braces", "new_token", with_spec(rename_token("{BLISS}")), True),
    Case("bad symbol id", "symbol_id", with_spec(set_("symbol_id", "../../etc")), True),
    # -- target tokens
    Case("target is several tokens", "target_tokens", with_spec(set_("target_tokens", ["wool", "qzxqvj"])), True),
    Case("target is two words", "target_tokens", with_spec(set_("target_tokens", ["wool shop"])), True),
    Case("no target tokens", "target_tokens", with_spec(set_("target_tokens", [])), True),
    # -- context sets
    Case("no positive contexts", "positive_contexts", with_spec(set_("positive_contexts", [])), True),
    Case("no negative contexts", "negative_contexts", with_spec(set_("negative_contexts", [])), True),
    Case("too few positive contexts", "positive_contexts",
         with_spec(lambda d: d.__setitem__("positive_contexts", d["positive_contexts"][:2])), True),
    Case("duplicate contexts", "positive_contexts",
         with_spec(lambda d: d["positive_contexts"].append(d["positive_contexts"][0])), True),
    Case("testing context leaks from training", "testing_positive_contexts",
         with_spec(lambda d: d["testing_positive_contexts"].append(d["positive_contexts"][0])), True),
    Case("context holds the new token", "negative_contexts",
         with_spec(lambda d: d["negative_contexts"].append(f"The {TOKEN} is")), True),
    Case("control character", "positive_contexts",
         with_spec(lambda d: d["positive_contexts"].append("She rang the bell\x07 at the")), True),
    Case("right-to-left override", "glosses", with_spec(set_("glosses", ["wool \u202eshop"])), True),
    Case("over-long context", "negative_contexts",
         with_spec(lambda d: d["negative_contexts"].append("word " * 200)), True),
    Case("prompt without placeholder", "generation_prompts",
         with_spec(lambda d: d["generation_prompts"].append("At the shop you can buy")), True),
    Case("sentence without the token", "fine_tuning_sentences",
         with_spec(lambda d: d["fine_tuning_sentences"].append("She bought yarn at the wool shop.")), True),
    Case("validation sentence also trained on", "validation_sentences",
         with_spec(lambda d: d["validation_sentences"].append(d["fine_tuning_sentences"][0])), True),
    # -- numbers
    Case("unknown strategy", "strategy", good("init", "--strategy", "telepathy")),
    Case("optimizer learning rate NaN", "opt_lr", good("init", "--strategy", "optimized", "--opt-lr", "nan")),
    Case("optimizer epochs zero", "opt_epochs", good("init", "--strategy", "optimized", "--opt-epochs", "0")),
    Case("generation length zero", "max_new_tokens", good("init", "--max-new-tokens", "0")),
    Case("fine-tuning epochs zero", "epochs", good("finetune", "--epochs", "0")),
    Case("fine-tuning epochs negative", "epochs", good("finetune", "--epochs=-3")),
    Case("learning rate zero", "learning_rate", good("finetune", "--lr", "0")),
    Case("learning rate negative", "learning_rate", good("finetune", "--lr=-1e-4")),
    Case("learning rate NaN", "learning_rate", good("finetune", "--lr", "nan")),
    Case("batch larger than the data", "batch_size", good("finetune", "--batch-size", "200")),
    Case("dropout above one", "lora_dropout", good("finetune", "--lora-dropout", "1.5")),
    Case("negative warm-up", "warmup_ratio", good("finetune", "--warmup-ratio=-0.1")),
    Case("zero seeds", "seeds", good("compare", "--seeds", "0")),
    Case("unknown strategy in a comparison", "strategies", good("compare", "--strategies", "average,telepathy")),
    # -- models
    Case("model id that is not there", "model",
         lambda t: ["init", spec_file(t, tiny_spec_dict()), "--model", "no-such-org/no-such-model-xyz"]),
    Case("folder with no model", "model", model_folder("empty")),
    Case("not a causal language model", "model", model_folder("bert")),
    Case("model too large for this machine", "model", model_folder("huge")),
    Case("pickled weights only", "model", model_folder("pickle")),
]


def _write_bytes(tmp: Path, data: bytes) -> Path:
    path = tmp / "binary.json"
    path.write_bytes(data)
    return path


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    from core.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_a_clear_error(case: Case, tmp_path, monkeypatch):
    monkeypatch.setenv("GLOSSLAB_RUNS", str(tmp_path / "runs"))
    code, out, err = run_cli(case.argv(tmp_path))
    clear = code == 2 and case.field in err and "Traceback" not in err + out and " — " in err
    record("cli", case.name, clear, err.strip().splitlines()[-1] if err.strip() else "")
    assert code == 2, f"exit {code}; stderr: {err[-500:]}"
    assert "Traceback" not in err + out
    assert case.field in err, err
    assert " — " in err, f"no fix given: {err}"  # every Problem prints 'field: problem — fix'


@pytest.mark.parametrize("case", [c for c in CASES if c.spec_level], ids=[c.name for c in CASES if c.spec_level])
def test_bad_spec_through_the_engine(case: Case, tmp_path, tiny):
    from core.spec.gloss import GlossSpec, check_spec

    _, tokenizer = tiny
    argv = case.argv(tmp_path)
    data = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    with pytest.raises(InputError) as info:
        check_spec(GlossSpec.from_dict(data), tokenizer)
    fields = " ".join(info.value.fields)
    record("engine", case.name, case.field in fields, str(info.value.problems[0]))
    assert case.field in fields, fields
    assert all(p.fix for p in info.value.problems)


def test_limits_hold_through_the_engine():
    """100,000 sentences and a 10 MB field, passed as objects (no file limit in the way)."""
    from core.spec.gloss import GlossSpec

    data = tiny_spec_dict()
    data["fine_tuning_sentences"] = [f"Line {i} at the {TOKEN}." for i in range(100_000)]
    with pytest.raises(InputError, match="fine_tuning_sentences: has 100,000 items"):
        GlossSpec.from_dict(data)
    data = tiny_spec_dict()
    data["positive_contexts"][0] = "x" * 10_000_000
    with pytest.raises(InputError, match=r"positive_contexts \(item 1\): has 10,000,000 characters"):
        GlossSpec.from_dict(data)


def test_numbers_through_the_engine():
    from core.train.finetune import FinetuneConfig
    from core.embedding.strategies import InitConfig

    for kwargs, field in [({"learning_rate": math.nan}, "learning_rate"), ({"epochs": 0}, "epochs"),
                          ({"learning_rate": -1.0}, "learning_rate"), ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(InputError) as info:
            FinetuneConfig(**kwargs)
        assert field in info.value.fields
    for kwargs, field in [({"strategy": "telepathy"}, "strategy"), ({"opt_lr": math.inf}, "opt_lr"),
                          ({"opt_epochs": -1}, "opt_epochs")]:
        with pytest.raises(InputError) as info:
            InitConfig(**kwargs)
        assert field in info.value.fields


def test_a_valid_run_still_works_after_the_bad_ones(tmp_path):
    code, out, err = run_cli(["init", spec_file(tmp_path, tiny_spec_dict()), *TINY, "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["token"] == TOKEN and result["testing"]
