"""The Compare tab: strategies × seeds on the same base, its estimated time before Start, where the
members run (folded away), one overlay chart, the results table, downloads."""

from __future__ import annotations

import gradio as gr

from core.service import InputError
from glossui import plots, render
from glossui import strings as S
from glossui.job_panel import JobPanel
from glossui.page import Page, handler, setting_grid, shown

ID = "compare"
TITLE = S.TAB_COMPARE
# The settings of where the members run: "Members at once", the backend and Ray's.
WHERE = ("workers", "backend")


def is_where(name: str) -> bool:
    return name in WHERE or name.startswith("ray_")


def elem_id(name: str) -> str:
    return "compare-" + name.replace("_", "-")


class CompareTab:
    """The tab's components (``c``), its job panel and its handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.init, self.finetune = page["initialize"]["settings"], page["train"]["settings"]
        self.tokens = {name: page.service.specs.example(name)["new_token"] for name in page.service.specs.examples()}
        self.c: dict = {}

    def build_widgets(self) -> None:
        c, service = self.c, self.service
        gr.Markdown(S.COMPARE_HEAD)
        strategies = service.settings.strategies()
        described = {f["name"]: f for f in service.settings.describe("compare")}
        c["preset"] = gr.Radio(S.COMPARE_PRESETS, value="research", label=S.COMPARE_PRESET, info=S.COMPARE_PRESET_INFO,
                               elem_id="compare-preset")
        c["strategies"] = gr.CheckboxGroup(
            choices=[(f"{s['label']} ({s['name']})", s["name"]) for s in strategies],
            value=self.preset("research"), label=described["strategies"]["label"], elem_id="compare-strategies")
        c["also"] = gr.CheckboxGroup(choices=list(self.tokens), value=[], label=S.COMPARE_ALSO,
                                     info=S.COMPARE_ALSO_INFO, elem_id="compare-also")
        # The comparison's own numbers (seeds, the leak threshold, …) from the engine's descriptions.
        c["settings"] = setting_grid([f for n, f in described.items() if n != "strategies" and not is_where(n)],
                                     elem_id)
        with gr.Accordion(S.WHERE_TITLE, open=False, elem_id="compare-where"):
            gr.Markdown(S.WHERE_HELP)
            c["settings"] |= setting_grid([f for n, f in described.items() if is_where(n)], elem_id, per_row=5)
        c["seeds"] = c["settings"]["seeds"]
        with gr.Row(equal_height=True):
            c["estimate"] = gr.Markdown(S.ESTIMATE_WAIT, elem_id="compare-estimate", container=True)
            c["measure"] = gr.Button(S.ESTIMATE_MEASURE, size="md", scale=0, min_width=200, elem_id="compare-measure")
        with gr.Row():
            c["start"] = gr.Button(S.COMPARE_START, variant="primary", elem_id="compare-start")
            c["stop"] = gr.Button(S.TRAIN_STOP, variant="stop", elem_id="compare-stop")
        self.build_results()

    def preset(self, name: str) -> list[str]:
        """The strategies of a group (``research``, ``field``) or every one (``all``), in the page's order."""
        return [s["name"] for s in self.service.settings.strategies() if name == "all" or name in s.get("groups", ())]

    def build_results(self) -> None:
        c = self.c
        # The verdict first, above the chart and the table, once the comparison has one.
        c["verdict"] = gr.Markdown(visible=False, elem_id="compare-verdict", container=True)
        self.panel = JobPanel(self.page, "compare", S.COMPARE_PLOT_LABEL, S.COMPARE_NONE, overall=True)
        c |= self.panel.components()
        with gr.Accordion(S.COMPARE_DATA_LABEL, open=False):
            c["data"] = gr.Dataframe(label=S.COMPARE_DATA_LABEL, interactive=False, datatype="str", max_height=320,
                                     elem_id="compare-data")
        table = dict(interactive=False, visible=False, datatype="str")
        c["across"] = gr.Dataframe(label=S.ACROSS_LABEL, elem_id="compare-across", **table)
        c["table"] = gr.Dataframe(label=S.COMPARE_TABLE_LABEL, wrap=True, elem_id="compare-table", **table)
        c["files"] = gr.File(label=S.COMPARE_DOWNLOADS, file_count="multiple", interactive=False,
                             visible=False, elem_id="compare-files")

    @property
    def inputs(self) -> set:
        c = self.c
        return self.page.inputs(self.init, self.finetune, c["settings"], self.page.spec_fields) | \
            {c["strategies"], c["also"]}

    def wire(self) -> None:
        c, page, panel = self.c, self.page, self.panel
        panel.wire(stop=c["stop"], tab_outputs=[c["data"], c["table"], c["files"], c["verdict"], c["across"]],
                   draw=self.draw, count=lambda job: sum(len(v) for v in (job.get("series") or {}).values()),
                   restore=self.restore, restore_outputs=[c["strategies"], c["also"], *c["settings"].values()])
        c["start"].click(handler(self.start_comparison, message=panel.status), self.inputs, panel.start_outputs,
                         show_progress="hidden", api_name="start_comparison")
        c["preset"].input(lambda name: gr.update(value=self.preset(name)), [c["preset"]], [c["strategies"]],
                          show_progress="hidden", api_name="compare_preset")
        token = page.spec_fields["new_token"]
        token.change(handler(self.also_choices), {token, c["also"]}, [c["also"]], show_progress="hidden",
                     api_name="compare_also_choices")
        changes = [c["strategies"].change, c["also"].change, *(w.change for w in c["settings"].values()),
                   *(w.change for w in self.finetune.values()), page.tab_items[ID].select]
        gr.on(changes, handler(self.estimate), self.inputs, [c["estimate"]],
              show_progress="hidden", trigger_mode="always_last", api_name="estimate_comparison")
        c["measure"].click(handler(self.measure, message=c["estimate"]), self.inputs, [c["estimate"]],
                           show_progress_on=[c["estimate"]], api_name="measure_comparison")

    # -- handlers -------------------------------------------------------------------------------
    def draw(self, job: dict, log_scale: bool) -> dict:
        """The overlay chart, its data, the results table and (once done) the download files."""
        c, result = self.c, job.get("result") or {}
        series, rows = job.get("series") or {}, job.get("rows") or []
        sentence = (result.get("verdict") or {}).get("sentence")
        symbols = result.get("specs") or []
        hidden = gr.update(visible=False)
        files = shown(self.service.results.comparison_files(job["id"])) if job["status"] == "done" and rows else hidden
        return {self.panel.plot: shown(plots.compare_figure(series, log_scale)), c["data"]: render.series_table(series),
                c["table"]: shown(render.compare_table(rows)) if rows else hidden, c["files"]: files,
                c["verdict"]: shown(render.verdict_markdown(sentence, rows, symbols)) if sentence else hidden,
                c["across"]: shown(render.across_table(rows, symbols)) if rows and symbols else hidden}

    def own(self, values: dict) -> dict:
        """This tab's settings by name (the strategies and the comparison's numbers)."""
        return {"strategies": list(values[self.c["strategies"]] or []),
                **{name: values[w] for name, w in self.c["settings"].items()}}

    def arguments(self, values: dict) -> tuple:
        page = self.page
        return (page.spec_of(values), self.own(values), page.settings_of("initialize", values),
                page.settings_of("train", values), list(values.get(self.c["also"]) or []))

    def start_comparison(self, values: dict) -> dict:
        """The chosen strategies and seeds, the Initialize and Train settings and the spec in."""
        return self.panel.started(self.service.jobs.start_comparison(*self.arguments(values)))

    def estimate(self, values: dict) -> dict:
        """The estimated time of these settings, from the stored runs or a probe already measured
        (settings with problems: a word that Start lists them)."""
        try:
            found = self.service.jobs.estimate_comparison(*self.arguments(values))
        except InputError:
            return {self.c["estimate"]: S.ESTIMATE_FIX}
        return {self.c["estimate"]: render.estimate_md(found)}

    def measure(self, values: dict, progress=gr.Progress()) -> dict:
        """Measure the rates now when there is nothing to estimate from (a short probe)."""
        progress(None, desc=S.ESTIMATE_MEASURING)
        found = self.service.jobs.estimate_comparison(*self.arguments(values), measure=True)
        return {self.c["estimate"]: render.estimate_md(found)}

    def also_choices(self, values: dict) -> dict:
        """The built-in symbols to compare on besides the Gloss tab's own (never offered twice)."""
        token = (values[self.page.spec_fields["new_token"]] or "").strip()
        choices = [name for name, t in self.tokens.items() if t != token]
        kept = [name for name in values[self.c["also"]] or [] if name in choices]
        return {self.c["also"]: gr.update(choices=choices, value=kept)}

    def restore(self, job: dict) -> dict:
        """The comparison's own settings as its job was started (after a reload)."""
        config, c = job.get("config") or {}, self.c
        out = {w: config[name] for name, w in c["settings"].items() if name in config}
        if config.get("strategies"):
            out[c["strategies"]] = list(config["strategies"])
        return out | {c["also"]: [name for name in config.get("also") or [] if name in self.tokens]}


def build(page: Page) -> None:
    tab = CompareTab(page)
    tab.build_widgets()
    page.add(ID, tab.c)
    tab.wire()
