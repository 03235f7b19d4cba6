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

from core.errors import InputError
from core.service import SPEC_FIELDS, Service, problems_of
from core.spec import LIST_FIELDS
from glossui import plots, render
from glossui import strings as S

log = logging.getLogger(__name__)

INIT_FIELDS = ("strategy", "seed", "random_scale", "negative_logit", "opt_lr", "opt_epochs", "opt_init",
               "opt_batch_size")
ACTIVE = ("queued", "running", "stopping")


def handler(fn):
    """Wrap a handler so that every failure reaches the user as a readable message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except InputError as exc:
            raise gr.Error(render.problems_toast(problems_of(exc)), title=S.ERROR_TITLE,
                           print_exception=False) from None
        except Exception as exc:
            log.exception("handler %s failed", fn.__name__)
            raise gr.Error(render.plain(S.UNEXPECTED.format(kind=type(exc).__name__)), print_exception=False) from None

    return wrapper


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


def progress_html(fraction: float | None, label: str, text: str = "") -> str:
    """A native, labelled progress bar (numbers only: no user text goes into this HTML)."""
    if fraction is None:
        return ""
    pct = max(0.0, min(1.0, float(fraction))) * 100
    return (f'<div class="gl-progress"><label>{render.plain(label)} '
            f'<progress max="100" value="{pct:.0f}" aria-valuetext="{pct:.0f}%">{pct:.0f}%</progress> '
            f'<span>{pct:.0f}%</span></label> <span>{render.plain(text)}</span></div>')


def _eta(seconds) -> str:
    if not isinstance(seconds, (int, float)) or seconds != seconds:
        return "an unknown time"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def job_message(job: dict | None) -> str:
    """One line saying where a job stands (Markdown, escaped)."""
    if not job:
        return S.JOB_NONE
    status, jid = job.get("status"), job.get("id", "")
    p = job.get("progress") or {}
    if status == "queued":
        text = S.JOB_QUEUED.format(id=jid, position=job.get("position") or 1)
    elif status == "running" and p.get("step"):
        text = S.JOB_RUNNING.format(id=jid, epoch=render.num(p.get("epoch"), 2), epochs=p.get("epochs", "?"),
                                    step=p.get("step"), steps=p.get("steps", "?"), eta=_eta(p.get("eta")))
    elif status == "running":
        text = S.JOB_STARTING.format(id=jid)
    elif status == "stopping":
        text = S.JOB_STOPPING.format(id=jid)
    elif status == "done":
        best = job.get("best") or {}
        text = S.JOB_DONE.format(id=jid, best_step=best.get("step", "?"), best_epoch=render.num(best.get("epoch"), 2),
                                 best_loss=render.num(best.get("eval_loss")))
    elif status == "stopped":
        text = S.JOB_STOPPED.format(id=jid)
    elif status == "failed":
        text = S.JOB_FAILED.format(id=jid, error=job.get("error") or "unknown error")
    elif status == "interrupted":
        text = S.JOB_INTERRUPTED.format(id=jid)
    else:
        text = f"Job {jid}: {status}"
    return render.md(text)


def events_table(events: list[dict], limit: int = 200) -> dict:
    """The chart's data as a table (its text alternative): the latest ``limit`` rows with a loss."""
    rows = [e for e in events if e.get("loss") is not None or e.get("eval_loss") is not None][-limit:]
    return render.table(S.EVENTS_HEAD, [[e.get("step"), e.get("epoch"), e.get("loss"), e.get("eval_loss"),
                                         e.get("learning_rate"), e.get("elapsed")] for e in rows])


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

    @handler
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
            gr.Warning(render.problems_toast(problems[:5]), title=S.ERROR_TITLE)
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

    @handler
    def check_spec(self, *values: str) -> str:
        return self._spec_status(self.service.check_spec(values_to_spec(values)))

    @handler
    def download_spec(self, *values: str) -> tuple:
        """(file to download or None, status)."""
        data = values_to_spec(values)
        problems = self.service.check_spec(data, with_tokenizer=False)
        if problems:
            return None, render.problems_md(problems)
        return self.service.spec_download(data), self._spec_status(self.service.check_spec(data))

    # -- Model tab ---------------------------------------------------------------------------
    def _model_outputs(self, st: dict) -> tuple:
        """(progress html, status markdown, info table, timer)."""
        state = st["state"]
        if state == "failed":
            status = render.md(S.MODEL_STATES["failed"]) + "\n\n" + render.problems_md(st.get("problems") or [])
        else:
            status = render.md(S.MODEL_STATES[state].format(name=st.get("name", ""), message=st.get("message", "")))
        info = st.get("info") or {}
        table = render.table(S.MODEL_INFO_HEAD, [[k.replace("_", " "), v] for k, v in info.items()])
        bar = progress_html(st.get("progress"), S.MODEL_PROGRESS) if state == "loading" else ""
        return bar, status, table, gr.Timer(active=state == "loading")

    @handler
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

    @handler
    def initialize(self, progress=gr.Progress(), *values) -> tuple:
        """Inputs: the Initialize fields (``INIT_FIELDS``) then the spec fields.
        Outputs: (message, fit, quality, ranks, optimization plot, nearest, generations)."""
        init = self.init_values(values[: len(INIT_FIELDS)])
        spec = values_to_spec(values[len(INIT_FIELDS):])
        skip = tuple(gr.skip() for _ in range(6))
        problems = self.service.check_spec(spec)
        if problems:
            gr.Warning(render.problems_toast(problems[:5]), title=S.ERROR_TITLE)
            return (render.problems_md(problems), *skip)

        def on_event(event: dict) -> None:
            if event.get("stage") == "optimize" and event.get("epochs"):
                progress((event["epoch"], event["epochs"]), desc=event.get("message"), unit="epochs")
            else:
                progress(None, desc=event.get("message", ""))

        try:
            result = self.service.initialize(spec, init, on_event=on_event)
        except InputError as exc:
            problems = problems_of(exc)
            gr.Warning(render.problems_toast(problems[:5]), title=S.ERROR_TITLE)
            return (render.problems_md(problems), *skip)
        return self.init_outputs(result)

    @staticmethod
    def init_outputs(result: dict) -> tuple:
        message = render.md(S.INIT_DONE.format(token=result["token"], token_id=result["token_id"],
                                               strategy=result.get("strategy_label") or result["strategy"],
                                               seconds=result.get("seconds", 0.0)))
        rows = render.fit_rows(result.get("output_fit"))
        rows += [["Norm of the input row / output row",
                  f"{render.num(result.get('input_norm'))} / {render.num(result.get('output_norm'))}"],
                 ["Cosine of the input row with the output row", result.get("input_output_cosine")]]
        own = (result.get("cosines") or {}).get(result["strategy"], {})
        rows += [[f"Cosine of the input row with the '{other}' vector", cos]
                 for other, cos in own.items() if other != result["strategy"]]
        fit = render.key_values(rows)
        quality = render.key_values(render.quality_rows(result.get("quality") or {}))
        ranks = render.rank_table(result.get("testing") or [])
        details = result.get("details") or {}
        history = details.get("history") or []
        plot = gr.update(value=plots.optimization_figure(history, details.get("best_epoch")), visible=True) \
            if history else gr.update(visible=False)
        nearest = render.nearest_table(result.get("nearest") or {})
        gens = render.generations_table(result.get("generations") or [])
        return message, fit, quality, ranks, plot, nearest, gens
