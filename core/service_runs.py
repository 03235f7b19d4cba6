"""The part of the web app's facade that runs jobs and reads runs: training, comparisons, the run
store, generations with a trained run, and exports. Mixed into ``core.service.Service``.

Same rules as ``core.service``: JSON-able values in and out, torch imported lazily. What the page
calls a *target* is one trained model in the store: a fine-tuning run (``"<run_id>"``) or one
member of a comparison (``"<run_id>:<strategy>-s<seed>"``; ``:`` never occurs in a run id).
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import zipfile
from pathlib import Path
from typing import Any

from core.spec import limits
from core.spec.errors import Collector, InputError, Problem, fail
from core.train.events import step_events
from core.spec.gloss import PLACEHOLDER, GlossSpec, _bad_character

ACTIVE = ("queued", "running", "stopping")
# Columns of the comparison CSV (the JSON keeps every number).
CSV_COLUMNS = ("strategy", "label", "seeds", "best_epoch", "eval_loss", "train_loss", "initial_eval_loss",
               "cos_input_before_after", "cos_output_before_after", "time_per_epoch_s",
               "mrr_positive_before", "mrr_positive_after", "median_rank_negative_before",
               "median_rank_negative_after", "gen_agreement_before", "gen_agreement_after", "stopped")


def _collect(*checks) -> list[Problem]:
    """Run config constructors, collecting every InputError's problems instead of stopping at one."""
    problems: list[Problem] = []
    for check in checks:
        try:
            check()
        except InputError as exc:
            problems += exc.problems
    return problems


class RunsMixin:
    """Jobs, runs, generation and export for ``Service`` (which provides model, spec and configs)."""

    # Set by Service.__init__: runs_dir, exports_dir, model, and these.
    _runner = None
    _store = None
    _models_cache: dict
    _cache_lock: threading.Lock

    # -- the process-wide runner and store -----------------------------------------------------
    @property
    def store(self):
        from core.runs.store import RunStore

        if self._store is None:
            self._store = RunStore(self.runs_dir)
        return self._store

    @property
    def runner(self):
        from core.runs.jobs import JobRunner

        if self._runner is None:
            self._runner = JobRunner(self.store)
        return self._runner

    def shutdown(self) -> None:
        if self._runner is not None:
            self._runner.shutdown(wait=True)

    # -- starting jobs -------------------------------------------------------------------------
    def _configs(self, spec_data: dict, init: dict, finetune: dict):
        """(spec, InitConfig, FinetuneConfig), or one InputError listing every problem of all three."""
        out: dict[str, Any] = {}
        problems = [Problem(**p) for p in self.check_spec(spec_data)]
        problems += _collect(lambda: out.__setitem__("init", self.init_config(init)),
                             lambda: out.__setitem__("ft", self.finetune_config(finetune)))
        if not problems:
            spec = GlossSpec.from_dict(spec_data)
            problems += _collect(lambda: out["ft"].check_data(len(spec.fine_tuning_sentences),
                                                              len(spec.validation_sentences)))
        if problems:
            raise InputError(problems)
        return spec, out["init"], out["ft"]

    def start_training(self, spec_data: dict, init: dict, finetune: dict) -> dict:
        """Queue a fine-tuning job (one strategy); returns the job as ``job()`` shows it."""
        from core.runs.submit import submit_finetune

        spec, init_cfg, ft_cfg = self._configs(spec_data, init, finetune)
        base = self.model.get(wait_s=120)
        ticket = submit_finetune(self.runner, spec, base, init_cfg, ft_cfg,
                                 init_result=self._take_init(spec, init_cfg, base.name))
        return self.job(ticket.job_id)

    def start_comparison(self, spec_data: dict, strategies: list[str], seeds, init: dict, finetune: dict) -> dict:
        from core.experiment.compare import CompareConfig
        from core.runs.submit import submit_comparison

        spec, init_cfg, ft_cfg = self._configs(spec_data, init, finetune)
        if isinstance(seeds, float) and seeds.is_integer():
            seeds = int(seeds)
        config = CompareConfig(strategies=list(strategies), seeds=seeds, finetune=ft_cfg, init=init_cfg)
        base = self.model.get(wait_s=120)
        return self.job(submit_comparison(self.runner, spec, base, config).job_id)

    def stop_job(self, job_id: str) -> dict:
        self.runner.stop(job_id)
        return self.job(job_id)

    # -- watching jobs -------------------------------------------------------------------------
    def job(self, job_id: str) -> dict:
        """Where a job (or a stored run) stands: status, queue position, step events, progress,
        best step, per-member curves of a comparison, and its result once finished."""
        snap = self.runner.get(job_id)
        events = self.runner.events(job_id)
        steps = step_events(events)
        job = {"id": job_id, "kind": snap["kind"], "title": snap.get("title", ""), "status": snap["status"],
               "position": snap.get("position"), "error": snap.get("error"), "events": steps,
               "best": _best(steps), "progress": _progress(events, steps), "result": None}
        if snap["kind"] == "compare":
            job["series"] = _series(steps)
        if snap["status"] not in ACTIVE:
            result = self.runner.result(job_id)
            job["result"] = result
            if snap["kind"] == "compare" and result:
                job["rows"] = result.get("rows") or []
        return job

    def latest_job(self, kind: str) -> dict | None:
        """The running or queued job of this kind ("finetune" or "compare"), else the latest one,
        of this process or (after a restart) from the store."""
        kind = "finetune" if kind == "train" else kind
        mine = [j for j in self.runner.list() if j["kind"] == kind]
        active = [j for j in mine if j["status"] in ACTIVE]
        if active or mine:
            return self.job((active or mine)[-1]["job_id"])
        stored = [r for r in self.store.list() if r.get("kind") == kind]
        return self.job(stored[0]["run_id"]) if stored else None

    # -- the run store -------------------------------------------------------------------------
    def runs(self) -> list[dict]:
        """Every run, newest first: id, kind, title, status, times, error, and its trained targets."""
        rows = []
        for r in self.store.list():
            run_id = r["run_id"]
            adapters = self.store.adapters(run_id)
            rows.append({"id": run_id, "kind": r.get("kind"), "title": r.get("title", ""), "status": r.get("status"),
                         "created": r.get("created"), "finished": r.get("finished"), "error": r.get("error"),
                         "has_result": r.get("has_result", False),
                         "targets": [run_id if a == "" else f"{run_id}:{a}" for a in adapters]})
        return rows

    def run(self, run_id: str) -> dict:
        """One run as it was: spec, config, status, step events, curves, result."""
        data = self.store.open(run_id)
        status = data["status"]
        steps = step_events(data["events"])
        result = data.get("result") or {}
        out = {"id": run_id, "kind": status.get("kind"), "title": status.get("title", ""),
               "status": status.get("status"), "error": status.get("error"), "created": status.get("created"),
               "finished": status.get("finished"), "spec": data["spec"], "config": data["config"],
               "result": result, "events": steps, "best": _best(steps), "path": data["path"],
               "targets": [run_id if a == "" else f"{run_id}:{a}" for a in data["adapters"]]}
        if out["kind"] == "compare":
            out["series"] = _series(steps)
        return out

    def delete_run(self, run_id: str) -> None:
        self.store.delete(run_id)
        with self._cache_lock:
            for key in [k for k in self._models_cache if k.split(":")[0] == run_id]:
                del self._models_cache[key]

    # -- a trained model: its generations, new generations, exports ----------------------------
    def _target(self, target: str) -> tuple[str, str | None]:
        if not isinstance(target, str) or not target:
            raise fail("run", "no run was chosen", "choose a run that finished training")
        run_id, _, member = target.partition(":")
        folder = self.store.adapter_path(run_id, member or None)
        if not (folder / "adapter_config.json").is_file():
            raise fail("run", f"{target!r} has no trained adapter", "choose a run that finished training")
        return run_id, member or None

    def _member(self, target: str) -> dict:
        """The result block of a target: the run's result, or its comparison member's."""
        run_id, member = self._target(target)
        result = self.store.result(run_id) or {}
        if member is None:
            return result
        found = next((m for m in result.get("members") or [] if m.get("name") == member), None)
        if found is None:
            raise fail("run", f"{target!r} has no result yet", "wait until the comparison has finished")
        return found

    def target_generations(self, target: str) -> dict:
        """{"before": [...], "after": [...]}: every prompt with the gloss and the token."""
        m = self._member(target)
        return {"before": (m.get("evaluation_before") or {}).get("generations") or [],
                "after": (m.get("evaluation_after") or {}).get("generations") or [],
                "title": m.get("init", {}).get("spec") or "", "strategy": m.get("strategy", "")}

    def _models(self, target: str) -> dict:
        """The target's models before and after fine-tuning (kept for the last target used)."""
        with self._cache_lock:
            if target in self._models_cache:
                return self._models_cache[target]
        from core.runs.export import load_adapter, read_adapter_metadata
        from core.experiment.pipeline import initialize
        from core.embedding.strategies import InitConfig

        run_id, member = self._target(target)
        folder = self.store.adapter_path(run_id, member)
        meta = read_adapter_metadata(folder)
        base = self.model.get(wait_s=120)
        if base.name != meta["base_model"]:
            from core.model.loading import load_model

            base = load_model(meta["base_model"])
        spec = GlossSpec.from_dict(self.store.spec(run_id))
        init = dict((self.store.config(run_id) or {}).get("init") or {})
        if member is not None:
            init.update(strategy=meta.get("strategy", init.get("strategy")), seed=meta.get("seed", init.get("seed")))
        # The rows before fine-tuning are recomputed: every strategy is deterministic for its seed.
        before = initialize(spec, InitConfig(**init), base, evaluate_after=False, compare_with=())
        after, tokenizer, token_id = load_adapter(folder, base=base)
        models = {"spec": spec, "before": (before.model, before.tokenizer, before.token_id),
                  "after": (after, tokenizer, token_id)}
        with self._cache_lock:
            self._models_cache.clear()  # one trained model in memory at a time
            self._models_cache[target] = models
        return models

    def generate(self, target: str, prompt: str, max_new_tokens) -> dict:
        """A custom prompt with {placeholder}, filled with the gloss and with the token, before and
        after fine-tuning: {"before": row, "after": row} as ``core.experiment.evaluate.generations`` rows."""
        from dataclasses import replace

        from core.experiment.evaluate import generations

        c = Collector()
        prompt = (prompt or "").strip()
        if not prompt:
            c.add("prompt", "is empty", f"write a prompt with {PLACEHOLDER}, e.g. 'I went to the {PLACEHOLDER} to'")
        elif PLACEHOLDER not in prompt:
            c.add("prompt", f"has no {PLACEHOLDER}", f"write {PLACEHOLDER} where the gloss or the token should go")
        elif len(prompt) > limits.TEXT_CHARS:
            c.add("prompt", f"has {len(prompt)} characters, over the limit of {limits.TEXT_CHARS}", "shorten it")
        elif _bad_character(prompt):
            c.add("prompt", f"contains {_bad_character(prompt)}", "retype it as plain text on one line")
        lo, hi = limits.GENERATION_MAX_NEW_TOKENS
        if isinstance(max_new_tokens, float) and max_new_tokens.is_integer():
            max_new_tokens = int(max_new_tokens)
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or not lo <= max_new_tokens <= hi:
            c.add("tokens to generate", f"{max_new_tokens!r} is not a whole number from {lo} to {hi}",
                  f"give {lo} to {hi}, e.g. 24")
        c.raise_if_any()
        models = self._models(target)
        spec = replace(models["spec"], generation_prompts=[prompt])
        out = {}
        for when in ("before", "after"):
            model, tokenizer, token_id = models[when]
            out[when] = generations(model, tokenizer, spec, token_id, max_new_tokens)[0]
        return out

    def export_adapter(self, target: str) -> dict:
        """The target's adapter folder as a zip to download, and how to load it."""
        from core.runs.export import read_adapter_metadata, usage

        run_id, member = self._target(target)
        folder = self.store.adapter_path(run_id, member)
        read_adapter_metadata(folder)
        name = f"glosslab-{run_id}" + (f"-{member}" if member else "") + "-adapter"
        out = Path(self._download_dir()) / f"{name}.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    zf.write(path, Path(name) / path.relative_to(folder))
        return {"path": str(out), "message": f"The adapter of {target} is ready to download ({out.name}). "
                f"Unzip it to get the folder {name}; it needs the base model it was trained on.",
                "how_to_load": usage(name, merged=False)}

    def export_merged(self, target: str, name: str) -> dict:
        """Merge the target's adapter into a full-precision model folder under the export folder."""
        from core.runs.export import export_merged, export_path, read_adapter_metadata, usage

        run_id, member = self._target(target)
        folder = self.store.adapter_path(run_id, member)
        meta = read_adapter_metadata(folder)
        name = (name or "").strip() or re.sub(r"[^A-Za-z0-9_.-]", "_", f"{run_id}-{member or 'merged'}")
        out = export_path(self.exports_dir, name)
        base = self.model.get(wait_s=120)
        path = export_merged(folder, out, base=base if base.name == meta["base_model"] else None)
        return {"path": str(path), "message": f"Saved the merged model to {path}.", "how_to_load": usage(path, True)}

    def comparison_files(self, job_id: str) -> list[str]:
        """The comparison's results as CSV, JSON and Markdown files to download."""
        result = self.runner.result(job_id) or {}
        rows = result.get("rows") or []
        folder = Path(self._download_dir())
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        files = {"comparison.csv": text.getvalue(),
                 "comparison.json": json.dumps({k: v for k, v in result.items() if k != "members"},
                                               ensure_ascii=False, indent=2) + "\n",
                 "comparison.md": result.get("markdown") or ""}
        paths = []
        for name, content in files.items():
            (folder / name).write_text(content, encoding="utf-8")
            paths.append(str(folder / name))
        return paths


# -- reading events ------------------------------------------------------------------------------
def _best(steps: list[dict]) -> dict | None:
    evals = [e for e in steps if isinstance(e.get("eval_loss"), (int, float))]
    if not evals:
        return None
    best = min(evals, key=lambda e: e["eval_loss"])
    return {"step": best.get("step"), "epoch": best.get("epoch"), "eval_loss": best["eval_loss"],
            "strategy": best.get("strategy")}


def _progress(events: list[dict], steps: list[dict]) -> dict:
    """Epoch, step, time left and the fraction done, from the latest events.

    In a comparison the fraction counts finished members plus the current one's share.
    """
    last = steps[-1] if steps else {}
    member = next((e for e in reversed(events) if e.get("type") == "member"), None)
    phase = next((e for e in reversed(events) if e.get("type") == "phase"), None)
    max_steps = last.get("max_steps") or 0
    step = last.get("step") or 0
    within = step / max_steps if max_steps else 0.0
    fraction = within
    label = (phase or {}).get("message", "")
    if member is not None:
        total = member.get("total") or 1
        done = member.get("index", 0) + (1 if member.get("status") == "done" else 0)
        current = within if member.get("status") == "start" else 0.0
        fraction = (done + current) / total
        label = member.get("message", label) if member.get("status") == "start" else label
    per_epoch = (step / last["epoch"]) if last.get("epoch") else None
    return {"step": step, "steps": max_steps, "epoch": last.get("epoch"),
            "epochs": round(max_steps / per_epoch) if per_epoch else None, "eta": last.get("eta"),
            "elapsed": last.get("elapsed"), "fraction": round(min(1.0, fraction), 4), "label": label}


def _series(steps: list[dict]) -> dict[str, list[dict]]:
    """Step events of a comparison grouped by member: {"average (seed 0)": [...], ...}."""
    out: dict[str, list[dict]] = {}
    seeds = {e.get("seed") for e in steps}
    for e in steps:
        name = str(e.get("strategy", "?")) + (f" (seed {e.get('seed')})" if len(seeds) > 1 else "")
        out.setdefault(name, []).append(e)
    return out
