"""What the tabs that run jobs share (Train, Compare, Vocabulary): the ``JobPanel`` and, after a
reload, the settings the jobs were started with.

A panel has a status line, a progress bar with what the job is doing, a log-scale toggle, a chart,
the polling timer and the watched job (per browser tab), with Stop, the tick, the log-scale redraw,
the reattach on page load and the memory of this browser's job. On a page load each panel shows
its job again with that job's own settings (``restore``); the settings the tabs share (Initialize
and Train) are those of one job, the running one, else the latest (``wire_restore``; a panel whose
jobs use none of them, as the Vocabulary tab's drafting from the lexicon, takes no part), and each
panel says whose settings it shows.
"""

from __future__ import annotations

from typing import Callable

import gradio as gr

from core.service import ACTIVE, InputError
from glossui import render
from glossui import strings as S
from glossui.page import Page, handler


class JobPanel:
    """A job's status, progress and chart on one tab (see the module docstring).

    ``draw(job, log_scale)`` returns the tab's own updates (the chart and its tables) and
    ``count(job)`` the number of events drawn, so that a tick redraws only when it changed.
    ``overall``: the bar shows the whole job (a comparison's members, a vocabulary's phases)
    rather than the current phase's own share (one fine-tuning). ``chart``: the job draws a loss
    chart (else the log-scale toggle is hidden and the chart stays so). ``shared``: the job runs
    with the Initialize and Train settings the job tabs share (else with its panel's own alone).
    """

    def __init__(self, page: Page, kind: str, plot_label: str, empty: str, overall: bool = False,
                 chart: bool = True, shared: bool = True) -> None:
        self.page, self.kind, self.empty, self.overall, self.shared = page, kind, empty, overall, shared
        self.restored = gr.Markdown(visible=False, elem_id=f"{kind}-restored", container=True)
        self.status = gr.Markdown(S.JOB_NONE, elem_id=f"{kind}-status", container=True)
        self.progress = gr.HTML(elem_id=f"{kind}-progress")
        self.log_scale = gr.Checkbox(label=S.LOG_SCALE, value=False, visible=chart, elem_id=f"{kind}-log-scale")
        self.plot = gr.Plot(label=plot_label, visible=False, elem_id=f"{kind}-plot")
        self.timer = gr.Timer(1.0, active=False)
        self.job = gr.State(None)
        self.outputs: list = []
        self.draw: Callable[[dict, bool], dict] = lambda job, log_scale: {}
        self.count: Callable[[dict], int] = lambda job: 0
        self.restore: Callable[[dict], dict] = lambda job: {}
        page.job_panels.append(self)

    def components(self) -> dict:
        return {"status": self.status, "progress": self.progress, "log_scale": self.log_scale, "plot": self.plot,
                "timer": self.timer, "job": self.job, "restored": self.restored}

    @property
    def start_outputs(self) -> list:
        """What a Start updates: the view, and the note about restored settings (cleared)."""
        return [*self.outputs, self.restored]

    def started(self, job: dict) -> dict:
        """The view of a job just started from this tab (its settings are the ones on the page)."""
        return self.view({"id": job["id"]}, False) | {self.restored: gr.update(value="", visible=False)}

    def job_of(self, state: dict | None) -> dict | None:
        """The job this tab watches: the one in its state, else the running or latest job."""
        service = self.page.service
        job = None
        if state and state.get("id"):
            try:
                job = service.jobs.get(state["id"])
            except InputError:  # its run was deleted meanwhile
                job = None
        return job or service.jobs.latest(self.kind)

    def remembered_job(self, mine) -> dict | None:
        """This browser's own job (kept in its local storage), else the running or latest one."""
        job_id = mine.get(self.kind) if isinstance(mine, dict) else None
        return self.job_of({"id": job_id} if isinstance(job_id, str) and job_id else None)

    def bar(self, job: dict) -> str:
        """The progress bar and what the job is doing (nothing once it has ended)."""
        if job["status"] not in ACTIVE:
            return ""
        p = job.get("progress") or {}
        fraction = p.get("fraction") if self.overall else p.get("phase_fraction")
        label = p.get("label", "") if job["status"] == "running" else ""
        return render.progress_html(fraction, S.PROGRESS_LABEL, label, indeterminate=job["status"] == "running")

    def view(self, state: dict | None, log_scale: bool, force: bool = True, job: dict | None = None) -> dict:
        """Where the watched job stands; the chart and tables redrawn when it has new events (or ``force``)."""
        job = job or self.job_of(state)
        if job is None:
            return {self.job: None, self.status: render.md(self.empty), self.progress: "",
                    self.timer: gr.Timer(active=False)}
        n = self.count(job)
        changed = force or not state or state.get("id") != job["id"] or state.get("n") != n \
            or state.get("status") != job["status"]
        out = {self.job: {"id": job["id"], "n": n, "status": job["status"]}, self.status: render.job_message(job),
               self.progress: self.bar(job), self.timer: gr.Timer(active=job["status"] in ACTIVE)}
        if changed:
            out |= self.draw(job, log_scale)
        return out

    def wire(self, *, stop, tab_outputs: list, draw: Callable[[dict, bool], dict], count: Callable[[dict], int],
             restore: Callable[[dict], dict] | None = None, restore_outputs: list = ()) -> None:
        """Wire Stop, the tick, the log-scale redraw, the page-load reattach and the job memory.
        ``tab_outputs``: the tab's own components that ``draw`` updates (besides the chart);
        ``restore(job)``: updates showing the job's own settings in ``restore_outputs`` on a page load."""
        self.draw, self.count = draw, count
        self.restore = restore or (lambda job: {})
        self.outputs = [self.job, self.status, self.progress, self.plot, *tab_outputs, self.timer]
        # Every event that writes the status line hides Gradio's own progress there (a queue position
        # and a timer in place of the sentence); the line says where the job stands.
        kind, remembered = self.kind, self.page.remembered
        watch = {self.job, self.log_scale}
        stop.click(handler(self.stop_job, message=self.status), {self.job}, [self.status],
                   show_progress="hidden", api_name=f"stop_{kind}_job")
        self.timer.tick(handler(self.tick), watch, self.outputs, show_progress="hidden", concurrency_limit=None,
                        api_name=f"{kind}_tick")
        self.log_scale.change(handler(self.redraw), watch, self.outputs, show_progress="hidden",
                              api_name=f"{kind}_view")
        self.job.change(self.remember, {self.job, remembered}, [remembered], show_progress="hidden", queue=False,
                        api_name=f"remember_{kind}_job")
        self.page.demo.load(handler(self.reattach), {remembered}, [*self.outputs, *restore_outputs],
                            show_progress="hidden", api_name=f"{kind}_load")

    # -- handlers ---------------------------------------------------------------------------------
    def stop_job(self, values: dict) -> dict:
        service = self.page.service
        job_id = (values[self.job] or {}).get("id")
        job = service.jobs.get(job_id) if job_id else None
        if not job or job["status"] not in ACTIVE:
            return {self.status: render.md(S.NOTHING_TO_STOP)}
        return {self.status: render.job_message(service.jobs.stop(job_id))}

    def redraw(self, values: dict) -> dict:
        return self.view(values[self.job], values[self.log_scale])

    def tick(self, values: dict) -> dict:
        return self.view(values[self.job], values[self.log_scale], force=False)

    def reattach(self, values: dict) -> dict:
        """This browser's own job (else the running or latest one), with its own settings."""
        job = self.remembered_job(values[self.page.remembered])
        out = self.view(None, False, job=job) if job else self.view(None, False)
        return out | (self.restore(job) if job else {})

    def remember(self, values: dict) -> dict:
        """Record the job this tab now watches in this browser's storage."""
        remembered = self.page.remembered
        mine = dict(values[remembered]) if isinstance(values[remembered], dict) else {}
        state = values[self.job]
        if isinstance(state, dict) and state.get("id"):
            mine[self.kind] = state["id"]
        return {remembered: mine}


# -- the settings the tabs share, after a reload ------------------------------------------------------
def shared_settings(page: Page, job: dict) -> dict:
    """Updates showing the Initialize and Train settings ``job`` was started with (a vocabulary's
    strategy is its tab's own; an initialization alone has no fine-tuning settings)."""
    config = job.get("config") or {}
    skip = ("strategy",) if job.get("kind") == "vocab" else ()
    return page.settings_update("initialize", config.get("init"), skip) | \
        page.settings_update("train", config.get("finetune"))


def _first(jobs: list[dict]) -> dict | None:
    """The job whose settings the shared widgets show: a running or queued one, else the latest."""
    jobs = [j for j in jobs if j]
    active = [j for j in jobs if j["status"] in ACTIVE]
    return max(active or jobs, key=lambda j: str(j.get("created") or ""), default=None)


def wire_restore(page: Page) -> None:
    """On a page load: the shared settings from one job, and each panel's note saying whose they are."""
    panels = page.job_panels
    widgets = [*page["initialize"]["settings"].values(), *page["train"]["settings"].values()]

    @handler
    def restore_settings(values: dict) -> dict:
        jobs = {panel: panel.remembered_job(values[page.remembered]) for panel in panels}
        first = _first([job for panel, job in jobs.items() if panel.shared])
        out = shared_settings(page, first) if first is not None else {}
        for panel, job in jobs.items():
            out[panel.restored] = gr.update(value=render.restored_note(job, first, panel.kind, panel.shared),
                                            visible=True) if job else gr.update(visible=False)
        return out

    page.demo.load(restore_settings, {page.remembered}, [*widgets, *(p.restored for p in panels)],
                   show_progress="hidden", api_name="restore_settings")
