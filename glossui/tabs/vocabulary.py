"""The Vocabulary tab: many symbols at once (built-in specs and uploaded files), initialized together
and optionally fine-tuned together; progress by phase and symbol, the loss per symbol, the table of
every symbol before → after, the confusion heatmaps, and the adapter with every token to download."""

from __future__ import annotations

import gradio as gr

from glossui import plots, render
from glossui import strings as S
from glossui.page import JobPanel, Page, handler, shown

ID = "vocab"
TITLE = S.TAB_VOCAB
HIDDEN = {"visible": False}


def build(page: Page) -> None:
    service = page.service
    init, finetune = page["initialize"]["settings"], page["train"]["settings"]
    strategy_field = next(f for f in service.settings.describe("init") if f["name"] == "strategy")
    c: dict = {}
    gr.Markdown(S.VOCAB_HEAD)
    with gr.Row(equal_height=False):
        c["builtins"] = gr.CheckboxGroup(choices=service.specs.examples(), value=[], label=S.VOCAB_BUILTINS,
                                         info=S.VOCAB_BUILTINS_INFO, elem_id="vocab-builtins", scale=2)
        c["files"] = gr.File(label=S.VOCAB_UPLOAD, file_count="multiple", file_types=[".jsonl", ".zip", ".json"],
                             type="filepath", elem_id="vocab-files", scale=2)
    c["checked"] = gr.Markdown(S.VOCAB_EMPTY, elem_id="vocab-checked", container=True)
    with gr.Row(equal_height=False):
        choices = [(f"{s['label']} ({s['name']})", s["name"]) for s in service.settings.strategies()]
        c["strategy"] = gr.Dropdown(choices=choices, value=strategy_field["default"], label=strategy_field["label"],
                                    info=strategy_field.get("help") or None, elem_id="vocab-strategy", scale=2)
        c["contrast"] = gr.Checkbox(value=False, label=S.VOCAB_CONTRAST, info=S.VOCAB_CONTRAST_INFO,
                                    elem_id="vocab-contrast", scale=2)
    with gr.Row():
        c["init_only"] = gr.Button(S.VOCAB_INIT_ONLY, elem_id="vocab-init-only")
        c["finetune"] = gr.Button(S.VOCAB_FINETUNE, variant="primary", elem_id="vocab-finetune")
        c["stop"] = gr.Button(S.TRAIN_STOP, variant="stop", elem_id="vocab-stop")
    panel = JobPanel(page, ID, S.VOCAB_PLOT_LABEL, S.VOCAB_NONE, bar_text=True)
    c |= panel.components()
    c["table"] = gr.Dataframe(label=S.VOCAB_TABLE_LABEL, interactive=False, visible=False, datatype="str",
                              wrap=True, elem_id="vocab-table")
    c["heat"] = gr.Plot(label=S.VOCAB_HEAT, visible=False, elem_id="vocab-heat")
    c["heat_before"] = gr.Plot(label=S.VOCAB_HEAT_BEFORE, visible=False, elem_id="vocab-heat-before")
    with gr.Row(equal_height=False):
        c["export"] = gr.Button(S.VOCAB_EXPORT, elem_id="vocab-export", scale=1)
        c["file"] = gr.File(label=S.EXPORT_FILE, interactive=False, visible=False, elem_id="vocab-file", scale=2)
    c["export_message"] = gr.Markdown(elem_id="vocab-export-message", container=True)
    page.add(ID, c)

    def draw(job: dict, log_scale: bool) -> dict:
        """The loss chart (once training has steps), the symbols' table and the heatmaps (once done)."""
        events = job.get("events") or []
        result = job.get("result") or {}
        plot = shown(plots.vocab_loss_figure(events, log_scale, title=f"Job {job['id']}: {job.get('title', '')}")) \
            if events else gr.update(**HIDDEN)
        after, before = result.get("confusion_after"), result.get("confusion_before")
        out = {panel.plot: plot, c["table"]: gr.update(**HIDDEN), c["heat"]: gr.update(**HIDDEN),
               c["heat_before"]: gr.update(**HIDDEN)}
        if result.get("symbols"):
            out[c["table"]] = shown(render.vocab_table(result["symbols"]))
        if after or before:
            title = S.VOCAB_HEAT_AFTER if after else S.VOCAB_HEAT
            out[c["heat"]] = gr.update(value=plots.confusion_figure(after or before, title), visible=True,
                                       label=title)
        if after and before:
            out[c["heat_before"]] = shown(plots.confusion_figure(before, S.VOCAB_HEAT_BEFORE))
        return out

    panel.wire(stop=c["stop"], tab_outputs=[c["table"], c["heat"], c["heat_before"]], draw=draw,
               count=lambda job: len(job.get("events") or []))

    @handler(message=c["checked"])
    def check_vocabulary(values: dict) -> dict:
        """The chosen symbols checked as a whole, as soon as they are chosen or uploaded."""
        builtins, files = list(values[c["builtins"]] or []), list(values[c["files"]] or [])
        if not builtins and not files:
            return {c["checked"]: S.VOCAB_EMPTY}
        symbols = service.jobs.vocabulary(builtins, files)["symbols"]
        tokens = ", ".join(f"{s['token']} ({s['gloss']})" for s in symbols)
        return {c["checked"]: render.md(S.VOCAB_CHECKED.format(n=len(symbols), s="" if len(symbols) == 1 else "s",
                                                               tokens=tokens))}

    def starter(finetune_too: bool):
        @handler(message=panel.status)
        def start(values: dict) -> dict:
            """The chosen symbols, this strategy, the Initialize and Train settings in; the job's view out."""
            settings = page.settings_of("initialize", values) | {"strategy": values[c["strategy"]]}
            job = service.jobs.start_vocabulary(list(values[c["builtins"]] or []), list(values[c["files"]] or []),
                                           settings, page.settings_of("train", values),
                                           contrast=bool(values[c["contrast"]]), finetune_too=finetune_too)
            return panel.view({"id": job["id"]}, False)

        return start

    @handler(message=c["export_message"])
    def export_vocab_adapter(values: dict) -> dict:
        """The watched job's adapter (every token's rows) as a zip, once a fine-tuning has saved one."""
        job_id = (values[panel.job] or {}).get("id")
        job = service.jobs.get(job_id) if job_id else None
        if not job or not (job.get("result") or {}).get("adapter"):
            return {c["file"]: gr.update(**HIDDEN), c["export_message"]: S.VOCAB_EXPORT_NONE}
        out = service.results.export_adapter(job_id)
        return {c["file"]: shown(out["path"]), c["export_message"]: render.md(out["message"])}

    chosen = {c["builtins"], c["files"]}
    c["builtins"].change(check_vocabulary, chosen, [c["checked"]], show_progress="hidden", api_name="check_vocabulary")
    c["files"].change(check_vocabulary, chosen, [c["checked"]], show_progress_on=c["checked"],
                      api_name="check_vocabulary_files")
    inputs = page.inputs(init, finetune) | chosen | {c["strategy"], c["contrast"]}
    c["init_only"].click(starter(False), inputs, panel.outputs, show_progress_on=panel.status,
                         api_name="start_vocab_init")
    c["finetune"].click(starter(True), inputs, panel.outputs, show_progress_on=panel.status,
                        api_name="start_vocab_finetune")
    c["export"].click(export_vocab_adapter, {panel.job}, [c["file"], c["export_message"]],
                      api_name="export_vocab_adapter")
