"""The Compare tab: strategies × seeds on the same base, one overlay chart, the results table, downloads."""

from __future__ import annotations

import gradio as gr

from glossui import plots, render
from glossui import strings as S
from glossui.page import JobPanel, Page, handler, setting_grid, shown

ID = "compare"
TITLE = S.TAB_COMPARE


def build(page: Page) -> None:
    service = page.service
    strategies = service.settings.strategies()
    init, finetune = page["initialize"]["settings"], page["train"]["settings"]
    c: dict = {}
    gr.Markdown(S.COMPARE_HEAD)
    choices = [(f"{s['label']} ({s['name']})", s["name"]) for s in strategies]
    research = [s["name"] for s in strategies if "research" in s.get("groups", ())]
    described = {f["name"]: f for f in service.settings.describe("compare")}
    c["strategies"] = gr.CheckboxGroup(choices=choices, value=research, label=described["strategies"]["label"],
                                       elem_id="compare-strategies")
    # The comparison's own numbers (seeds, the leak threshold, …) from the engine's descriptions.
    c["also"] = gr.CheckboxGroup(choices=service.specs.examples(), value=[], label=S.COMPARE_ALSO,
                                 info=S.COMPARE_ALSO_INFO, elem_id="compare-also")
    c["settings"] = setting_grid([f for n, f in described.items() if n != "strategies"],
                                 lambda name: "compare-" + name.replace("_", "-"))
    c["seeds"] = c["settings"]["seeds"]
    with gr.Row():
        c["start"] = gr.Button(S.COMPARE_START, variant="primary", elem_id="compare-start")
        c["stop"] = gr.Button(S.TRAIN_STOP, variant="stop", elem_id="compare-stop")
    # The verdict first, above the chart and the table, once the comparison has one.
    c["verdict"] = gr.Markdown(visible=False, elem_id="compare-verdict", container=True)
    panel = JobPanel(page, "compare", S.COMPARE_PLOT_LABEL, S.COMPARE_NONE, bar_text=True)
    c |= panel.components()
    with gr.Accordion(S.COMPARE_DATA_LABEL, open=False):
        c["data"] = gr.Dataframe(label=S.COMPARE_DATA_LABEL, interactive=False, datatype="str", max_height=320,
                                 elem_id="compare-data")
    c["across"] = gr.Dataframe(label=S.ACROSS_LABEL, interactive=False, visible=False, datatype="str",
                               elem_id="compare-across")
    c["table"] = gr.Dataframe(label=S.COMPARE_TABLE_LABEL, interactive=False, visible=False, datatype="str",
                              wrap=True, elem_id="compare-table")
    c["files"] = gr.File(label=S.COMPARE_DOWNLOADS, file_count="multiple", interactive=False,
                         visible=False, elem_id="compare-files")
    page.add(ID, c)

    def draw(job: dict, log_scale: bool) -> dict:
        """The overlay chart, its data, the results table and (once done) the download files."""
        series = job.get("series") or {}
        rows = job.get("rows") or []
        sentence = ((job.get("result") or {}).get("verdict") or {}).get("sentence")
        symbols = (job.get("result") or {}).get("specs") or []
        verdict = shown(render.verdict_markdown(sentence, rows, symbols)) if sentence else gr.update(visible=False)
        table = shown(render.compare_table(rows)) if rows else gr.update(visible=False)
        across = shown(render.across_table(rows, symbols)) if rows and symbols else gr.update(visible=False)
        files = shown(service.results.comparison_files(job["id"])) if job["status"] == "done" and rows \
            else gr.update(visible=False)
        return {panel.plot: shown(plots.compare_figure(series, log_scale)), c["data"]: render.series_table(series),
                c["table"]: table, c["files"]: files, c["verdict"]: verdict,
                c["across"]: across}

    panel.wire(stop=c["stop"], tab_outputs=[c["data"], c["table"], c["files"], c["verdict"], c["across"]], draw=draw,
               count=lambda job: sum(len(v) for v in (job.get("series") or {}).values()))

    @handler(message=panel.status)
    def start_comparison(values: dict) -> dict:
        """The chosen strategies and seeds, the Initialize and Train settings and the spec in."""
        own = {"strategies": list(values[c["strategies"]] or []),
               **{name: values[w] for name, w in c["settings"].items()}}
        job = service.jobs.start_comparison(page.spec_of(values), own, page.settings_of("initialize", values),
                                       page.settings_of("train", values), also=list(values.get(c["also"]) or []))
        return panel.view({"id": job["id"]}, False)

    c["start"].click(start_comparison, page.inputs(init, finetune, c["settings"], page.spec_fields) | {c["strategies"], c["also"]},
                     panel.outputs, show_progress_on=panel.status, api_name="start_comparison")
