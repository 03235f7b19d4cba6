"""The Export tab: the adapter with the token rows as a zip, or a merged full model folder."""

from __future__ import annotations

import gradio as gr

from glossui import render
from glossui import strings as S
from glossui.page import Page, handler, shown

ID = "export"
TITLE = S.TAB_EXPORT


class ExportTab:
    """The tab's components (``c``) and its handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.c: dict = {}

    def build_widgets(self) -> None:
        c = self.c
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
                                         info=S.EXPORT_FOLDER_INFO.format(folder=str(self.service.results.exports_dir)),
                                         elem_id="export-folder")
                c["merged"] = gr.Button(S.EXPORT_MERGED, elem_id="export-merged")
        c["message"] = gr.Markdown(elem_id="export-message", container=True)
        # Plain text (not gr.Code, whose syntax colours are too faint to read), with a copy button.
        c["how"] = gr.Textbox(label=S.HOW_TO_LOAD_TITLE, lines=3, interactive=False, visible=False,
                              buttons=["copy"], elem_id="export-how", elem_classes=["gl-code"])

    def wire(self) -> None:
        c = self.c
        c["adapter"].click(handler(self.export_adapter, message=c["message"]), {c["pick"]},
                           [c["file"], c["message"], c["how"]], api_name="export_adapter")
        c["merged"].click(handler(self.export_merged, message=c["message"]), {c["pick"], c["folder"]},
                          [c["message"], c["how"]], show_progress_on=[c["message"]], api_name="export_merged")

    # -- handlers -------------------------------------------------------------------------------
    def export_adapter(self, values: dict) -> dict:
        """The adapter as a zip to download, and how to load it."""
        c, target = self.c, values[self.c["pick"]]
        if not target:
            return {c["file"]: gr.update(visible=False), c["message"]: render.md(S.NO_RUN),
                    c["how"]: gr.update(visible=False)}
        out = self.service.results.export_adapter(target)
        return {c["file"]: shown(out["path"]), c["message"]: render.md(out["message"]), c["how"]: shown(out["how_to_load"])}

    def export_merged(self, values: dict, progress=gr.Progress()) -> dict:
        """A merged full model folder in the export folder, and how to load it."""
        c, target = self.c, values[self.c["pick"]]
        if not target:
            return {c["message"]: render.md(S.NO_RUN), c["how"]: gr.update(visible=False)}
        progress(None, desc=S.MERGING)
        out = self.service.results.export_merged(target, values[c["folder"]] or "")
        return {c["message"]: render.md(out["message"]), c["how"]: shown(out["how_to_load"])}


def build(page: Page) -> None:
    tab = ExportTab(page)
    tab.build_widgets()
    page.add(ID, tab.c)
    page.add_run_picker(tab.c["pick"], tab.c["refresh"])
    tab.wire()
