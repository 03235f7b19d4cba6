"""The Train tab: QLoRA hyperparameters, Start and Stop, progress, and the live loss chart."""

from __future__ import annotations

import gradio as gr

from glossui import strings as S


def hyperparameter_inputs(fields: list[dict], per_row: int = 4) -> dict:
    """One labelled widget per fine-tuning field, from the service's field descriptions
    (``{name, label, kind: int|float|bool|choice|multi|str, default, choices, info}``)."""
    widgets: dict = {}
    for start in range(0, len(fields), per_row):
        with gr.Row():
            for f in fields[start:start + per_row]:
                common = dict(label=f["label"], info=f.get("info") or None, elem_id=f"ft-{f['name']}")
                kind = f["kind"]
                if kind == "bool":
                    w = gr.Checkbox(value=bool(f["default"]), **common)
                elif kind == "choice":
                    w = gr.Dropdown(choices=f["choices"], value=f["default"], **common)
                elif kind == "multi":
                    w = gr.CheckboxGroup(choices=f["choices"], value=f["default"], **common)
                elif kind == "int":
                    w = gr.Number(value=f["default"], precision=0, minimum=f.get("min"), maximum=f.get("max"), **common)
                elif kind == "float":
                    w = gr.Number(value=f["default"], minimum=f.get("min"), maximum=f.get("max"), **common)
                else:
                    w = gr.Textbox(value=str(f["default"] if f["default"] is not None else ""), **common)
                widgets[f["name"]] = w
    return widgets


def job_panel(prefix: str, plot_label: str) -> dict:
    """Status line, progress bar, log-scale toggle, chart, its data table and the polling timer."""
    c: dict = {}
    c["status"] = gr.Markdown(S.JOB_NONE, elem_id=f"{prefix}-status", container=True)
    c["progress"] = gr.HTML(elem_id=f"{prefix}-progress")
    c["log_scale"] = gr.Checkbox(label=S.LOG_SCALE, value=False, elem_id=f"{prefix}-log-scale")
    c["plot"] = gr.Plot(label=plot_label, elem_id=f"{prefix}-plot")
    c["timer"] = gr.Timer(1.0, active=False)
    c["job"] = gr.State(None)
    return c


def build_train_tab(fields: list[dict]) -> dict:
    c: dict = {}
    gr.Markdown(S.TRAIN_HEAD)
    c["strategy_note"] = gr.Markdown(elem_id="train-strategy", container=True)
    with gr.Accordion("QLoRA hyperparameters", open=True, elem_id="train-hyper"):
        c["hyper"] = hyperparameter_inputs(fields)
    with gr.Row():
        c["start"] = gr.Button(S.TRAIN_START, variant="primary", elem_id="train-start")
        c["stop"] = gr.Button(S.TRAIN_STOP, variant="stop", elem_id="train-stop")
    c.update(job_panel("train", S.LOSS_PLOT_LABEL))
    with gr.Accordion(S.EVENTS_LABEL, open=False, elem_id="train-events-acc"):
        c["events"] = gr.Dataframe(label=S.EVENTS_LABEL, interactive=False, datatype="str",
                                   elem_id="train-events")
    c["result"] = gr.Dataframe(label="Result of the run", interactive=False, datatype="str", wrap=True,
                               elem_id="train-result")
    return c
