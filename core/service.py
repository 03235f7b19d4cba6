"""The web app's single door into the engine: plain Python in, JSON-able values out.

``glossui`` talks to the engine only through a ``Service``: it passes widget values (strings,
numbers, dicts) and gets back dicts, lists and strings, never tensors or models. Everything that
imports torch is imported lazily inside methods, so importing this module (and so ``glossui``)
stays torch-free.

One ``Service`` lives per process and is shared by every browser tab: the base model, the job
runner and the run store are process-wide, so reloading the page finds the running job again.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import fields as dc_fields
from pathlib import Path
from typing import Any, Callable

from core.spec import limits
from core.spec.errors import InputError, Problem, fail
from core.service_runs import RunsMixin
from core.spec.gloss import FIELD_HELP, LIST_FIELDS, GlossSpec, builtin_examples, load_example

log = logging.getLogger(__name__)

TINY_MODEL = "tiny-random"

# Spec fields in the order the page shows them.
SPEC_FIELDS = (
    "symbol_id", "glosses", "new_token", "target_tokens",
    "positive_contexts", "negative_contexts", "validation_contexts",
    "testing_positive_contexts", "testing_negative_contexts",
    "fine_tuning_sentences", "validation_sentences", "generation_prompts", "notes",
)


def _warm_imports() -> None:
    """Import the model stack in the calling thread before any worker thread needs it.

    ``transformers`` resolves names lazily on first use; two threads resolving them at once can
    see a half-initialised module ("cannot import name 'LlamaConfig'"). Importing here, once,
    before the loader thread starts, avoids that race.
    """
    from transformers import (AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig,  # noqa: F401
                              LlamaForCausalLM)

    import core.model.loading  # noqa: F401
    import core.experiment.pipeline  # noqa: F401


def problems_of(exc: InputError) -> list[dict]:
    return [p.to_dict() for p in exc.problems]


class ModelSlot:
    """The process-wide base model, loaded in a background thread with a readable status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = None          # core.model.loading.LoadedModel once ready
        self._thread: threading.Thread | None = None
        self._status: dict[str, Any] = {"state": "idle", "request": "", "name": "", "message": "",
                                        "progress": 0.0, "info": None, "problems": []}

    def status(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._status))

    def _set(self, **kw) -> None:
        with self._lock:
            self._status.update(kw)

    def load(self, name: str | None, wait: bool = False) -> dict:
        """Start loading ``name`` (None or "" = the default) unless it is loading already."""
        request = (name or "").strip()
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                if self._status["request"] == request:
                    thread = self._thread
                else:
                    raise fail("model", f"{self._status['request'] or 'the default model'} is still loading",
                               "wait until it is ready, then load another one")
            else:
                _warm_imports()
                self._status.update(state="loading", request=request, message="Checking the model…",
                                    progress=0.05, problems=[])
                thread = threading.Thread(target=self._load, args=(request,), name="glosslab-model", daemon=True)
                self._thread = thread
                thread.start()
        if wait:
            thread.join()
        return self.status()

    def _load(self, request: str) -> None:
        from core.model import loading as models

        try:
            info = models.check_model(request or None)
            self._set(name=info["name"], progress=0.2,
                      message=f"Loading {info['name']}" + (f" (about {info['bytes_needed'] / 2**30:.1f} GiB)"
                                                           if info.get("bytes_needed") else "") + "…")
            loaded = models.load_model(request or None, progress=lambda m: self._set(message=m, progress=0.5))
            described = models.describe(loaded)
            with self._lock:
                self._loaded = loaded
                self._status.update(state="ready", name=loaded.name, progress=1.0, info=described,
                                    message=f"{loaded.name} is ready.")
        except InputError as exc:
            self._set(state="failed", progress=0.0, problems=problems_of(exc), message=str(exc))
        except Exception as exc:  # a model we could not foresee; keep the app alive and say why
            log.exception("loading model %r failed", request)
            self._set(state="failed", progress=0.0, message=f"{type(exc).__name__}: {exc}"[:400],
                      problems=[Problem("model", f"could not be loaded ({type(exc).__name__}: {str(exc)[:200]})",
                                        "check the name or folder, or leave it empty for the embedded default"
                                        ).to_dict()])

    def get(self, wait_s: float = 0.0):
        """The loaded base model; raise an InputError naming the model field if there is none."""
        thread = self._thread
        if thread is not None and thread.is_alive() and wait_s > 0:
            thread.join(wait_s)
        with self._lock:
            state, loaded = self._status["state"], self._loaded
        if state == "ready" and loaded is not None:
            return loaded
        if state == "loading":
            raise fail("model", "is still loading", "wait a moment and try again (see the Model tab)")
        if state == "failed" and loaded is not None:
            return loaded  # the previous model stays usable after a failed switch
        raise fail("model", "no model is loaded", "load one in the Model tab (leave the field empty for the default)")


class Service(RunsMixin):
    """Everything the page can ask of the engine. See the module docstring (and ``RunsMixin`` for
    jobs, runs, generation and export)."""

    def __init__(self, model: str | None = None, runs_dir: str | os.PathLike = "runs",
                 exports_dir: str | os.PathLike | None = None, tiny: bool = False) -> None:
        self.default_request = TINY_MODEL if tiny else (model or "")
        self.runs_dir = Path(runs_dir).expanduser().resolve()
        self.exports_dir = Path(exports_dir).expanduser().resolve() if exports_dir else self.runs_dir.parent / "exports"
        # Files offered for download live under the system temp dir, where Gradio may serve them.
        self.downloads_dir = Path(tempfile.mkdtemp(prefix="glosslab-downloads-"))
        self.model = ModelSlot()
        self._lock = threading.Lock()
        # The last initializations (each holds a model copy): a training with the same spec,
        # settings and base model starts from it instead of initializing again.
        self._inits: OrderedDict[str, Any] = OrderedDict()
        self._runner = None
        self._store = None
        self._models_cache: dict = {}
        self._cache_lock = threading.Lock()

    # -- limits and help ---------------------------------------------------------------------
    @staticmethod
    def limits() -> list[list[str]]:
        return [[what, limit] for what, limit in limits.describe()]

    @staticmethod
    def field_limits() -> dict[str, dict]:
        """Per spec field: item counts and characters per item, for the counters beside each field."""
        out = {}
        for name in SPEC_FIELDS:
            if name in LIST_FIELDS:
                lo, hi = limits.COUNTS[name]
                chars = limits.GLOSS_CHARS if name == "glosses" else limits.TEXT_CHARS
                out[name] = {"min": lo, "max": hi, "chars": chars, "help": FIELD_HELP[name]}
            else:
                chars = {"symbol_id": limits.SYMBOL_ID_CHARS, "new_token": limits.TOKEN_NAME_CHARS,
                         "notes": limits.NOTES_CHARS}[name]
                out[name] = {"min": None, "max": None, "chars": chars, "help": FIELD_HELP[name]}
        return out

    # -- specs -------------------------------------------------------------------------------
    @staticmethod
    def examples() -> list[str]:
        return list(builtin_examples())

    @staticmethod
    def example(name: str) -> dict:
        return load_example(name).to_dict()

    @staticmethod
    def blank_spec() -> dict:
        return {name: ([] if name in LIST_FIELDS else "") for name in SPEC_FIELDS}

    def _tokenizer(self):
        try:
            return self.model.get().tokenizer
        except InputError:
            return None

    def check_spec(self, data: dict, with_tokenizer: bool = True) -> list[dict]:
        """Every problem with a spec (an empty list when it is fine), tokenizer checks included
        when a model is loaded."""
        try:
            spec = GlossSpec.from_dict(data)
        except InputError as exc:
            return problems_of(exc)
        if with_tokenizer:
            tokenizer = self._tokenizer()
            if tokenizer is not None:
                from core.spec.gloss import validate_for_tokenizer

                return [p.to_dict() for p in validate_for_tokenizer(spec, tokenizer)]
        return []

    def spec(self, data: dict) -> GlossSpec:
        """A validated spec (structure and tokenizer), or an InputError listing every problem."""
        problems = self.check_spec(data)
        if problems:
            raise InputError([Problem(**p) for p in problems])
        return GlossSpec.from_dict(data)

    @staticmethod
    def parse_spec_file(content: bytes | str) -> tuple[dict, list[dict]]:
        """Read an uploaded spec: (the fields that could be read, every problem).

        JSON only (never pickle or code). When the JSON is an object, the fields whose type is
        right are returned even if others are wrong, so the user can fix them in the page.
        """
        try:
            spec = GlossSpec.from_json(content)
            return spec.to_dict(), []
        except InputError as exc:
            problems = problems_of(exc)
        try:
            data = json.loads(content)
        except (ValueError, RecursionError):
            return {}, problems
        if not isinstance(data, dict):
            return {}, problems
        readable: dict[str, Any] = {}
        for name in SPEC_FIELDS:
            value = data.get(name)
            if name in LIST_FIELDS and isinstance(value, list):
                readable[name] = [v for v in value if isinstance(v, str)]
            elif name == "symbol_id" and isinstance(value, (str, int)) and not isinstance(value, bool):
                readable[name] = str(value)
            elif name not in LIST_FIELDS and isinstance(value, str):
                readable[name] = value
        return readable, problems

    def spec_download(self, data: dict) -> str:
        """Write the spec as JSON for download (validated structurally first); return the path."""
        spec = GlossSpec.from_dict(data)
        name = f"gloss_{spec.symbol_id}.json"
        return str(spec.save(self._download_dir() / name))

    def _download_dir(self) -> Path:
        folder = Path(tempfile.mkdtemp(dir=self.downloads_dir))
        return folder

    # -- model -------------------------------------------------------------------------------
    def load_model(self, name: str | None = None, wait: bool = False) -> dict:
        request = (name or "").strip() or self.default_request
        return self.model.load(request, wait=wait)

    def model_status(self) -> dict:
        return self.model.status()

    # -- initialization ----------------------------------------------------------------------
    @staticmethod
    def strategies() -> list[dict]:
        """Every strategy: name, label, one-line help, whether its output row is calculated."""
        from core.embedding.strategies import RESEARCH_STRATEGIES, STRATEGIES

        return [{"name": s.name, "label": s.label, "help": s.help, "calculated_output": s.calculated_output,
                 "research": s.name in RESEARCH_STRATEGIES} for s in STRATEGIES.values()]

    @staticmethod
    def init_defaults() -> dict:
        from core.embedding.strategies import InitConfig

        return InitConfig().to_dict()

    @staticmethod
    def init_config(values: dict):
        """An ``InitConfig`` from widget values (numbers from the page may arrive as floats)."""
        from core.embedding.strategies import InitConfig

        return InitConfig(**_whole_numbers(values, ("seed", "opt_epochs", "opt_batch_size")))

    def initialize(self, spec_data: dict, config: dict, on_event: Callable[[dict], None] | None = None) -> dict:
        """Add the token to a copy of the base model with one strategy and evaluate it.

        Returns ``InitResult.to_dict()``; the model itself stays here (the last two are kept, so
        that a training with the same spec and settings starts from it) and nothing with tensors
        crosses into the page.
        """
        from core.experiment.pipeline import initialize

        cfg = self.init_config(config)
        spec = self.spec(spec_data)
        base = self.model.get(wait_s=120)
        result = initialize(spec, cfg, base, on_event=on_event)
        out = result.to_dict()
        with self._lock:
            self._inits[_fingerprint(spec, cfg, base.name)] = result
            while len(self._inits) > 2:   # each holds a whole model copy
                self._inits.popitem(last=False)
        return out

    def _take_init(self, spec: GlossSpec, config, model_name: str):
        """The kept initialization for exactly this spec, config and model (handed over once:
        fine-tuning consumes its model), or None."""
        with self._lock:
            return self._inits.pop(_fingerprint(spec, config, model_name), None)

    # -- fine-tuning settings ----------------------------------------------------------------
    @staticmethod
    def finetune_fields() -> list[dict]:
        """Every ``FinetuneConfig`` field for the page: name, kind, default, choices, range, help.

        ``advanced`` marks settings a linguist rarely needs (precision, padding, batching of the
        validation pass); the page folds them away.
        """
        import typing

        from core.train.finetune import FIELD_HELP as FT_HELP
        from core.train.finetune import FinetuneConfig

        hints = typing.get_type_hints(FinetuneConfig)
        defaults = FinetuneConfig()
        out = []
        for f in dc_fields(FinetuneConfig):
            hint = hints[f.name]
            entry: dict[str, Any] = {"name": f.name, "default": getattr(defaults, f.name),
                                     "help": FT_HELP.get(f.name, ""), "advanced": f.name in _ADVANCED,
                                     "choices": None, "min": None, "max": None}
            if typing.get_origin(hint) is typing.Literal:
                entry.update(kind="choice", choices=list(typing.get_args(hint)))
            elif hint is bool:
                entry["kind"] = "bool"
            elif hint is int:
                entry["kind"] = "int"
            elif hint is float:
                entry["kind"] = "float"
            else:
                entry["kind"] = "str"
            limit = getattr(limits, _RANGES.get(f.name, ""), None)
            if isinstance(limit, tuple) and len(limit) == 2:
                entry["min"], entry["max"] = limit
            out.append(entry)
        return out

    @staticmethod
    def finetune_config(values: dict):
        from core.train.finetune import FinetuneConfig

        return FinetuneConfig.from_dict(dict(values))


# Fine-tuning fields and the ranges in core.spec.limits that bound them (shown beside each field).
_RANGES = {"learning_rate": "LEARNING_RATE", "epochs": "EPOCHS", "batch_size": "BATCH_SIZE",
           "grad_accum": "GRAD_ACCUM", "warmup_ratio": "WARMUP_RATIO", "weight_decay": "WEIGHT_DECAY",
           "max_grad_norm": "MAX_GRAD_NORM", "eval_every": "EVAL_EVERY", "lora_r": "LORA_RANK",
           "lora_alpha": "LORA_ALPHA", "lora_dropout": "DROPOUT", "seed": "SEED_VALUE",
           "pad_to_length": "PAD_TO_LENGTH"}
_ADVANCED = {"max_grad_norm", "restore_best", "compute_dtype", "gradient_checkpointing", "pad_to_length",
             "eval_batch_size", "lr_scheduler", "weight_decay"}


def _fingerprint(spec: GlossSpec, config, model_name: str) -> str:
    return json.dumps([spec.to_dict(), config.to_dict(), model_name], sort_keys=True)


def _whole_numbers(values: dict, names: tuple[str, ...]) -> dict:
    """Turn 3.0 into 3 for integer fields (gr.Number gives floats); leave anything else as typed,
    so that 3.5 or "abc" still reaches the config's validation and gets its message."""
    out = dict(values)
    for name in names:
        v = out.get(name)
        if isinstance(v, float) and v.is_integer():
            out[name] = int(v)
    return out
