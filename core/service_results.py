"""The page's door to finished runs (a *target*: a fine-tuning run, or one member of a comparison),
mixed into ``Service``: their generations, new generations before and after fine-tuning, the
adapter and merged-model exports, and a comparison's files to download.

Split from ``core/service.py`` by role. Plain values in, plain dicts out; the engine is imported
lazily, so the page stays torch-free. Uses ``Service.store``, ``Service.runner``, ``Service.model``,
``Service.exports_dir`` and the models cache of the last target.
"""

from __future__ import annotations

import json
import re

from core.spec.errors import InputError, Problem, fail
from core.spec.gloss import check_prompt
from core.spec.settings import check_max_new_tokens


class ResultsService:
    """Trained models in the run store, as the Generate, Export and Compare tabs use them."""

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
        if m.get("kind") == "vocab":  # a vocabulary: every symbol's prompts, one symbol after another
            symbols = m.get("symbols") or []
            return {"before": [g for s in symbols for g in s.get("generations_before") or []],
                    "after": [g for s in symbols for g in s.get("generations_after") or []],
                    "title": f"{len(symbols)} symbols", "strategy": m.get("strategy", "")}
        return {"before": (m.get("evaluation_before") or {}).get("generations") or [],
                "after": (m.get("evaluation_after") or {}).get("generations") or [],
                "title": m.get("init", {}).get("spec") or "", "strategy": m.get("strategy", "")}

    def generation_symbols(self, target: str) -> list[dict]:
        """A vocabulary target's symbols, for choosing whose gloss and token fill a custom prompt:
        [{"token", "label"}]; an empty list for a target of one symbol."""
        m = self._member(target)
        if m.get("kind") != "vocab":
            return []
        return [{"token": s["token"], "label": f"{s['token']} ({s.get('gloss', '')})"} for s in m.get("symbols") or []]

    def _models(self, target: str) -> dict:
        """The target's models before and after fine-tuning (kept for the last target used)."""
        with self._cache_lock:
            if target in self._models_cache:
                return self._models_cache[target]
        from core.runs.export import before_and_after, vocab_before_and_after

        run_id, member = self._target(target)
        spec_data = self.store.spec(run_id) or {}
        config = self.store.config(run_id) or {}
        found = self._member(target)
        if found.get("kind") == "vocab":  # every symbol's token, as the vocabulary was trained
            models = vocab_before_and_after(self.store.adapter_path(run_id, member), spec_data["specs"],
                                            config.get("init") or {}, bool(config.get("contrast")),
                                            self.model.get(wait_s=120))
            return self._keep(target, models)
        if "specs" in spec_data:  # a comparison over several symbols: the member's own symbol
            token = (found.get("init") or {}).get("token")
            spec_data = next((s for s in spec_data["specs"] if s.get("new_token") == token), spec_data["specs"][0])
        models = before_and_after(self.store.adapter_path(run_id, member), spec_data, config.get("init") or {},
                                  self.model.get(wait_s=120))
        return self._keep(target, models)

    def _keep(self, target: str, models: dict) -> dict:
        with self._cache_lock:
            self._models_cache.clear()  # one trained model in memory at a time
            self._models_cache[target] = models
        return models

    def generate(self, target: str, prompt: str, max_new_tokens, symbol: str | None = None) -> dict:
        """A custom prompt with {placeholder}, filled with the gloss and with the token, before and
        after fine-tuning: {"before": row, "after": row} (and "symbol", the token used, for a
        vocabulary) with ``core.experiment.evaluate.generations`` rows. ``symbol``: for a vocabulary, the
        token whose gloss and token fill the prompt (one of ``generation_symbols``)."""
        from dataclasses import replace

        from core.experiment.evaluate import generations

        symbols = [s["token"] for s in self.generation_symbols(target)]

        def check_symbol() -> None:
            if symbols and symbol not in symbols:
                raise fail("symbol", f"{symbol!r} is not a symbol of this vocabulary" if symbol else "no symbol was chosen",
                           f"choose one of {', '.join(symbols[:5])}" + (" …" if len(symbols) > 5 else ""))

        problems = _collect(lambda: check_prompt(prompt, "prompt"),
                            lambda: check_max_new_tokens(max_new_tokens, "tokens to generate"), check_symbol)
        if problems:
            raise InputError(problems)
        prompt, max_new_tokens = prompt.strip(), check_max_new_tokens(max_new_tokens)
        models = self._models(target)
        chosen = models["specs"][[s.new_token for s in models["specs"]].index(symbol)] if symbols else models["spec"]
        spec = replace(chosen, generation_prompts=[prompt])
        out = {}
        for when in ("before", "after"):
            model, tokenizer, token_id = models[when]
            out[when] = generations(model, tokenizer, spec, token_id, max_new_tokens)[0]
        if symbols:
            out["symbol"] = symbol
        return out

    def export_adapter(self, target: str) -> dict:
        """The target's adapter folder as a zip to download, and how to load it."""
        from core.runs.export import usage, zip_adapter

        run_id, member = self._target(target)
        name = f"glosslab-{run_id}" + (f"-{member}" if member else "") + "-adapter"
        out = zip_adapter(self.store.adapter_path(run_id, member), self._download_dir() / f"{name}.zip", name)
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
        path = export_merged(folder, out, base=base if base.name == meta["base_model"] else None,
                             field="export name")
        return {"path": str(path), "message": f"Saved the merged model to {path}.", "how_to_load": usage(path, True)}

    def comparison_files(self, job_id: str) -> list[str]:
        """The comparison's results as CSV, JSON and Markdown files and the report (HTML, Markdown) to download."""
        from core.experiment import report, results

        result = self.runner.result(job_id) or {}
        folder = self._download_dir()
        files = {"comparison.csv": results.csv_text(result.get("rows") or []),
                 "comparison.json": json.dumps({k: v for k, v in result.items() if k != "members"},
                                               ensure_ascii=False, indent=2) + "\n",
                 "comparison.md": result.get("markdown") or "",
                 "report.html": report.report_html(result), "report.md": report.report_markdown(result)}
        paths = []
        for name, content in files.items():
            (folder / name).write_text(content, encoding="utf-8")
            paths.append(str(folder / name))
        return paths


def _collect(*checks) -> list[Problem]:
    """Run config constructors, collecting every InputError's problems instead of stopping at one."""
    problems: list[Problem] = []
    for check in checks:
        try:
            check()
        except InputError as exc:
            problems += exc.problems
    return problems
