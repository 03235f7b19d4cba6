"""Every event handler of the page, as methods of one ``Runner`` that talks to a ``core.service.Service``.

Handlers take widget values and return widget values (tuples in the order the wiring lists the
outputs). They never let an exception reach Gradio as a stack trace: ``@handler`` turns an
``InputError`` into a message naming each field and its fix, and anything unexpected into a short
readable message (the traceback goes to the server log). Handlers that have a message area on the
page show input problems there too, inline.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Sequence

import gradio as gr

from core.spec.errors import InputError
from core.service import SPEC_FIELDS, Service, problems_of
from core.spec.gloss import LIST_FIELDS
from glossui import plots, render
from glossui import strings as S

log = logging.getLogger(__name__)

INIT_FIELDS = ("strategy", "seed", "random_scale", "negative_logit", "opt_lr", "opt_epochs", "opt_init",
               "opt_batch_size")
ACTIVE = ("queued", "running", "stopping")


def handler(fn=None, *, message: int | None = None, outputs: int = 1):
    """Wrap a handler so that every failure reaches the user as a readable message.

    With ``message`` (the index of the handler's message area among its ``outputs``), input
    problems are listed there, inline, and the other outputs are left as they were; without it
    they appear in an error toast. Anything unexpected becomes a short message in a toast; its
    traceback goes to the server log, never to the page. (Inline rather than toasts where we can:
    a message that stays is easier to act on, and Gradio's toast fails axe's nested-interactive rule.)
    """
    if fn is None:
        return lambda f: handler(f, message=message, outputs=outputs)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except InputError as exc:
            problems = problems_of(exc)
            if message is None:
                raise gr.Error(render.problems_toast(problems), title=S.ERROR_TITLE, print_exception=False) from None
            out = [gr.skip() for _ in range(outputs)]
            out[message] = render.problems_md(problems)
            return tuple(out) if outputs > 1 else out[0]
        except Exception as exc:
            log.exception("handler %s failed", fn.__name__)
            raise gr.Error(render.plain(S.UNEXPECTED.format(kind=type(exc).__name__)), print_exception=False) from None

    return wrapper


def shown(value):
    """Show a component (hidden while it has nothing to show) with this value."""
    return gr.update(value=value, visible=True)


def _lines(text: str | None) -> list[str]:
    """One item a line; blank lines and surrounding spaces are ignored."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def values_to_spec(values: Sequence[str]) -> dict:
    """The spec dict from the Gloss tab's fields (in ``SPEC_FIELDS`` order)."""
    data: dict[str, Any] = {}
    for name, value in zip(SPEC_FIELDS, values):
        data[name] = _lines(value) if name in LIST_FIELDS else (value or "").strip()
    return data


def spec_to_values(spec: dict) -> list[str]:
    out = []
    for name in SPEC_FIELDS:
        value = spec.get(name, [] if name in LIST_FIELDS else "")
        out.append("\n".join(value) if isinstance(value, list) else str(value or ""))
    return out


class Runner:
    """The page's handlers. One instance per app; all state that outlives a request is in the
    service (process-wide) or in per-tab ``gr.State`` values passed in and out."""

    def __init__(self, service: Service) -> None:
        self.service = service

    # -- Gloss tab ---------------------------------------------------------------------------
    def _count_update(self, name: str, value: str):
        lim = self.service.field_limits()[name]
        if name in LIST_FIELDS:
            n = len(_lines(value))
            info = S.COUNT_LIST.format(n=n, s="" if n == 1 else "s", lo=lim["min"], hi=lim["max"],
                                       chars=lim["chars"], help=lim["help"])
        else:
            info = S.COUNT_TEXT.format(n=len((value or "").strip()), chars=lim["chars"], help=lim["help"])
        return gr.update(info=info)

    def counter(self, name: str):
        """A handler updating one field's counter (item count against its limits)."""

        @handler
        def count(value: str):
            return self._count_update(name, value)

        count.__name__ = f"count_{name}"
        return count

    def _spec_outputs(self, spec: dict, status: str) -> tuple:
        values = spec_to_values(spec)
        counts = [self._count_update(n, v) for n, v in zip(SPEC_FIELDS, values)]
        return (*[gr.update(value=v, info=c["info"]) for v, c in zip(values, counts)], status)

    @handler(message=len(SPEC_FIELDS), outputs=len(SPEC_FIELDS) + 1)
    def load_example(self, name: str) -> tuple:
        """(one value per spec field…, status)."""
        if not name or name == S.BLANK:
            return self._spec_outputs(self.service.blank_spec(), render.md(S.SPEC_LOADED.format(what="a blank spec")))
        spec = self.service.example(name)
        return self._spec_outputs(spec, render.md(S.SPEC_LOADED.format(what=f"the example {name}")))

    @handler
    def upload_spec(self, content: bytes | None) -> tuple:
        """Fill the fields from an uploaded JSON file; problems are listed inline."""
        if not content:
            return (*[gr.skip() for _ in SPEC_FIELDS], render.md(S.NO_FILE))
        spec, problems = self.service.parse_spec_file(content)
        if problems:
            if not spec:
                return (*[gr.skip() for _ in SPEC_FIELDS], render.problems_md(problems))
            full = self.service.blank_spec() | spec
            return self._spec_outputs(full, render.problems_md(problems))
        return self._spec_outputs(spec, render.md(S.SPEC_LOADED.format(what="the uploaded spec")))

    def _spec_status(self, problems: list[dict]) -> str:
        if problems:
            return render.problems_md(problems)
        st = self.service.model_status()
        where = S.SPEC_OK_MODEL.format(name=st["name"]) if st["state"] == "ready" else ""
        return render.md(S.SPEC_OK.format(model=where))

    @handler(message=0)
    def check_spec(self, *values: str) -> str:
        return self._spec_status(self.service.check_spec(values_to_spec(values)))

    @handler(message=1, outputs=2)
    def download_spec(self, *values: str) -> tuple:
        """(file to download or None, status)."""
        data = values_to_spec(values)
        problems = self.service.check_spec(data, with_tokenizer=False)
        if problems:
            return None, render.problems_md(problems)
        return shown(self.service.spec_download(data)), self._spec_status(self.service.check_spec(data))

    # -- Model tab ---------------------------------------------------------------------------
    def _model_outputs(self, st: dict) -> tuple:
        """(progress html, status markdown, info table, timer)."""
        state = st["state"]
        if state == "failed":
            status = render.md(S.MODEL_STATES["failed"]) + "\n\n" + render.problems_md(st.get("problems") or [])
            if st.get("info"):
                status += "\n\n" + render.md(S.MODEL_KEPT.format(name=st["info"].get("name", "")))
        else:
            status = render.md(S.MODEL_STATES[state].format(name=st.get("name", ""), message=st.get("message", "")))
        info = st.get("info") or {}
        table = render.table(S.MODEL_INFO_HEAD, [[k.replace("_", " "), v] for k, v in info.items()])
        bar = render.progress_html(st.get("progress"), S.MODEL_PROGRESS) if state == "loading" else ""
        return bar, status, table, gr.Timer(active=state == "loading")

    @handler(message=1, outputs=4)
    def load_model(self, name: str) -> tuple:
        return self._model_outputs(self.service.load_model(name))

    @handler
    def model_tick(self) -> tuple:
        return self._model_outputs(self.service.model_status())

    # -- Initialize tab ----------------------------------------------------------------------
    @handler
    def strategy_help(self, name: str) -> tuple:
        """(the strategy's one-line explanation, the optimization settings opened or closed)."""
        info = next((s for s in self.service.strategies() if s["name"] == name), None)
        if info is None:
            return "", gr.update()
        output = "calculated by least squares" if info["calculated_output"] else "random"
        text = f"**{render.md(info['label'])}**: {render.md(info['help'])} Output row: {output}."
        return text, gr.update(open=name == "optimized")

    def init_values(self, values: Sequence) -> dict:
        return dict(zip(INIT_FIELDS, values))

    @handler(message=0, outputs=7)
    def initialize(self, progress=gr.Progress(), *values) -> tuple:
        """Inputs: the Initialize fields (``INIT_FIELDS``) then the spec fields.
        Outputs: (message, fit, quality, ranks, optimization plot, nearest, generations)."""
        init = self.init_values(values[: len(INIT_FIELDS)])
        spec = values_to_spec(values[len(INIT_FIELDS):])
        skip = tuple(gr.skip() for _ in range(6))
        problems = self.service.check_spec(spec)
        if problems:
            return (render.problems_md(problems), *skip)

        def on_event(event: dict) -> None:
            if event.get("stage") == "optimize" and event.get("epochs"):
                progress((event["epoch"], event["epochs"]), desc=event.get("message"), unit="epochs")
            else:
                progress(None, desc=event.get("message", ""))

        return self.init_outputs(self.service.initialize(spec, init, on_event=on_event))

    @staticmethod
    def init_outputs(result: dict) -> tuple:
        message = S.INIT_DONE.format(token=render.md(result["token"]), token_id=result["token_id"],
                                     strategy=render.md(result.get("strategy_label") or result["strategy"]),
                                     seconds=result.get("seconds", 0.0))
        rows = render.fit_rows(result.get("output_fit"))
        rows += [["Norm of the input row / output row",
                  f"{render.num(result.get('input_norm'))} / {render.num(result.get('output_norm'))}"],
                 ["Cosine of the input row with the output row", result.get("input_output_cosine")]]
        own = (result.get("cosines") or {}).get(result["strategy"], {})
        rows += [[f"Cosine of the input row with the '{other}' vector", cos]
                 for other, cos in own.items() if other != result["strategy"]]
        details = result.get("details") or {}
        history = details.get("history") or []
        if history:  # the optimization curve in words (the chart's text alternative)
            rows += [["Input optimization: validation loss at the start / at the best epoch",
                      f"{render.num(details.get('initial_val_loss'))} / {render.num(details.get('best_val_loss'))}"],
                     ["Input optimization: best epoch of the epochs run",
                      f"{details.get('best_epoch')} of {len(history)}"]]
        fit = render.key_values(rows)
        quality = render.key_values(render.quality_rows(result.get("quality") or {}))
        ranks = render.rank_table(result.get("testing") or [])
        plot = gr.update(value=plots.optimization_figure(history, details.get("best_epoch")), visible=True) \
            if history else gr.update(visible=False)
        nearest = render.nearest_table(result.get("nearest") or {})
        gens = render.generations_table(result.get("generations") or [])
        ranks = gr.update(value=ranks, visible=True, column_widths=render.rank_widths(len(ranks["headers"]) - 4))
        return message, shown(fit), shown(quality), ranks, plot, shown(nearest), shown(gens)

    # -- Train tab ---------------------------------------------------------------------------
    def finetune_names(self) -> list[str]:
        return [f["name"] for f in self.service.finetune_fields()]

    def _split(self, values: Sequence, with_strategies: bool = False) -> tuple:
        """Inputs of Start buttons: [strategies, seeds,] init fields, fine-tuning fields, spec fields."""
        values = list(values)
        head = []
        if with_strategies:
            head, values = values[:2], values[2:]
        ft_names = self.finetune_names()
        init = self.init_values(values[: len(INIT_FIELDS)])
        values = values[len(INIT_FIELDS):]
        ft = dict(zip(ft_names, values[: len(ft_names)]))
        spec = values_to_spec(values[len(ft_names):])
        return (*head, init, ft, spec)

    @handler
    def train_strategy_note(self, strategy: str) -> str:
        label = next((s["label"] for s in self.service.strategies() if s["name"] == strategy), strategy)
        return S.TRAIN_STRATEGY.format(strategy=render.md(label))

    @handler(message=1, outputs=7)
    def start_training(self, *values) -> tuple:
        """Inputs: init fields, fine-tuning fields, spec fields. Outputs: see ``train_view``."""
        init, ft, spec = self._split(values)
        job = self.service.start_training(spec, init, ft)
        return self.train_view({"id": job["id"]}, False)

    @handler(message=0)
    def stop_job(self, state: dict | None) -> str:
        job_id = (state or {}).get("id")
        job = self.service.job(job_id) if job_id else None
        if not job or job["status"] not in ACTIVE:
            return render.md(S.NOTHING_TO_STOP)
        job = self.service.stop_job(job_id)
        return render.job_message(job)

    def _job_state(self, state: dict | None, kind: str) -> dict | None:
        """The job this tab watches: the one in its state, else the running or latest job."""
        job = None
        if state and state.get("id"):
            try:
                job = self.service.job(state["id"])
            except InputError:  # its run was deleted meanwhile
                job = None
        return job or self.service.latest_job(kind)

    @handler
    def train_view(self, state: dict | None, log_scale: bool, force: bool = True) -> tuple:
        """(state, status, progress, plot, events table, result table, timer).

        The chart and table are redrawn only when the job has new events (or ``force``)."""
        job = self._job_state(state, "train")
        if job is None:
            return None, render.md(S.JOB_NONE), "", gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False)
        n = len(job.get("events") or [])
        changed = force or not state or state.get("id") != job["id"] or state.get("n") != n \
            or state.get("status") != job["status"]
        new_state = {"id": job["id"], "n": n, "status": job["status"]}
        active = job["status"] in ACTIVE
        p = job.get("progress") or {}
        bar = render.progress_html(p.get("fraction"), S.PROGRESS_LABEL) if active else ""
        if not changed:
            return new_state, render.job_message(job), bar, gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=active)
        events = job.get("events") or []
        fig = plots.loss_figure(events, log_scale, title=f"Job {job['id']}: {job.get('title', '')}")
        result = job.get("result")
        result_table = shown(render.key_values(render.run_result_rows(result))) if result else gr.update(visible=False)
        return (new_state, render.job_message(job), bar, shown(fig), render.events_table(events), result_table,
                gr.Timer(active=active))

    def train_tick(self, state: dict | None, log_scale: bool) -> tuple:
        return self.train_view(state, log_scale, force=False)

    # -- Compare tab -------------------------------------------------------------------------
    @handler(message=1, outputs=8)
    def start_comparison(self, *values) -> tuple:
        """Inputs: strategies, seeds, init fields, fine-tuning fields, spec fields."""
        strategies, seeds, init, ft, spec = self._split(values, with_strategies=True)
        job = self.service.start_comparison(spec, list(strategies or []), seeds, init, ft)
        return self.compare_view({"id": job["id"]}, False)

    @handler
    def compare_view(self, state: dict | None, log_scale: bool, force: bool = True) -> tuple:
        """(state, status, progress, plot, the plot's data, results table, download files, timer)."""
        job = self._job_state(state, "compare")
        if job is None:
            return (None, render.md(S.COMPARE_NONE), "", gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                    gr.Timer(active=False))
        n = sum(len(v) for v in (job.get("series") or {}).values())
        changed = force or not state or state.get("id") != job["id"] or state.get("n") != n \
            or state.get("status") != job["status"]
        new_state = {"id": job["id"], "n": n, "status": job["status"]}
        active = job["status"] in ACTIVE
        p = job.get("progress") or {}
        bar = render.progress_html(p.get("fraction"), S.PROGRESS_LABEL, p.get("label", "")) if active else ""
        if not changed:
            return (new_state, render.job_message(job), bar, gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                    gr.Timer(active=active))
        series = job.get("series") or {}
        fig = plots.compare_figure(series, log_scale)
        rows = job.get("rows") or []
        table = shown(render.compare_table(rows)) if rows else gr.update(visible=False)
        files = gr.update(value=self.service.comparison_files(job["id"]), visible=True) \
            if job["status"] == "done" and rows else gr.update(visible=False)
        return (new_state, render.job_message(job), bar, shown(fig), render.series_table(series), table, files,
                gr.Timer(active=active))

    def compare_tick(self, state: dict | None, log_scale: bool) -> tuple:
        return self.compare_view(state, log_scale, force=False)

    # -- Runs tab ----------------------------------------------------------------------------
    @handler
    def refresh_runs(self, current: str | None = None) -> tuple:
        """(runs table, Runs picker, Generate picker, Export picker).

        The Runs picker lists every run; Generate and Export list trained models (a fine-tuning
        run, or each member of a comparison)."""
        runs = self.service.runs()
        everything = [(f"{r.get('title') or r['id']} · {r.get('status')} · {r['id']}", r["id"]) for r in runs]
        trained = [(render.target_label(r, t), t) for r in runs for t in r.get("targets") or []]

        def pick(choices):
            values = {c[1] for c in choices}
            return gr.update(choices=choices, value=current if current in values else None)

        return shown(render.runs_table(runs)), pick(everything), pick(trained), pick(trained)

    @handler(message=0, outputs=6)
    def open_run(self, run_id: str | None, log_scale: bool = False) -> tuple:
        """(summary, plot, result table, generations table, spec, config)."""
        if not run_id:
            return render.md(S.NO_RUN), *[gr.skip() for _ in range(5)]
        run = self.service.run(run_id)
        result = run.get("result") or {}
        if run.get("kind") == "compare":
            fig = plots.compare_figure(run.get("series") or {}, log_scale, title=f"Run {run['id']}")
            table = render.compare_table(result.get("rows") or [])
            gens = gr.update(visible=False)
        else:
            fig = plots.loss_figure(run.get("events") or [], log_scale, title=f"Run {run['id']}")
            table = render.key_values(render.run_result_rows(result))
            before = (result.get("evaluation_before") or {}).get("generations") or []
            after = (result.get("evaluation_after") or {}).get("generations") or []
            gens = shown(render.generations_table(before, after or None)) if before else gr.update(visible=False)
        return (render.run_summary(run), shown(fig), shown(table) if result else gr.update(visible=False), gens,
                shown(run.get("spec")), shown(run.get("config")))

    @handler
    def ask_delete(self, run_id: str | None) -> tuple:
        """(confirmation row, its text)."""
        if not run_id:
            return gr.update(visible=False), render.md(S.NO_RUN)
        return gr.update(visible=True), render.md(S.RUN_DELETE_ASK.format(id=run_id))

    @staticmethod
    def cancel_delete() -> tuple:
        return gr.update(visible=False), ""

    @handler(message=1, outputs=6)
    def delete_run(self, run_id: str | None) -> tuple:
        """(confirmation row, summary, runs table, three pickers)."""
        if not run_id:
            return gr.update(visible=False), render.md(S.NO_RUN), *[gr.skip() for _ in range(4)]
        self.service.delete_run(run_id)
        return gr.update(visible=False), render.md(S.RUN_DELETED.format(id=run_id)), *self.refresh_runs(None)

    # -- Generate tab ------------------------------------------------------------------------
    @handler(message=0, outputs=2)
    def run_generations(self, target: str | None) -> tuple:
        """(message, side-by-side table) for the trained model's own prompts."""
        if not target:
            return render.md(S.NO_RUN), gr.update(visible=False)
        gens = self.service.target_generations(target)
        if not gens["before"]:
            return render.md(S.NO_GENERATIONS.format(id=target)), gr.update(visible=False)
        message = S.GENERATIONS_OF.format(title=render.md(gens["title"]), strategy=render.md(gens["strategy"]))
        return message, shown(render.generations_table(gens["before"], gens["after"] or None))

    @handler(message=0, outputs=2)
    def generate_custom(self, target: str | None, prompt: str, max_new_tokens, progress=gr.Progress()) -> tuple:
        """(message, table): a custom prompt with the gloss and the token, before and after."""
        if not target:
            return render.md(S.NO_RUN), gr.skip()
        progress(None, desc=S.GENERATING)
        row = self.service.generate(target, prompt or "", max_new_tokens)
        table = render.generations_table([row["before"]], [row["after"]])
        return render.md(S.GENERATED.format(target=target)), shown(table)

    # -- Export tab --------------------------------------------------------------------------
    @handler(message=1, outputs=3)
    def export_adapter(self, target: str | None) -> tuple:
        """(file, message, how-to-load code)."""
        if not target:
            return gr.update(visible=False), render.md(S.NO_RUN), gr.update(visible=False)
        out = self.service.export_adapter(target)
        return (shown(out["path"]), render.md(out["message"]), shown(out["how_to_load"]))

    @handler(message=0, outputs=2)
    def export_merged(self, target: str | None, folder: str, progress=gr.Progress()) -> tuple:
        """(message, how-to-load code)."""
        if not target:
            return render.md(S.NO_RUN), gr.update(visible=False)
        progress(None, desc=S.MERGING)
        out = self.service.export_merged(target, folder or "")
        return render.md(out["message"]), shown(out["how_to_load"])

    # -- page load ---------------------------------------------------------------------------
    def on_load(self, remembered: dict | None = None, log_scale: bool = False) -> tuple:
        """Reattach to this browser's jobs (else the running or latest ones) and list the runs:
        train view, compare view, runs."""
        remembered = remembered if isinstance(remembered, dict) else {}

        def state(kind: str) -> dict | None:
            job_id = remembered.get(kind)
            return {"id": job_id} if isinstance(job_id, str) and job_id else None

        return (*self.train_view(state("train"), log_scale), *self.compare_view(state("compare"), log_scale),
                *self.refresh_runs(None))

    @staticmethod
    def remember(kind: str):
        """A handler that records the job a tab now watches in this browser's storage."""
        def remember(state: dict | None, remembered: dict | None) -> dict:
            remembered = dict(remembered) if isinstance(remembered, dict) else {}
            if isinstance(state, dict) and state.get("id"):
                remembered[kind] = state["id"]
            return remembered
        remember.__name__ = f"remember_{kind}_job"
        return remember

    @handler
    def refresh_on_finish(self, state: dict | None, current: str | None) -> tuple:
        """Refresh the run lists when the watched job has just ended (else change nothing)."""
        if state and state.get("status") in ("done", "stopped", "failed"):
            return self.refresh_runs(current)
        return tuple(gr.skip() for _ in range(4))
