"""Finished runs for the page: the run store's list and one run as it was, and their trained
models (a *trained model*: a fine-tuning run ``"<run_id>"``, or one member of a comparison
``"<run_id>:<strategy>-s<seed>"``; ``:`` never occurs in a run id): their generations, new
generations before and after fine-tuning, the adapter and merged-model exports, and a
comparison's files to download; a vocabulary's lexicon report (``core.report.lexicon``) and its files.

Plain values in, plain dicts out; the engine is imported lazily, so the page stays torch-free.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from core.report import lexicon
from core.runs import progress
from core.service.common import Downloads, raise_all
from core.service.jobs import Jobs
from core.service.models import Models
from core.spec.errors import fail
from core.spec.gloss import check_prompt
from core.spec.settings import check_max_new_tokens
from core.train.events import step_events


class Results:
    """Runs in the store and their trained models, as the Runs, Generate, Export and Compare tabs
    use them (``jobs`` gives the store and the runner)."""

    def __init__(self, jobs: Jobs, models: Models, downloads: Downloads, exports_dir: Path) -> None:
        self.jobs, self.models, self.downloads = jobs, models, downloads
        self.exports_dir = exports_dir
        self._models_cache: dict = {}
        self._lexicon_files: dict[str, tuple] = {}  # by job: (when it finished, the report's files)
        self._cache_lock = threading.Lock()
        self._load_lock = threading.Lock()

    @property
    def store(self):
        return self.jobs.store

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
               "result": result, "events": steps, "best": progress.best(steps), "path": data["path"],
               "targets": [run_id if a == "" else f"{run_id}:{a}" for a in data["adapters"]]}
        if out["kind"] == "compare":
            out["series"] = progress.series(steps)
        return out

    def delete_run(self, run_id: str) -> None:
        self.store.delete(run_id)
        with self._cache_lock:
            for key in [k for k in self._models_cache if k.split(":")[0] == run_id]:
                del self._models_cache[key]

    # -- trained models --------------------------------------------------------------------------

    def _trained(self, trained: str) -> tuple[str, str | None]:
        if not isinstance(trained, str) or not trained:
            raise fail("run", "no run was chosen", "choose a run that finished training")
        run_id, _, member = trained.partition(":")
        folder = self.store.adapter_path(run_id, member or None)
        if not (folder / "adapter_config.json").is_file():
            raise fail("run", f"{trained!r} has no trained adapter", "choose a run that finished training")
        return run_id, member or None

    def _member(self, trained: str) -> dict:
        """The result block of a trained model: the run's result, or its comparison member's."""
        run_id, member = self._trained(trained)
        result = self.store.result(run_id) or {}
        if member is None:
            return result
        found = next((m for m in result.get("members") or [] if m.get("name") == member), None)
        if found is None:
            raise fail("run", f"{trained!r} has no result yet", "wait until the comparison has finished")
        return found

    def generations(self, trained: str) -> dict:
        """{"before": [...], "after": [...]}: every prompt with the gloss and the token."""
        m = self._member(trained)
        if m.get("kind") == "vocab":  # a vocabulary: every symbol's prompts, one symbol after another
            symbols = m.get("symbols") or []
            return {"before": [g for s in symbols for g in s.get("generations_before") or []],
                    "after": [g for s in symbols for g in s.get("generations_after") or []],
                    "title": f"{len(symbols)} symbols", "strategy": m.get("strategy", "")}
        return {"before": (m.get("evaluation_before") or {}).get("generations") or [],
                "after": (m.get("evaluation_after") or {}).get("generations") or [],
                "title": m.get("init", {}).get("spec") or "", "strategy": m.get("strategy", "")}

    def symbols(self, trained: str) -> list[dict]:
        """A trained vocabulary's symbols, for choosing whose gloss and token fill a custom prompt:
        [{"token", "label"}]; an empty list for a model trained on one symbol."""
        m = self._member(trained)
        if m.get("kind") != "vocab":
            return []
        return [{"token": s["token"], "label": f"{s['token']} ({s.get('gloss', '')})"} for s in m.get("symbols") or []]

    def _models(self, trained: str) -> dict:
        """The trained model's base and fine-tuned models (kept for the last one used). Two
        requests at once for one not kept yet load it once: the second waits for the first."""
        with self._cache_lock:
            if trained in self._models_cache:
                return self._models_cache[trained]
        with self._load_lock:
            with self._cache_lock:
                if trained in self._models_cache:
                    return self._models_cache[trained]
            return self._load_models(trained)

    def _load_models(self, trained: str) -> dict:
        from core.runs.export import before_and_after, vocab_before_and_after

        run_id, member = self._trained(trained)
        spec_data = self.store.spec(run_id) or {}
        config = self.store.config(run_id) or {}
        found = self._member(trained)
        if found.get("kind") == "vocab":  # every symbol's token, as the vocabulary was trained
            models = vocab_before_and_after(self.store.adapter_path(run_id, member), spec_data["specs"],
                                            config.get("init") or {}, bool(config.get("contrast")),
                                            self.models.get())
            return self._keep(trained, models)
        if "specs" in spec_data:  # a comparison over several symbols: the member's own symbol
            token = (found.get("init") or {}).get("token")
            spec_data = next((s for s in spec_data["specs"] if s.get("new_token") == token), spec_data["specs"][0])
        models = before_and_after(self.store.adapter_path(run_id, member), spec_data, config.get("init") or {},
                                  self.models.get())
        return self._keep(trained, models)

    def _keep(self, trained: str, models: dict) -> dict:
        with self._cache_lock:
            self._models_cache.clear()  # one trained model in memory at a time
            self._models_cache[trained] = models
        return models

    def generate(self, trained: str, prompt: str, max_new_tokens, symbol: str | None = None) -> dict:
        """A custom prompt with {placeholder}, filled with the gloss and with the token, before and
        after fine-tuning: {"before": row, "after": row} (and "symbol", the token used, for a
        vocabulary) with ``core.experiment.single.evaluate.generations`` rows. ``symbol``: for a vocabulary, the
        token whose gloss and token fill the prompt (one of ``generation_symbols``)."""
        from dataclasses import replace

        from core.experiment.single.evaluate import generations

        symbols = [s["token"] for s in self.symbols(trained)]

        def check_symbol() -> None:
            if symbols and symbol not in symbols:
                raise fail("symbol", f"{symbol!r} is not a symbol of this vocabulary" if symbol else "no symbol was chosen",
                           f"choose one of {', '.join(symbols[:5])}" + (" …" if len(symbols) > 5 else ""))

        raise_all(lambda: check_prompt(prompt, "prompt"),
                  lambda: check_max_new_tokens(max_new_tokens, "tokens to generate"), check_symbol)
        prompt, max_new_tokens = prompt.strip(), check_max_new_tokens(max_new_tokens)
        models = self._models(trained)
        chosen = models["specs"][[s.new_token for s in models["specs"]].index(symbol)] if symbols else models["spec"]
        spec = replace(chosen, generation_prompts=[prompt])
        out = {}
        for when in ("before", "after"):
            model, tokenizer, token_id = models[when]
            out[when] = generations(model, tokenizer, spec, token_id, max_new_tokens)[0]
        if symbols:
            out["symbol"] = symbol
        return out

    def export_adapter(self, trained: str) -> dict:
        """The trained model's adapter folder as a zip to download, and how to load it."""
        from core.runs.export import usage, zip_adapter

        run_id, member = self._trained(trained)
        name = f"glosslab-{run_id}" + (f"-{member}" if member else "") + "-adapter"
        out = zip_adapter(self.store.adapter_path(run_id, member), self.downloads.folder() / f"{name}.zip", name)
        return {"path": str(out), "message": f"The adapter of {trained} is ready to download ({out.name}). "
                f"Unzip it to get the folder {name}; it needs the base model it was trained on.",
                "how_to_load": usage(name, merged=False)}

    def export_merged(self, trained: str, name: str) -> dict:
        """Merge the trained model's adapter into a full-precision model folder under the export folder."""
        from core.runs.export import export_merged, export_path, read_adapter_metadata, usage

        run_id, member = self._trained(trained)
        folder = self.store.adapter_path(run_id, member)
        meta = read_adapter_metadata(folder)
        name = (name or "").strip() or re.sub(r"[^A-Za-z0-9_.-]", "_", f"{run_id}-{member or 'merged'}")
        out = export_path(self.exports_dir, name)
        base = self.models.get()
        path = export_merged(folder, out, base=base if base.name == meta["base_model"] else None,
                             field="export name")
        return {"path": str(path), "message": f"Saved the merged model to {path}.", "how_to_load": usage(path, True)}

    def comparison_files(self, job_id: str) -> list[str]:
        """The comparison's results as CSV, JSON and Markdown files and the report (HTML, Markdown) to download."""
        from core.report import document as report
        from core.report import tables

        result = self.jobs.runner.result(job_id) or {}
        folder = self.downloads.folder()
        files = {"comparison.csv": tables.csv_text(result.get("rows") or []),
                 "comparison.json": json.dumps({k: v for k, v in result.items() if k != "members"},
                                               ensure_ascii=False, indent=2) + "\n",
                 "comparison.md": result.get("markdown") or "",
                 "report.html": report.report_html(result), "report.md": report.report_markdown(result)}
        paths = []
        for name, content in files.items():
            (folder / name).write_text(content, encoding="utf-8")
            paths.append(str(folder / name))
        return paths


    # -- a vocabulary's lexicon report ---------------------------------------------------------------
    def _vocab_result(self, job_id: str) -> dict:
        """The result of a vocabulary job or run, or an InputError naming the run."""
        if not isinstance(job_id, str) or not job_id:
            raise fail("run", "no run was chosen", "choose a vocabulary run that has finished")
        result = self.jobs.runner.result(job_id)
        if not result:
            raise fail("run", f"run {job_id!r} has no result yet", "wait until it has finished")
        if result.get("kind") != "vocab":
            raise fail("run", f"run {job_id!r} is not a vocabulary run", "choose a vocabulary run")
        return result

    def lexicon(self, job_id: str) -> dict:
        """A vocabulary run's lexicon report as the page shows it: ``summary``
        (``lexicon.lexicon_summary``: the shares before and after, ``worst`` with their reasons),
        ``lines`` (the shares in words) and ``bins`` (``lexicon.rank_counts``: how many symbols' own
        median rank falls in each band, before and after)."""
        rows = lexicon.lexicon_rows(self._vocab_result(job_id))
        summary = lexicon.lexicon_summary(rows)
        return {"summary": summary, "lines": lexicon.summary_lines(summary), "bins": lexicon.rank_counts(rows)}

    def drafted_files(self, job_id: str) -> dict:
        """A vocabulary draft's files to download (copies, named after the run): ``vocabulary``, its
        JSONL of drafted specs (what the Vocabulary tab takes as an upload), and ``report``, every
        symbol handled with its reason; an ``InputError`` naming ``job_id`` for a run of another kind."""
        from core.runs.draft_jobs import KIND, vocab_file

        status = self.store.status(job_id)
        if status.get("kind") != KIND:
            raise fail("job_id", f"run {job_id!r} is not a vocabulary draft", "choose a drafting job")
        source = vocab_file(self.store, job_id)
        folder = self.downloads.folder()
        out = {"vocabulary": folder / f"{job_id}.jsonl", "report": folder / f"{job_id}.report.jsonl"}
        for key, path in (("vocabulary", source), ("report", Path(f"{source}.report.jsonl"))):
            out[key].write_bytes(path.read_bytes() if path.is_file() else b"")
        return {key: str(path) for key, path in out.items()}

    def lexicon_files(self, job_id: str) -> list[str]:
        """The lexicon report's files to download (lexicon.md, lexicon.html, symbols.csv, as
        ``vocab --out`` writes them), written once per finished run."""
        result = self._vocab_result(job_id)
        finished = self.jobs.runner.get(job_id).get("finished")
        kept = self._lexicon_files.get(job_id)
        if kept and kept[0] == finished and all(Path(p).is_file() for p in kept[1]):
            return list(kept[1])
        rows = lexicon.lexicon_rows(result)
        folder = self.downloads.folder()
        files = {"lexicon.md": lexicon.lexicon_markdown(result, rows),
                 "lexicon.html": lexicon.lexicon_html(result, rows), "symbols.csv": lexicon.lexicon_csv(rows)}
        for name, content in files.items():
            (folder / name).write_text(content, encoding="utf-8")
        paths = [str(folder / name) for name in files]
        self._lexicon_files[job_id] = (finished, paths)
        return paths
