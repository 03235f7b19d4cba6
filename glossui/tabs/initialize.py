"""The Initialize tab: a strategy and its settings (built from the engine's description of the
initialization settings); the output fit, the optimization curve, the rank table on the testing
contexts, the nearest tokens and the first generations."""

from __future__ import annotations

import gradio as gr

from glossui import plots, render
from glossui import strings as S
from glossui.page import Page, handler, setting_grid, setting_widget, shown

ID = "initialize"
TITLE = S.TAB_INIT


def elem_id(name: str, own: set[str] = frozenset()) -> str:
    """A strategy's own setting keeps its name (``opt_lr`` -> opt-lr); a shared one gets the tab's
    prefix (``random_scale`` -> init-random-scale)."""
    return name.replace("_", "-") if name in own else "init-" + name.replace("_", "-")


def _strategy_groups(strategies: list[dict], fields: list[dict]) -> dict[str, list[dict]]:
    """Each strategy that has settings of its own: their field descriptions, in declaration order."""
    by_name = {f["name"]: f for f in fields}
    return {s["name"]: [by_name[n] for n in s.get("settings", ())] for s in strategies if s.get("settings")}


def _build_settings(service, c: dict) -> dict:
    """The strategy picker, the shared settings, one folded group per strategy's own settings (open
    for the chosen strategy) and the advanced settings; returns the widgets by field name."""
    fields = service.settings.describe("init")
    strategies = service.settings.strategies()
    groups = _strategy_groups(strategies, fields)
    own = {f["name"] for group in groups.values() for f in group}
    strategy_field = next(f for f in fields if f["name"] == "strategy")
    rest = [f for f in fields if f is not strategy_field and f["name"] not in own]
    widget_id = lambda name: elem_id(name, own)  # noqa: E731
    settings: dict = {}
    choices = [(f"{s['label']} ({s['name']})", s["name"]) for s in strategies]
    with gr.Row():
        with gr.Column(scale=2):
            settings["strategy"] = gr.Dropdown(choices=choices, value=strategy_field["default"],
                                               label=strategy_field["label"], elem_id=widget_id("strategy"))
            c["strategy_help"] = gr.Markdown(elem_id="strategy-help", container=True)
        with gr.Column(scale=1):
            for f in rest:
                if not f.get("advanced"):
                    settings[f["name"]] = setting_widget(f, widget_id(f["name"]), radio=True)
    c["strategy_settings"] = {}
    titles = {s["name"]: s.get("settings_title") or s["label"] for s in strategies}
    for name, group in groups.items():
        with gr.Accordion(S.STRATEGY_SETTINGS.format(title=titles[name], name=name),
                          open=strategy_field["default"] == name, elem_id=f"{name.replace('_', '-')}-settings") as acc:
            c["strategy_settings"][name] = acc
            settings |= setting_grid(group, widget_id, radio=True)
    advanced = [f for f in rest if f.get("advanced")]
    if advanced:
        with gr.Accordion(S.ADVANCED_TITLE, open=False):
            settings |= setting_grid(advanced, widget_id, radio=True)
    return settings


def _build_results(c: dict) -> None:
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


def build(page: Page) -> None:
    service = page.service
    c: dict = {}
    gr.Markdown(S.INIT_HEAD)
    settings = c["settings"] = _build_settings(service, c)
    _build_results(c)
    page.add(ID, c)
    strategy = settings["strategy"]

    @handler
    def strategy_help(values: dict) -> dict:
        """The strategy's one-line explanation; its own settings opened, the others' closed."""
        name = values[strategy]
        info = next((s for s in service.settings.strategies() if s["name"] == name), None)
        if info is None:
            return {c["strategy_help"]: ""}
        output = S.OUTPUT_CALCULATED if info["calculated_output"] else S.OUTPUT_DRAWN
        text = f"**{render.md(info['label'])}**: {render.md(info['help'])} {output}"
        return {c["strategy_help"]: text,
                **{acc: gr.update(open=own == name) for own, acc in c["strategy_settings"].items()}}

    @handler(message=c["message"])
    def initialize(values: dict, progress=gr.Progress()) -> dict:
        """The Initialize settings and the spec in; the results out (the spec's problems inline)."""
        spec = page.spec_of(values)
        problems = service.specs.check(spec)
        if problems:
            return {c["message"]: render.problems_md(problems)}

        def on_event(event: dict) -> None:
            if event.get("stage") == "optimize" and event.get("epochs"):
                progress((event["epoch"], event["epochs"]), desc=event.get("message"), unit="epochs")
            else:
                progress(None, desc=event.get("message", ""))

        return results(service.jobs.initialize(spec, page.settings_of(ID, values), on_event=on_event))

    def results(result: dict) -> dict:
        message = S.INIT_DONE.format(token=render.md(result["token"]), token_id=result["token_id"],
                                     strategy=render.md(result.get("strategy_label") or result["strategy"]),
                                     seconds=result.get("seconds", 0.0))
        rows = render.fit_rows(result.get("output_fit"))
        rows += [["Norm of the input row / output row",
                  f"{render.num(result.get('input_norm'))} / {render.num(result.get('output_norm'))}"],
                 ["Cosine of the input row with the output row", result.get("input_output_cosine")]]
        own = (result.get("cosines") or {}).get(result["strategy"], {})
        rows += [[f"Cosine of the input row with the '{other}' vector", cos]
                 for other, cos in own.items() if other != result["strategy"]]
        details = result.get("details") or {}
        history = details.get("history") or []
        if history:  # the optimization curve in words (the chart's text alternative)
            rows += [["Input optimization: validation loss at the start / at the best epoch",
                      f"{render.num(details.get('initial_val_loss'))} / {render.num(details.get('best_val_loss'))}"],
                     ["Input optimization: best epoch of the epochs run",
                      f"{details.get('best_epoch')} of {len(history)}"]]
        ranks = render.rank_table(result.get("testing") or [])
        plot = shown(plots.optimization_figure(history, details.get("best_epoch"))) if history \
            else gr.update(visible=False)
        return {c["message"]: message,
                c["fit"]: shown(render.key_values(rows)),
                c["quality"]: shown(render.key_values(render.quality_rows(result.get("quality") or {}))),
                c["ranks"]: gr.update(value=ranks, visible=True,
                                      column_widths=render.rank_widths(len(ranks["headers"]) - 4)),
                c["opt_plot"]: plot,
                c["nearest"]: shown(render.nearest_table(result.get("nearest") or {})),
                c["generations"]: shown(render.generations_table(result.get("generations") or []))}

    help_outputs = [c["strategy_help"], *c["strategy_settings"].values()]
    strategy.change(strategy_help, {strategy}, help_outputs, show_progress="hidden", api_name="strategy_help")
    c["run"].click(initialize, page.inputs(settings, page.spec_fields),
                   [c["message"], c["fit"], c["quality"], c["ranks"], c["opt_plot"], c["nearest"], c["generations"]],
                   show_progress_on=c["message"], api_name="initialize")
    page.demo.load(strategy_help, {strategy}, help_outputs, api_name="strategy_help_on_start")
