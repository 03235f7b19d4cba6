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


# Where each stage of an initialization sits on its bar: (start, end); a stage's own share (an
# optimization epoch, an evaluation's generation steps) moves it from start to end.
STAGES = {"validate": (0.0, 0.02), "copy": (0.02, 0.05), "output_fit": (0.05, 0.35), "input_row": (0.35, 0.7),
          "optimize": (0.35, 0.7), "compare": (0.7, 0.72), "add_token": (0.72, 0.73), "rank": (0.73, 1.0),
          "generate": (0.73, 1.0), "done": (1.0, 1.0)}


def stage_fraction(event: dict) -> float:
    """How far an initialization is, 0 to 1, at ``event`` (``core.experiment.single.pipeline``'s)."""
    start, end = STAGES.get(event.get("stage"), (0.0, 0.0))
    if event.get("stage") == "optimize" and event.get("epochs"):
        share = event["epoch"] / event["epochs"]
    else:
        share = event.get("fraction") or 0.0
    return round(start + (end - start) * min(1.0, max(0.0, share)), 4)


class InitializeTab:
    """The tab's components (``c``) and its handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.c: dict = {}

    def build_widgets(self) -> None:
        gr.Markdown(S.INIT_HEAD)
        self.c["settings"] = _build_settings(self.service, self.c)
        _build_results(self.c)

    @property
    def result_outputs(self) -> list:
        return [self.c[k] for k in ("message", "fit", "quality", "ranks", "opt_plot", "nearest", "generations")]

    def wire(self) -> None:
        c, page = self.c, self.page
        strategy = c["settings"]["strategy"]
        help_outputs = [c["strategy_help"], *c["strategy_settings"].values()]
        strategy.change(handler(self.strategy_help), {strategy}, help_outputs, show_progress="hidden",
                        api_name="strategy_help")
        c["run"].click(handler(self.initialize, message=c["message"]), page.inputs(c["settings"], page.spec_fields),
                       [*self.result_outputs, page.last_init], show_progress_on=[c["message"]],
                       api_name="initialize")
        page.demo.load(handler(self.strategy_help), {strategy}, help_outputs, show_progress="hidden",
                       api_name="strategy_help_on_start")
        page.demo.load(handler(self.show_again), {page.last_init}, self.result_outputs, show_progress="hidden",
                       api_name="initialize_on_start")

    # -- handlers -------------------------------------------------------------------------------
    def strategy_help(self, values: dict) -> dict:
        """The strategy's one-line explanation; its own settings opened, the others' closed."""
        c = self.c
        name = values[c["settings"]["strategy"]]
        return {c["strategy_help"]: render.strategy_help(self.service.settings.strategies(), name),
                **{acc: gr.update(open=own == name) for own, acc in c["strategy_settings"].items()}}

    def initialize(self, values: dict, progress=gr.Progress()) -> dict:
        """The Initialize settings and the spec in; the results out (the spec's problems inline).
        The bar follows the stages: output fit, input row (its epochs), ranking, generating."""
        spec = self.page.spec_of(values)
        problems = self.service.specs.check(spec)
        if problems:
            return {self.c["message"]: render.problems_md(problems)}
        progress(0.0, desc=S.INIT_STARTING)

        def on_event(event: dict) -> None:
            progress(stage_fraction(event), desc=event.get("message", ""))

        result = self.service.jobs.initialize(spec, self.page.settings_of(ID, values), on_event=on_event)
        return self.results(result) | {self.page.last_init: result}

    def show_again(self, values: dict) -> dict:
        """After a reload: this browser's last initialization, said to be from before it."""
        result = values[self.page.last_init]
        if not isinstance(result, dict) or "token" not in result:
            return {self.c["message"]: gr.skip()}
        out = self.results(result)
        out[self.c["message"]] = S.INIT_AGAIN + " " + out[self.c["message"]]
        return out

    def results(self, result: dict) -> dict:
        c = self.c
        history = (result.get("details") or {}).get("history") or []
        ranks = render.rank_table(result.get("testing") or [])
        plot = shown(plots.optimization_figure(history, result["details"].get("best_epoch"))) if history \
            else gr.update(visible=False)
        return {c["message"]: render.init_message(result),
                c["fit"]: shown(render.key_values(render.init_rows(result))),
                c["quality"]: shown(render.key_values(render.quality_rows(result.get("quality") or {}))),
                c["ranks"]: gr.update(value=ranks, visible=True,
                                      column_widths=render.rank_widths(len(ranks["headers"]) - 4)),
                c["opt_plot"]: plot,
                c["nearest"]: shown(render.nearest_table(result.get("nearest") or {})),
                c["generations"]: shown(render.generations_table(result.get("generations") or []))}


def build(page: Page) -> None:
    tab = InitializeTab(page)
    tab.build_widgets()
    page.add(ID, tab.c)
    tab.wire()
