"""The Compare tab: strategies × seeds on the same base, one overlay chart, the results table, downloads."""

from __future__ import annotations

import gradio as gr

from glossui import strings as S
from glossui.components.train import job_panel


def build_compare_tab(strategies: list[dict]) -> dict:
    c: dict = {}
    gr.Markdown(S.COMPARE_HEAD)
    choices = [(f"{s['label']} ({s['name']})", s["name"]) for s in strategies]
    research = [s["name"] for s in strategies if s.get("research")]
    with gr.Row():
        c["strategies"] = gr.CheckboxGroup(choices=choices, value=research, label=S.COMPARE_STRATEGIES,
                                           scale=4, elem_id="compare-strategies")
        c["seeds"] = gr.Number(value=1, precision=0, label=S.COMPARE_SEEDS, info=S.COMPARE_SEEDS_INFO, scale=1,
                               elem_id="compare-seeds")
    with gr.Row():
        c["start"] = gr.Button(S.COMPARE_START, variant="primary", elem_id="compare-start")
        c["stop"] = gr.Button(S.TRAIN_STOP, variant="stop", elem_id="compare-stop")
    c.update(job_panel("compare", S.COMPARE_PLOT_LABEL))
    with gr.Accordion(S.COMPARE_DATA_LABEL, open=False):
        c["data"] = gr.Dataframe(label=S.COMPARE_DATA_LABEL, interactive=False, datatype="str", max_height=320,
                                 elem_id="compare-data")
    c["table"] = gr.Dataframe(label=S.COMPARE_TABLE_LABEL, interactive=False, visible=False, datatype="str",
                              wrap=True, elem_id="compare-table")
    c["files"] = gr.File(label=S.COMPARE_DOWNLOADS, file_count="multiple", interactive=False,
                         visible=False, elem_id="compare-files")
    return c
