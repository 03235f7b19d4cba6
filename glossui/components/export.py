"""The Export tab: the adapter with the token rows as a zip, or a merged full model folder."""

from __future__ import annotations

import gradio as gr

from glossui import strings as S


def build_export_tab(exports_dir: str) -> dict:
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
            c["folder"] = gr.Textbox(label=S.EXPORT_FOLDER, info=S.EXPORT_FOLDER_INFO.format(folder=exports_dir),
                                     elem_id="export-folder")
            c["merged"] = gr.Button(S.EXPORT_MERGED, elem_id="export-merged")
    c["message"] = gr.Markdown(elem_id="export-message", container=True)
    # Plain text (not gr.Code, whose syntax colours are too faint to read), with a copy button.
    c["how"] = gr.Textbox(label=S.HOW_TO_LOAD_TITLE, lines=3, interactive=False, visible=False,
                          buttons=["copy"], elem_id="export-how", elem_classes=["gl-code"])
    return c
