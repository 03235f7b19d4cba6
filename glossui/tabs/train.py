"""The Train tab: QLoRA settings (built from the engine's description of the fine-tuning
settings), Start and Stop, progress, and the live loss chart."""

from __future__ import annotations

import gradio as gr

from glossui import plots, render
from glossui import strings as S
from glossui.job_panel import JobPanel
from glossui.page import Page, handler, setting_grid, shown

ID = "train"
TITLE = S.TAB_TRAIN


def elem_id(name: str) -> str:
    return f"ft-{name}"


def settings_inputs(fields: list[dict]) -> dict:
    """One widget per fine-tuning setting, common ones first, the advanced ones folded away."""
    common = [f for f in fields if not f.get("advanced")]
    advanced = [f for f in fields if f.get("advanced")]
    with gr.Group():
        widgets = setting_grid(common, elem_id)
    if advanced:
        with gr.Accordion(S.ADVANCED_TITLE, open=False):
            widgets |= setting_grid(advanced, elem_id)
    return widgets


class TrainTab:
    """The tab's components (``c``), its job panel and its handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.init = page["initialize"]["settings"]
        self.c: dict = {}

    def build_widgets(self) -> None:
        c = self.c
        gr.Markdown(S.TRAIN_HEAD)
        c["strategy_note"] = gr.Markdown(elem_id="train-strategy", container=True)
        with gr.Accordion(S.HYPER_TITLE, open=True, elem_id="train-hyper"):
            c["settings"] = settings_inputs(self.service.settings.describe("finetune"))
        with gr.Row():
            c["start"] = gr.Button(S.TRAIN_START, variant="primary", elem_id="train-start")
            c["stop"] = gr.Button(S.TRAIN_STOP, variant="stop", elem_id="train-stop")
        self.panel = JobPanel(self.page, "train", S.LOSS_PLOT_LABEL, S.JOB_NONE)
        c |= self.panel.components()
        with gr.Accordion(S.EVENTS_LABEL, open=False, elem_id="train-events-acc"):
            c["events"] = gr.Dataframe(label=S.EVENTS_LABEL, interactive=False, datatype="str", max_height=320,
                                       elem_id="train-events")
        c["result"] = gr.Dataframe(label=S.TRAIN_RESULT, interactive=False, visible=False, datatype="str",
                                   wrap=True, column_widths=["60%", "40%"], elem_id="train-result")

    def wire(self) -> None:
        c, page, strategy = self.c, self.page, self.init["strategy"]
        self.panel.wire(stop=c["stop"], tab_outputs=[c["events"], c["result"]], draw=self.draw,
                        count=lambda job: len(job.get("events") or []))
        note = handler(self.strategy_note)
        strategy.change(note, {strategy}, [c["strategy_note"]], show_progress="hidden", api_name="train_strategy_note")
        page.demo.load(note, {strategy}, [c["strategy_note"]], show_progress="hidden",
                       api_name="train_strategy_note_on_start")
        c["start"].click(handler(self.start_training, message=self.panel.status),
                         page.inputs(self.init, c["settings"], page.spec_fields), self.panel.start_outputs,
                         show_progress="hidden", api_name="start_training")

    # -- handlers -------------------------------------------------------------------------------
    def draw(self, job: dict, log_scale: bool) -> dict:
        """The loss chart, its data as a table, and the run's result once there is one."""
        events = job.get("events") or []
        fig = plots.loss_figure(events, log_scale, title=f"Job {job['id']}: {job.get('title', '')}")
        result = job.get("result")
        table = shown(render.key_values(render.run_result_rows(result))) if result else gr.update(visible=False)
        return {self.panel.plot: shown(fig), self.c["events"]: render.events_table(events), self.c["result"]: table}

    def strategy_note(self, values: dict) -> dict:
        name = values[self.init["strategy"]]
        label = next((s["label"] for s in self.service.settings.strategies() if s["name"] == name), name)
        return {self.c["strategy_note"]: S.TRAIN_STRATEGY.format(strategy=render.md(label))}

    def start_training(self, values: dict) -> dict:
        """The Initialize settings, these settings and the spec in; the new job's view out."""
        page = self.page
        job = self.service.jobs.start_training(page.spec_of(values), page.settings_of("initialize", values),
                                               page.settings_of(ID, values))
        return self.panel.started(job)


def build(page: Page) -> None:
    tab = TrainTab(page)
    tab.build_widgets()
    page.add(ID, tab.c)
    tab.wire()
