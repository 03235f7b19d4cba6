"""The Initialize tab: a strategy and its parameters; the output fit, the optimization curve,
the rank table on the testing contexts, the nearest tokens and the first generations."""

from __future__ import annotations

import gradio as gr

from glossui import strings as S


def build_initialize_tab(strategies: list[dict], defaults: dict) -> dict:
    """``strategies``: [{name, label, help}]; ``defaults``: the InitConfig defaults by field."""
    c: dict = {}
    gr.Markdown(S.INIT_HEAD)
    choices = [(f"{s['label']} ({s['name']})", s["name"]) for s in strategies]
    with gr.Row():
        with gr.Column(scale=2):
            c["strategy"] = gr.Dropdown(choices=choices, value=defaults["strategy"], label=S.STRATEGY_LABEL,
                                        elem_id="init-strategy")
            c["strategy_help"] = gr.Markdown(elem_id="strategy-help", container=True)
        with gr.Column(scale=1):
            c["seed"] = gr.Number(value=defaults["seed"], precision=0, label=S.SEED_LABEL, elem_id="init-seed")
            c["random_scale"] = gr.Radio(choices=["matched", "unit"], value=defaults["random_scale"],
                                         label=S.RANDOM_SCALE_LABEL, info=S.RANDOM_SCALE_INFO,
                                         elem_id="init-random-scale")
            c["negative_logit"] = gr.Number(value=defaults["negative_logit"], label=S.NEGATIVE_LOGIT_LABEL,
                                            elem_id="init-negative-logit")
    with gr.Accordion(S.OPT_TITLE, open=defaults["strategy"] == "optimized", elem_id="opt-settings") as acc:
        c["opt_accordion"] = acc
        with gr.Row():
            c["opt_lr"] = gr.Number(value=defaults["opt_lr"], label=S.OPT_LR_LABEL, elem_id="opt-lr")
            c["opt_epochs"] = gr.Number(value=defaults["opt_epochs"], precision=0, label=S.OPT_EPOCHS_LABEL,
                                        elem_id="opt-epochs")
            c["opt_init"] = gr.Radio(choices=["average", "random"], value=defaults["opt_init"],
                                     label=S.OPT_INIT_LABEL, elem_id="opt-init")
            c["opt_batch_size"] = gr.Number(value=defaults["opt_batch_size"], precision=0,
                                            label=S.OPT_BATCH_LABEL, elem_id="opt-batch-size")
    c["run"] = gr.Button(S.INIT_RUN, variant="primary", elem_id="init-run")
    c["message"] = gr.Markdown(S.INIT_NOTHING, elem_id="init-message", container=True)
    table = dict(interactive=False, visible=False, datatype="str", wrap=True)
    with gr.Row():
        c["fit"] = gr.Dataframe(label=S.FIT_LABEL, column_widths=["70%", "30%"], elem_id="init-fit", **table)
        c["quality"] = gr.Dataframe(label=S.INIT_QUALITY_LABEL, column_widths=["75%", "25%"], elem_id="init-quality",
                                    **table)
    c["ranks"] = gr.Dataframe(label=S.RANK_TABLE_LABEL, max_height=900, elem_id="init-ranks", **table)
    c["opt_plot"] = gr.Plot(label=S.OPT_PLOT_LABEL, visible=False, elem_id="init-opt-plot")
    c["nearest"] = gr.Dataframe(label=S.NEAREST_LABEL, elem_id="init-nearest", **table)
    c["generations"] = gr.Dataframe(label=S.INIT_GEN_LABEL, column_widths=["20%", "40%", "40%"],
                                    elem_id="init-generations", **table)
    return c
