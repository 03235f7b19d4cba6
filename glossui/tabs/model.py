"""The Model tab: the embedded default is ready; any Hugging Face id or local folder can replace it."""

from __future__ import annotations

import gradio as gr

from glossui import render
from glossui import strings as S
from glossui.page import Page, handler

ID = "model"
TITLE = S.TAB_MODEL


def build(page: Page) -> None:
    service = page.service
    c: dict = {}
    gr.Markdown(S.MODEL_HEAD)
    with gr.Row(equal_height=False):
        c["name"] = gr.Textbox(label=S.MODEL_LABEL, placeholder=S.MODEL_PLACEHOLDER, value=service.models.default_request,
                               scale=4, elem_id="model-name")
        c["load"] = gr.Button(S.MODEL_LOAD, variant="primary", scale=1, size="md", elem_id="model-load")
    c["progress"] = gr.HTML(elem_id="model-progress")
    c["status"] = gr.Markdown(elem_id="model-status", container=True)
    c["info"] = gr.Dataframe(label=S.MODEL_INFO_LABEL, interactive=False, datatype="str", elem_id="model-info")
    c["timer"] = gr.Timer(0.5, active=False)
    page.add(ID, c)
    outputs = [c["progress"], c["status"], c["info"], c["timer"]]

    def shown_state(st: dict) -> dict:
        """The progress bar, the status line, the model's facts, and the timer (on while it loads)."""
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
        return {c["progress"]: bar, c["status"]: status, c["info"]: table,
                c["timer"]: gr.Timer(active=state == "loading")}

    @handler(message=c["status"])
    def load_model(values: dict) -> dict:
        return shown_state(service.models.load(values[c["name"]]))

    @handler
    def model_tick() -> dict:
        return shown_state(service.models.status())

    c["load"].click(load_model, {c["name"]}, outputs, api_name="load_model")
    c["name"].submit(load_model, {c["name"]}, outputs, api_name="load_model_on_enter")
    c["timer"].tick(model_tick, None, outputs, show_progress="hidden", queue=False, api_name="model_tick")
    page.demo.load(model_tick, None, outputs, api_name="model_on_start")
