"""The Export tab: the adapter with the token rows as a zip, or a merged full model folder."""

from __future__ import annotations

import gradio as gr

from glossui import render
from glossui import strings as S
from glossui.page import Page, handler, shown

ID = "export"
TITLE = S.TAB_EXPORT


def build(page: Page) -> None:
    service = page.service
    c: dict = {}
    gr.Markdown(S.EXPORT_HEAD)
    with gr.Row(equal_height=False):
        c["pick"] = gr.Dropdown(choices=[], label=S.RUN_PICK, info=S.RUN_PICK_INFO, scale=4, elem_id="export-pick")
        c["refresh"] = gr.Button(S.RUNS_REFRESH, scale=1, size="md", elem_id="export-refresh")
    with gr.Row():
        with gr.Column():
            c["adapter"] = gr.Button(S.EXPORT_ADAPTER, variant="primary", elem_id="export-adapter")
            c["file"] = gr.File(label=S.EXPORT_FILE, interactive=False, visible=False, elem_id="export-file")
        with gr.Column():
            c["folder"] = gr.Textbox(label=S.EXPORT_FOLDER,
                                     info=S.EXPORT_FOLDER_INFO.format(folder=str(service.results.exports_dir)),
                                     elem_id="export-folder")
            c["merged"] = gr.Button(S.EXPORT_MERGED, elem_id="export-merged")
    c["message"] = gr.Markdown(elem_id="export-message", container=True)
    # Plain text (not gr.Code, whose syntax colours are too faint to read), with a copy button.
    c["how"] = gr.Textbox(label=S.HOW_TO_LOAD_TITLE, lines=3, interactive=False, visible=False,
                          buttons=["copy"], elem_id="export-how", elem_classes=["gl-code"])
    page.add(ID, c)
    page.add_run_picker(c["pick"], c["refresh"])
    message, pick, how = c["message"], c["pick"], c["how"]

    @handler(message=message)
    def export_adapter(values: dict) -> dict:
        """The adapter as a zip to download, and how to load it."""
        target = values[pick]
        if not target:
            return {c["file"]: gr.update(visible=False), message: render.md(S.NO_RUN), how: gr.update(visible=False)}
        out = service.results.export_adapter(target)
        return {c["file"]: shown(out["path"]), message: render.md(out["message"]), how: shown(out["how_to_load"])}

    @handler(message=message)
    def export_merged(values: dict, progress=gr.Progress()) -> dict:
        """A merged full model folder in the export folder, and how to load it."""
        target = values[pick]
        if not target:
            return {message: render.md(S.NO_RUN), how: gr.update(visible=False)}
        progress(None, desc=S.MERGING)
        out = service.results.export_merged(target, values[c["folder"]] or "")
        return {message: render.md(out["message"]), how: shown(out["how_to_load"])}

    c["adapter"].click(export_adapter, {pick}, [c["file"], message, how], api_name="export_adapter")
    c["merged"].click(export_merged, {pick, c["folder"]}, [message, how], api_name="export_merged")
