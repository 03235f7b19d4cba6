"""The Runs tab: every run in the store; open one to see it as it was; delete with confirmation;
resume an interrupted one (a vocabulary's fine-tuning from its checkpoint, a comparison with the
members it had not finished) as a job of this app, followed on its own tab (Vocabulary or Compare).
It also keeps every run list of the page up to date (the trained-model pickers of other tabs)."""

from __future__ import annotations

import gradio as gr

from core.service import FINISHED, InputError
from glossui import lexicon_draft_panel, plots, render
from glossui import strings as S
from glossui.page import Page, handler, shown

ID = "runs"
TITLE = S.TAB_RUNS
HIDDEN = {"visible": False}
# The kinds of run that resume, each with the tab whose panel of that kind follows it.
RESUMABLE = {"vocab": "vocab", "compare": "compare", "vocab_draft": "vocab"}


class RunsTab:
    """The tab's components (``c``) and its handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.c: dict = {}

    def build_widgets(self) -> None:
        c = self.c
        gr.Markdown(S.RUNS_HEAD)
        c["table"] = gr.Dataframe(label=S.RUNS_TABLE_LABEL, interactive=False, datatype="str", wrap=True,
                                  max_height=320, column_widths=["21%", "8%", "27%", "8%", "12%", "12%", "12%"],
                                  elem_id="runs-table")
        with gr.Row(equal_height=False):
            c["pick"] = gr.Dropdown(choices=[], label=S.RUN_PICK, scale=3, elem_id="runs-pick")
            c["open"] = gr.Button(S.RUN_OPEN, variant="primary", scale=1, size="md", elem_id="runs-open")
            c["refresh"] = gr.Button(S.RUNS_REFRESH, scale=1, size="md", elem_id="runs-refresh")
            c["resume"] = gr.Button(S.RUN_RESUME, variant="primary", scale=1, size="md", visible=False,
                                    elem_id="runs-resume")
            c["delete"] = gr.Button(S.RUN_DELETE, variant="stop", scale=1, size="md", elem_id="runs-delete")
        c["resume_note"] = gr.Markdown(visible=False, elem_id="runs-resume-note", container=True)
        with gr.Row(visible=False, elem_id="runs-confirm") as confirm:
            c["confirm_row"] = confirm
            c["confirm_text"] = gr.Markdown(container=True)
            c["confirm_yes"] = gr.Button(S.RUN_DELETE_CONFIRM, variant="stop", size="md", elem_id="runs-confirm-yes")
            c["confirm_no"] = gr.Button(S.RUN_DELETE_CANCEL, elem_id="runs-confirm-no")
        c["summary"] = gr.Markdown(S.RUN_SUMMARY_NONE, elem_id="runs-summary", container=True)
        c["plot"] = gr.Plot(label=S.RUN_CURVES, visible=False, elem_id="runs-plot")
        table = dict(interactive=False, visible=False, datatype="str", wrap=True)
        c["result"] = gr.Dataframe(label=S.RUN_RESULT, elem_id="runs-result", **table)
        c["generations"] = gr.Dataframe(label=S.GENERATIONS_LABEL, column_widths=render.GEN_WIDTHS,
                                        elem_id="runs-generations", **table)
        with gr.Accordion(S.RUN_SPEC, open=False):
            c["spec"] = gr.JSON(label=S.RUN_SPEC, elem_id="runs-spec")
        with gr.Accordion(S.RUN_CONFIG, open=False):
            c["config"] = gr.JSON(label=S.RUN_CONFIG, elem_id="runs-config")

    @property
    def lists(self) -> list:
        """The runs table and every run picker of the page (the tabs built later included)."""
        return [self.c["table"], self.c["pick"], *self.page.run_pickers]

    def wire(self) -> None:
        c = self.c
        pick, row = c["pick"], c["confirm_row"]
        c["open"].click(handler(self.open_run, message=c["summary"]), {pick},
                        [c["summary"], c["plot"], c["result"], c["generations"], c["spec"], c["config"]],
                        api_name="open_run")
        c["delete"].click(handler(self.ask_delete), {pick}, [row, c["confirm_text"]], api_name="ask_delete")
        c["confirm_no"].click(self.cancel_delete, None, [row, c["confirm_text"]], api_name="cancel_delete")
        pick.change(handler(self.resume_offer), {pick}, [c["resume"], c["resume_note"]], show_progress="hidden",
                    api_name="resume_offer")
        self.page.later(self.wire_run_lists)

    def wire_run_lists(self) -> None:
        """Once every tab exists: refresh, delete, a job's end and the page load update every run list."""
        c, page, lists = self.c, self.page, self.lists
        refresh = handler(self.refresh_runs)
        for button in (c["refresh"], *page.run_refreshers):
            button.click(refresh, {c["pick"]}, lists, api_name="refresh_runs")
        c["confirm_yes"].click(handler(self.delete_run, message=c["summary"]), {c["pick"]},
                               [c["confirm_row"], c["summary"], *lists], api_name="delete_run")
        # A job that finishes refreshes the run lists (its run now has a model to open or export).
        for panel in page.job_panels:
            panel.status.change(self.finish_refresher(panel.job), {panel.job, c["pick"]}, lists,
                                show_progress="hidden", api_name=f"refresh_on_{panel.kind}_finish")
        page.demo.load(refresh, {c["pick"]}, lists, show_progress="hidden", api_name="runs_on_start")
        # Resume: the job is followed on its own tab's panel, as if started there.
        panels = [out for panel in page.job_panels if panel.kind in RESUMABLE for out in panel.start_outputs]
        c["resume"].click(handler(self.resume_run, message=c["summary"]), {c["pick"]},
                          [c["summary"], c["resume"], c["resume_note"], *lists, *panels], show_progress="hidden",
                          api_name="resume_run")

    # -- handlers -------------------------------------------------------------------------------
    def run_lists(self, current: str | None) -> dict:
        """The runs table and every run picker of the page, keeping ``current`` where it is still listed.

        The Runs picker lists every run; the others (Generate, Export) list trained models (a
        fine-tuning run, or each member of a comparison)."""
        runs = self.service.results.runs()
        everything = [(f"{r.get('title') or r['id']} · {r.get('status')} · {r['id']}", r["id"]) for r in runs]
        trained = [(render.target_label(r, t), t) for r in runs for t in r.get("targets") or []]

        def choose(choices):
            return gr.update(choices=choices, value=current if current in {v for _, v in choices} else None)

        return {self.c["table"]: shown(render.runs_table(runs)), self.c["pick"]: choose(everything)} | \
            {other: choose(trained) for other in self.page.run_pickers}

    def refresh_runs(self, values: dict) -> dict:
        return self.run_lists(values[self.c["pick"]])

    def open_run(self, values: dict) -> dict:
        """The run as it was: summary, chart, result, generations, spec and configuration."""
        c, run_id = self.c, values[self.c["pick"]]
        if not run_id:
            return {c["summary"]: render.md(S.NO_RUN)}
        run = self.service.results.run(run_id)
        result = run.get("result") or {}
        fig, table, gens, more = run_views(run, result)
        return {c["summary"]: render.run_summary(run) + more,
                c["plot"]: shown(fig) if fig is not None else gr.update(**HIDDEN),
                c["result"]: shown(table) if result else gr.update(**HIDDEN), c["generations"]: gens,
                c["spec"]: shown(run.get("spec")), c["config"]: shown(run.get("config"))}

    def ask_delete(self, values: dict) -> dict:
        c, run_id = self.c, values[self.c["pick"]]
        if not run_id:
            return {c["confirm_row"]: gr.update(**HIDDEN), c["confirm_text"]: render.md(S.NO_RUN)}
        return {c["confirm_row"]: gr.update(visible=True),
                c["confirm_text"]: render.md(S.RUN_DELETE_ASK.format(id=run_id))}

    def cancel_delete(self) -> dict:
        return {self.c["confirm_row"]: gr.update(**HIDDEN), self.c["confirm_text"]: ""}

    def delete_run(self, values: dict) -> dict:
        c, run_id = self.c, values[self.c["pick"]]
        if not run_id:
            return {c["confirm_row"]: gr.update(**HIDDEN), c["summary"]: render.md(S.NO_RUN)}
        self.service.results.delete_run(run_id)
        return {c["confirm_row"]: gr.update(**HIDDEN), c["summary"]: render.md(S.RUN_DELETED.format(id=run_id))} | \
            self.run_lists(None)

    def resume_offer(self, values: dict) -> dict:
        """The Resume button and what it would do, for a chosen run that can be resumed (else hidden)."""
        c, run_id = self.c, values[self.c["pick"]]
        hidden = {c["resume"]: gr.update(**HIDDEN), c["resume_note"]: gr.update(value="", **HIDDEN)}
        if not run_id:
            return hidden
        try:
            plan = self.service.jobs.resume_plan(run_id)
        except InputError:  # not interrupted, or nothing to resume from: nothing to offer
            return hidden
        if plan["kind"] == "vocab":
            note = S.RUN_RESUME_VOCAB.format(id=render.md(run_id), step=render.md(plan["checkpoint"]["step"]))
        elif plan["kind"] == "vocab_draft":
            note = S.RUN_RESUME_DRAFT.format(id=render.md(run_id), done=plan["symbols_done"],
                                             total=plan["symbols_total"])
        else:
            note = S.RUN_RESUME_COMPARE.format(id=render.md(run_id), done=len(plan["members_done"]),
                                               total=plan["members_total"])
        return {c["resume"]: gr.update(visible=True), c["resume_note"]: shown(note)}

    def resume_run(self, values: dict) -> dict:
        """Resume the chosen run as a job of this app; its tab's panel follows it, the lists show it."""
        c, page, run_id = self.c, self.page, values[self.c["pick"]]
        job = self.service.jobs.resume(run_id)
        tab_id = RESUMABLE.get(job["kind"], job["kind"])
        tab = page.tab_items[tab_id].label if tab_id in page.tab_items else job["kind"]
        out = {c["summary"]: S.RUN_RESUMED.format(id=render.md(run_id), tab=render.md(tab)),
               c["resume"]: gr.update(**HIDDEN), c["resume_note"]: gr.update(value="", **HIDDEN)}
        for panel in page.job_panels:
            if panel.kind == job["kind"]:
                out |= panel.started(job)
        return out | self.run_lists(run_id)

    def finish_refresher(self, job):
        """A handler refreshing the run lists when the job in ``job`` has just ended (else changing nothing)."""

        @handler
        def refresh_on_finish(values: dict) -> dict:
            state = values[job]
            if state and state.get("status") in FINISHED:
                return self.run_lists(values[self.c["pick"]])
            # Gradio reads an empty dict as one value, not as "no updates": name a component to skip.
            return {self.c["table"]: gr.skip()}

        return refresh_on_finish


def run_views(run: dict, result: dict) -> tuple:
    """(chart or None, result table, generations update, more summary) of a stored run, by its kind."""
    if run.get("kind") == "vocab":
        # A vocabulary: its spec is {source, specs}; the table has one row per symbol; with no
        # training steps the chart is the confusion heatmap.
        confusion = result.get("confusion_after") or result.get("confusion_before")
        fig = plots.vocab_loss_figure(run["events"], False, title=f"Run {run['id']}") if run.get("events") \
            else plots.confusion_figure(confusion, f"Run {run['id']}: {S.VOCAB_HEAT}")
        more = ("  \n" + render.vocab_summary(result)) if result.get("symbols") else ""
        return fig, render.vocab_table(result.get("symbols") or []), gr.update(**HIDDEN), more
    if run.get("kind") == "vocab_draft":   # no chart: the symbols not drafted, with the reasons
        rows = [[r["symbol_id"], r["gloss"] or "", r["reason"]] for r in result.get("not_drafted") or []]
        more = ("  \n" + lexicon_draft_panel.summary(result)) if result else ""
        return None, render.table(S.LEXDRAFT_TABLE_HEAD, rows), gr.update(**HIDDEN), more
    if run.get("kind") == "compare":
        fig = plots.compare_figure(run.get("series") or {}, False, title=f"Run {run['id']}")
        return fig, render.compare_table(result.get("rows") or []), gr.update(**HIDDEN), ""
    fig = plots.loss_figure(run.get("events") or [], False, title=f"Run {run['id']}")
    before = (result.get("evaluation_before") or {}).get("generations") or []
    after = (result.get("evaluation_after") or {}).get("generations") or []
    gens = shown(render.generations_table(before, after or None)) if before else gr.update(**HIDDEN)
    return fig, render.key_values(render.run_result_rows(result)), gens, ""


def build(page: Page) -> None:
    tab = RunsTab(page)
    tab.build_widgets()
    page.add(ID, tab.c)
    tab.wire()
