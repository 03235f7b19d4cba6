"""The Runs tab: every run in the store; open one to see it as it was; delete with confirmation."""

from __future__ import annotations

import gradio as gr

from glossui import strings as S
from glossui.components.generate import GEN_WIDTHS


def build_runs_tab() -> dict:
    c: dict = {}
    gr.Markdown(S.RUNS_HEAD)
    c["table"] = gr.Dataframe(label=S.RUNS_TABLE_LABEL, interactive=False, datatype="str", wrap=True,
                              max_height=320, column_widths=["21%", "8%", "27%", "8%", "12%", "12%", "12%"],
                              elem_id="runs-table")
    with gr.Row(equal_height=False):
        c["pick"] = gr.Dropdown(choices=[], label=S.RUN_PICK, scale=3, elem_id="runs-pick")
        c["open"] = gr.Button(S.RUN_OPEN, variant="primary", scale=1, size="md", elem_id="runs-open")
        c["refresh"] = gr.Button(S.RUNS_REFRESH, scale=1, size="md", elem_id="runs-refresh")
        c["delete"] = gr.Button(S.RUN_DELETE, variant="stop", scale=1, size="md", elem_id="runs-delete")
    with gr.Row(visible=False, elem_id="runs-confirm") as confirm:
        c["confirm_row"] = confirm
        c["confirm_text"] = gr.Markdown(container=True)
        c["confirm_yes"] = gr.Button(S.RUN_DELETE_CONFIRM, variant="stop", size="md", elem_id="runs-confirm-yes")
        c["confirm_no"] = gr.Button("Cancel", elem_id="runs-confirm-no")
    c["summary"] = gr.Markdown(S.RUN_SUMMARY_NONE, elem_id="runs-summary", container=True)
    c["plot"] = gr.Plot(label=S.RUN_CURVES, visible=False, elem_id="runs-plot")
    table = dict(interactive=False, visible=False, datatype="str", wrap=True)
    c["result"] = gr.Dataframe(label=S.RUN_RESULT, elem_id="runs-result", **table)
    c["generations"] = gr.Dataframe(label=S.GENERATIONS_LABEL, column_widths=GEN_WIDTHS, elem_id="runs-generations",
                                    **table)
    with gr.Accordion(S.RUN_SPEC, open=False):
        c["spec"] = gr.JSON(label=S.RUN_SPEC, elem_id="runs-spec")
    with gr.Accordion(S.RUN_CONFIG, open=False):
        c["config"] = gr.JSON(label=S.RUN_CONFIG, elem_id="runs-config")
    return c
