"""The Model tab: the embedded default is ready; any Hugging Face id or local folder can replace it."""

from __future__ import annotations

import gradio as gr

from glossui import strings as S


def build_model_tab(default_name: str) -> dict:
    c: dict = {}
    gr.Markdown(S.MODEL_HEAD)
    with gr.Row(equal_height=False):
        c["name"] = gr.Textbox(label=S.MODEL_LABEL, placeholder=S.MODEL_PLACEHOLDER, value=default_name,
                               scale=4, elem_id="model-name")
        c["load"] = gr.Button(S.MODEL_LOAD, variant="primary", scale=1, size="md", elem_id="model-load")
    c["progress"] = gr.HTML(elem_id="model-progress")
    c["status"] = gr.Markdown(elem_id="model-status", container=True)
    c["info"] = gr.Dataframe(label=S.MODEL_INFO_LABEL, interactive=False,
                             datatype="str", elem_id="model-info")
    c["timer"] = gr.Timer(0.5, active=False)
    return c
