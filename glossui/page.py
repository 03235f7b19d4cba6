"""What the tabs share: the ``Page`` a tab is built on, the error-catching ``handler`` wrapper,
``shown``, the spec fields ⇄ dict conversion, settings widgets built from the engine's field
descriptions, and the ``JobPanel`` of the tabs that run jobs (Train, Compare).

Handlers take one dict ``{component: value}`` (their ``inputs`` are a set of components) and
return one dict ``{component: update}``; an output a handler does not return is left as it was.
They never let an exception reach Gradio as a stack trace: ``@handler`` turns an ``InputError``
into a message naming each field and its fix, and anything unexpected into a short readable
message (the traceback goes to the server log).
"""

from __future__ import annotations

import functools
import logging
from typing import Callable

import gradio as gr

from core.service import ACTIVE, LIST_FIELDS, InputError, Service, problems_of
from glossui import render
from glossui import strings as S

log = logging.getLogger(__name__)



def handler(fn=None, *, message: gr.components.Component | None = None):
    """Wrap a handler so that every failure reaches the user as a readable message.

    With ``message`` (the tab's message component, one of the handler's outputs), input problems
    are listed there, inline, and the other outputs are left as they were; without it they appear
    in an error toast. Anything unexpected becomes a short message in a toast; its traceback goes
    to the server log, never to the page. (Inline rather than toasts where we can: a message that
    stays is easier to act on, and Gradio's toast fails axe's nested-interactive rule.)
    """
    if fn is None:
        return lambda f: handler(f, message=message)

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
            return {message: render.problems_md(problems)}
        except Exception as exc:
            log.exception("handler %s failed", fn.__name__)
            raise gr.Error(render.plain(S.UNEXPECTED.format(kind=type(exc).__name__)), print_exception=False) from None

    return wrapper


def shown(value):
    """Show a component (hidden while it has nothing to show) with this value."""
    return gr.update(value=value, visible=True)


# -- the spec's text boxes ---------------------------------------------------------------------------
def lines(text: str | None) -> list[str]:
    """One item a line; blank lines and surrounding spaces are ignored."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def spec_from_texts(texts: dict[str, str]) -> dict:
    """The spec dict from the Gloss tab's text boxes, by field name (lists: one item a line)."""
    return {name: lines(value) if name in LIST_FIELDS else (value or "").strip() for name, value in texts.items()}


def spec_to_texts(spec: dict, names) -> dict[str, str]:
    """The text of each box ``names`` lists, by field name, for ``spec``."""
    out = {}
    for name in names:
        value = spec.get(name, [] if name in LIST_FIELDS else "")
        out[name] = "\n".join(value) if isinstance(value, list) else str(value or "")
    return out


# -- settings widgets from the engine's field descriptions ---------------------------------------------
def _n(x) -> str:
    """A limit as a person writes it: 2,147,483,647 and 1e-07 rather than 2.14748e+09."""
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def setting_widget(f: dict, elem_id: str, *, radio: bool = False):
    """A labelled widget for one field description (``{name, kind, default, choices, min, max,
    label, help, advanced}``); ``radio``: a choice as radio buttons rather than a dropdown."""
    rng = S.RANGE_INFO.format(lo=_n(f["min"]), hi=_n(f["max"])) if f.get("min") is not None else ""
    info = rng + (f.get("help") or "")
    common = dict(label=f.get("label") or f["name"].replace("_", " ").capitalize(), info=info or None,
                  elem_id=elem_id)
    kind = f["kind"]
    if kind == "bool":
        return gr.Checkbox(value=bool(f["default"]), **common)
    if kind == "choice":
        return (gr.Radio if radio else gr.Dropdown)(choices=f["choices"], value=f["default"], **common)
    if kind in ("int", "float"):
        return gr.Number(value=f["default"], precision=0 if kind == "int" else None, **common)
    return gr.Textbox(value=str(f["default"] if f["default"] is not None else ""), **common)


def setting_grid(fields: list[dict], elem_id: Callable[[str], str], per_row: int = 4, **kw) -> dict:
    """Widgets for ``fields`` in rows of ``per_row``, by field name."""
    widgets: dict = {}
    for start in range(0, len(fields), per_row):
        with gr.Row():
            for f in fields[start:start + per_row]:
                widgets[f["name"]] = setting_widget(f, elem_id(f["name"]), **kw)
    return widgets


# -- the page ------------------------------------------------------------------------------------------
class Page:
    """What a tab's ``build(page)`` gets: the service, the other tabs' components by name, and
    what several tabs share (this browser's remembered jobs, the run pickers, the job panels).

    A tab may use the components of tabs listed before it in ``glossui.layout.TABS`` directly
    (``page["initialize"]["settings"]``); wiring that needs tabs built after it goes in a
    ``@page.later`` function, run once every tab exists.
    """

    def __init__(self, service: Service, demo: gr.Blocks, default_example: str | None = None) -> None:
        self.service = service
        self.demo = demo
        self.default_example = default_example
        self.tabs: dict[str, dict] = {}
        # This browser's own jobs, kept in its local storage: a reload reattaches to them.
        self.remembered = gr.BrowserState({}, storage_key="glosslab-jobs")
        self.run_pickers: list = []       # pickers of trained models (Generate, Export); the Runs tab fills them
        self.run_refreshers: list = []    # their Refresh buttons
        self.job_panels: list[JobPanel] = []
        self._later: list[Callable[[], None]] = []

    def add(self, tab_id: str, components: dict) -> dict:
        """Publish a tab's components by name (for other tabs and for tests)."""
        self.tabs[tab_id] = components
        return components

    def __getitem__(self, tab_id: str) -> dict:
        return self.tabs[tab_id]

    def later(self, fn: Callable[[], None]) -> Callable[[], None]:
        self._later.append(fn)
        return fn

    def finish(self) -> None:
        for fn in self._later:
            fn()
        self._later.clear()

    def add_run_picker(self, picker, refresh) -> None:
        """A dropdown of trained models that the run list fills, and the button that refreshes it."""
        self.run_pickers.append(picker)
        self.run_refreshers.append(refresh)

    def fn(self, api_name: str) -> Callable:
        """The handler wired under ``api_name`` (for tests and scripts)."""
        return next(f.fn for f in self.demo.fns.values() if f.api_name == api_name)

    # -- the values other tabs' handlers need, read by field name ---------------------------------
    @property
    def spec_fields(self) -> dict:
        """The Gloss tab's text boxes, by spec field name."""
        return self["gloss"]["fields"]

    def spec_of(self, values: dict) -> dict:
        return spec_from_texts({name: values[box] for name, box in self.spec_fields.items()})

    def settings_of(self, tab_id: str, values: dict) -> dict:
        """A tab's settings (``page[tab_id]["settings"]``) by field name."""
        return {name: values[w] for name, w in self[tab_id]["settings"].items()}

    def inputs(self, *groups: dict) -> set:
        """The components of several name → component dicts, as an event's input set."""
        return {c for group in groups for c in group.values()}


class JobPanel:
    """What the tabs that run jobs share: status line, progress bar, log-scale toggle, chart, the
    polling timer and the watched job (per browser tab), with Stop, the tick, the log-scale
    redraw, the reattach on page load and the memory of this browser's job.

    ``draw(job, log_scale)`` returns the tab's own updates (the chart and its tables) and
    ``count(job)`` the number of events drawn, so that a tick redraws only when it changed.
    """

    def __init__(self, page: Page, kind: str, plot_label: str, empty: str, bar_text: bool = False) -> None:
        self.page, self.kind, self.empty, self.bar_text = page, kind, empty, bar_text
        self.status = gr.Markdown(S.JOB_NONE, elem_id=f"{kind}-status", container=True)
        self.progress = gr.HTML(elem_id=f"{kind}-progress")
        self.log_scale = gr.Checkbox(label=S.LOG_SCALE, value=False, elem_id=f"{kind}-log-scale")
        self.plot = gr.Plot(label=plot_label, visible=False, elem_id=f"{kind}-plot")
        self.timer = gr.Timer(1.0, active=False)
        self.job = gr.State(None)
        self.outputs: list = []
        self.draw: Callable[[dict, bool], dict] = lambda job, log_scale: {}
        self.count: Callable[[dict], int] = lambda job: 0
        page.job_panels.append(self)

    def components(self) -> dict:
        return {"status": self.status, "progress": self.progress, "log_scale": self.log_scale, "plot": self.plot,
                "timer": self.timer, "job": self.job}

    def _job(self, state: dict | None) -> dict | None:
        """The job this tab watches: the one in its state, else the running or latest job."""
        service = self.page.service
        job = None
        if state and state.get("id"):
            try:
                job = service.jobs.get(state["id"])
            except InputError:  # its run was deleted meanwhile
                job = None
        return job or service.jobs.latest(self.kind)

    def view(self, state: dict | None, log_scale: bool, force: bool = True) -> dict:
        """Where the watched job stands; the chart and tables redrawn when it has new events (or ``force``)."""
        job = self._job(state)
        if job is None:
            return {self.job: None, self.status: render.md(self.empty), self.progress: "",
                    self.timer: gr.Timer(active=False)}
        n = self.count(job)
        changed = force or not state or state.get("id") != job["id"] or state.get("n") != n \
            or state.get("status") != job["status"]
        active = job["status"] in ACTIVE
        p = job.get("progress") or {}
        text = p.get("label", "") if self.bar_text else ""
        bar = render.progress_html(p.get("fraction"), S.PROGRESS_LABEL, text) if active else ""
        out = {self.job: {"id": job["id"], "n": n, "status": job["status"]}, self.status: render.job_message(job),
               self.progress: bar, self.timer: gr.Timer(active=active)}
        if changed:
            out |= self.draw(job, log_scale)
        return out

    def wire(self, *, stop, tab_outputs: list, draw: Callable[[dict, bool], dict],
             count: Callable[[dict], int]) -> None:
        """Wire Stop, the tick, the log-scale redraw, the page-load reattach and the job memory.
        ``tab_outputs``: the tab's own components that ``draw`` updates (besides the chart)."""
        self.draw, self.count = draw, count
        self.outputs = [self.job, self.status, self.progress, self.plot, *tab_outputs, self.timer]
        kind, service, remembered = self.kind, self.page.service, self.page.remembered
        watch = {self.job, self.log_scale}

        @handler(message=self.status)
        def stop_job(values: dict) -> dict:
            job_id = (values[self.job] or {}).get("id")
            job = service.jobs.get(job_id) if job_id else None
            if not job or job["status"] not in ACTIVE:
                return {self.status: render.md(S.NOTHING_TO_STOP)}
            return {self.status: render.job_message(service.jobs.stop(job_id))}

        @handler
        def view(values: dict) -> dict:
            return self.view(values[self.job], values[self.log_scale])

        @handler
        def tick(values: dict) -> dict:
            return self.view(values[self.job], values[self.log_scale], force=False)

        @handler
        def reattach(values: dict) -> dict:
            """This browser's own job (kept in its local storage), else the running or latest one."""
            mine = values[remembered]
            job_id = mine.get(kind) if isinstance(mine, dict) else None
            return self.view({"id": job_id} if isinstance(job_id, str) and job_id else None, False)

        def remember(values: dict) -> dict:
            """Record the job this tab now watches in this browser's storage."""
            mine = dict(values[remembered]) if isinstance(values[remembered], dict) else {}
            state = values[self.job]
            if isinstance(state, dict) and state.get("id"):
                mine[kind] = state["id"]
            return {remembered: mine}

        stop.click(stop_job, {self.job}, [self.status], api_name=f"stop_{kind}_job")
        self.timer.tick(tick, watch, self.outputs, show_progress="hidden", concurrency_limit=None,
                        api_name=f"{kind}_tick")
        self.log_scale.change(view, watch, self.outputs, show_progress="hidden", api_name=f"{kind}_view")
        self.job.change(remember, {self.job, remembered}, [remembered], show_progress="hidden", queue=False,
                        api_name=f"remember_{kind}_job")
        self.page.demo.load(reattach, {remembered}, self.outputs, api_name=f"{kind}_load")
