"""The Train tab: QLoRA hyperparameters, Start and Stop, progress, and the live loss chart."""

from __future__ import annotations

import gradio as gr

from glossui import strings as S


def _n(x) -> str:
    """A limit as a person writes it: 2,147,483,647 and 1e-07 rather than 2.14748e+09."""
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _widget(f: dict):
    """A labelled widget for one fine-tuning field description
    (``{name, kind: int|float|bool|choice|str, default, choices, min, max, help}``)."""
    rng = S.RANGE_INFO.format(lo=_n(f["min"]), hi=_n(f["max"])) if f.get("min") is not None else ""
    info = rng + (f.get("help") or "")
    common = dict(label=S.FT_LABELS.get(f["name"], f["name"].replace("_", " ").capitalize()),
                  info=info or None, elem_id=f"ft-{f['name']}")
    kind = f["kind"]
    if kind == "bool":
        return gr.Checkbox(value=bool(f["default"]), **common)
    if kind == "choice":
        return gr.Dropdown(choices=f["choices"], value=f["default"], **common)
    if kind in ("int", "float"):
        return gr.Number(value=f["default"], precision=0 if kind == "int" else None, **common)
    return gr.Textbox(value=str(f["default"] if f["default"] is not None else ""), **common)


def hyperparameter_inputs(fields: list[dict], per_row: int = 4) -> dict:
    """One widget per field, common ones first, the advanced ones folded away."""
    widgets: dict = {}
    common = [f for f in fields if not f.get("advanced")]
    advanced = [f for f in fields if f.get("advanced")]
    for group in (common, advanced):
        if not group:
            continue
        with gr.Accordion(S.ADVANCED_TITLE, open=False) if group is advanced else gr.Group():
            for start in range(0, len(group), per_row):
                with gr.Row():
                    for f in group[start:start + per_row]:
                        widgets[f["name"]] = _widget(f)
    return widgets


def job_panel(prefix: str, plot_label: str) -> dict:
    """Status line, progress bar, log-scale toggle, chart, its data table and the polling timer."""
    c: dict = {}
    c["status"] = gr.Markdown(S.JOB_NONE, elem_id=f"{prefix}-status", container=True)
    c["progress"] = gr.HTML(elem_id=f"{prefix}-progress")
    c["log_scale"] = gr.Checkbox(label=S.LOG_SCALE, value=False, elem_id=f"{prefix}-log-scale")
    c["plot"] = gr.Plot(label=plot_label, visible=False, elem_id=f"{prefix}-plot")
    c["timer"] = gr.Timer(1.0, active=False)
    c["job"] = gr.State(None)
    return c


def build_train_tab(fields: list[dict]) -> dict:
    c: dict = {}
    gr.Markdown(S.TRAIN_HEAD)
    c["strategy_note"] = gr.Markdown(elem_id="train-strategy", container=True)
    with gr.Accordion(S.HYPER_TITLE, open=True, elem_id="train-hyper"):
        c["hyper"] = hyperparameter_inputs(fields)
    with gr.Row():
        c["start"] = gr.Button(S.TRAIN_START, variant="primary", elem_id="train-start")
        c["stop"] = gr.Button(S.TRAIN_STOP, variant="stop", elem_id="train-stop")
    c.update(job_panel("train", S.LOSS_PLOT_LABEL))
    with gr.Accordion(S.EVENTS_LABEL, open=False, elem_id="train-events-acc"):
        c["events"] = gr.Dataframe(label=S.EVENTS_LABEL, interactive=False, datatype="str", max_height=320,
                                   elem_id="train-events")
    c["result"] = gr.Dataframe(label=S.TRAIN_RESULT, interactive=False, visible=False, datatype="str",
                               wrap=True, column_widths=["60%", "40%"], elem_id="train-result")
    return c
