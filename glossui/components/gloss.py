"""The Gloss tab: every field of the spec, one item a line, with counters; examples, upload, download."""

from __future__ import annotations

import gradio as gr

from glossui import strings as S

# (field, lines) in page order; lists get several lines, one item a line.
_LEFT = (("positive_contexts", 6), ("negative_contexts", 5), ("validation_contexts", 3),
         ("testing_positive_contexts", 3), ("testing_negative_contexts", 3))
_RIGHT = (("fine_tuning_sentences", 6), ("validation_sentences", 3), ("generation_prompts", 3), ("notes", 3))


def build_gloss_tab(examples: list[str], field_limits: dict[str, dict], limits_rows: list[list[str]],
                    default_example: str | None) -> dict:
    """Build the tab's components; returns them by name (``fields`` holds one per spec field)."""
    c: dict = {}
    gr.Markdown(S.GLOSS_HEAD)
    with gr.Row(equal_height=False):
        c["example"] = gr.Dropdown(choices=[S.BLANK] + examples, value=default_example or S.BLANK,
                                   label=S.EXAMPLE_LABEL, info=S.EXAMPLE_INFO, scale=3, elem_id="example")
        c["load_example"] = gr.Button(S.LOAD_EXAMPLE, scale=1, size="md", elem_id="load-example")
        c["upload"] = gr.UploadButton(S.UPLOAD_LABEL, file_types=[".json"], type="binary", scale=2,
                                      size="md", elem_id="upload-spec")
    c["status"] = gr.Markdown(elem_id="spec-status", container=True)
    fields: dict = {}

    def box(name: str, lines: int = 1):
        lim = field_limits[name]
        fields[name] = gr.Textbox(label=S.FIELD_LABELS[name], lines=lines, max_lines=max(lines, 1) * 3,
                                  info=lim["help"], elem_id=f"spec-{name}")

    with gr.Row():
        with gr.Column(scale=1, min_width=160):
            box("symbol_id")
        with gr.Column(scale=1, min_width=200):
            box("new_token")
        with gr.Column(scale=2, min_width=240):
            box("glosses", 2)
        with gr.Column(scale=2, min_width=240):
            box("target_tokens", 2)
    with gr.Row():
        with gr.Column():
            for name, lines in _LEFT:
                box(name, lines)
        with gr.Column():
            for name, lines in _RIGHT:
                box(name, lines)
    c["fields"] = fields
    with gr.Row():
        c["check"] = gr.Button(S.CHECK_SPEC, variant="primary", elem_id="check-spec")
        c["download"] = gr.Button(S.DOWNLOAD_SPEC, elem_id="download-spec")
    c["file"] = gr.File(label=S.DOWNLOAD_LABEL, interactive=False, visible=False, height=90, elem_id="spec-file")
    with gr.Accordion(S.LIMITS_TITLE, open=False, elem_id="limits"):
        gr.Dataframe(value={"headers": S.LIMITS_HEAD, "data": limits_rows}, label=S.LIMITS_TITLE,
                     interactive=False, datatype="str", wrap=True)
    return c
