"""The Model tab: the embedded default is ready; any Hugging Face id or local folder can replace it."""

from __future__ import annotations

import gradio as gr

from glossui import render
from glossui import strings as S
from glossui.page import Page, handler

ID = "model"
TITLE = S.TAB_MODEL


class ModelTab:
    """The tab's components (``c``) and its handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.c: dict = {}

    def build_widgets(self) -> None:
        c = self.c
        gr.Markdown(S.MODEL_HEAD)
        with gr.Row(equal_height=False):
            c["name"] = gr.Textbox(label=S.MODEL_LABEL, placeholder=S.MODEL_PLACEHOLDER,
                                   value=self.service.models.default_request, scale=4, elem_id="model-name")
            c["load"] = gr.Button(S.MODEL_LOAD, variant="primary", scale=1, size="md", elem_id="model-load")
        c["progress"] = gr.HTML(elem_id="model-progress")
        c["status"] = gr.Markdown(elem_id="model-status", container=True)
        c["info"] = gr.Dataframe(label=S.MODEL_INFO_LABEL, interactive=False, datatype="str", elem_id="model-info")
        c["timer"] = gr.Timer(0.5, active=False)

    def wire(self) -> None:
        c = self.c
        outputs = [c["progress"], c["status"], c["info"], c["timer"]]
        load = handler(self.load_model, message=c["status"])
        c["load"].click(load, {c["name"]}, outputs, api_name="load_model")
        c["name"].submit(load, {c["name"]}, outputs, api_name="load_model_on_enter")
        c["timer"].tick(handler(self.model_tick), None, outputs, show_progress="hidden", queue=False,
                        api_name="model_tick")
        self.page.demo.load(handler(self.model_tick), None, outputs, show_progress="hidden",
                            api_name="model_on_start")

    # -- handlers -------------------------------------------------------------------------------
    def shown_state(self, st: dict) -> dict:
        """The progress bar, the status line, the model's facts, and the timer (on while it loads)."""
        c, state = self.c, st["state"]
        if state == "failed":
            status = render.md(S.MODEL_STATES["failed"]) + "\n\n" + render.problems_md(st.get("problems") or [])
            if st.get("info"):
                status += "\n\n" + render.md(S.MODEL_KEPT.format(name=st["info"].get("name", "")))
        else:
            status = render.md(S.MODEL_STATES[state].format(name=st.get("name", ""), message=st.get("message", "")))
        info = st.get("info") or {}
        table = render.table(S.MODEL_INFO_HEAD, [[k.replace("_", " "), v] for k, v in info.items()])
        bar = render.progress_html(st.get("progress"), S.MODEL_PROGRESS) if state == "loading" else ""
        return {c["progress"]: bar, c["status"]: status, c["info"]: table,
                c["timer"]: gr.Timer(active=state == "loading")}

    def load_model(self, values: dict) -> dict:
        return self.shown_state(self.service.models.load(values[self.c["name"]]))

    def model_tick(self) -> dict:
        return self.shown_state(self.service.models.status())


def build(page: Page) -> None:
    tab = ModelTab(page)
    tab.build_widgets()
    page.add(ID, tab.c)
    tab.wire()
