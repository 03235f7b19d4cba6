"""The Generate tab: every prompt with the gloss and with the token, before and after fine-tuning."""

from __future__ import annotations

import gradio as gr

from core.spec.limits import GENERATION_MAX_NEW_TOKENS
from glossui import strings as S

# Prompt, then four texts side by side (gloss and token, before and after fine-tuning).
GEN_WIDTHS = ["16%", "21%", "21%", "21%", "21%"]


def build_generate_tab() -> dict:
    c: dict = {}
    gr.Markdown(S.GENERATE_HEAD)
    with gr.Row(equal_height=False):
        c["pick"] = gr.Dropdown(choices=[], label=S.RUN_PICK, info=S.RUN_PICK_INFO, scale=4,
                                elem_id="generate-pick")
        c["refresh"] = gr.Button(S.RUNS_REFRESH, scale=1, size="md", elem_id="generate-refresh")
    c["message"] = gr.Markdown(elem_id="generate-message", container=True)
    table = dict(interactive=False, visible=False, datatype="str", wrap=True, column_widths=GEN_WIDTHS)
    c["table"] = gr.Dataframe(label=S.GENERATIONS_LABEL, elem_id="generate-table", **table)
    lo, hi = GENERATION_MAX_NEW_TOKENS
    with gr.Row(equal_height=False):
        c["prompt"] = gr.Textbox(label=S.CUSTOM_PROMPT, info=S.CUSTOM_PROMPT_INFO, scale=4,
                                 value="I went to the {placeholder} to", elem_id="generate-prompt")
        c["max_new_tokens"] = gr.Number(value=24, precision=0, label=S.MAX_NEW_TOKENS, info=f"{lo} to {hi}",
                                        scale=1, elem_id="generate-max-new")
        c["run"] = gr.Button(S.CUSTOM_GENERATE, variant="primary", scale=1, size="md", elem_id="generate-run")
    c["custom"] = gr.Dataframe(label=S.CUSTOM_TABLE, elem_id="generate-custom", **table)
    return c
