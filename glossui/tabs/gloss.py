"""The Gloss tab: every field of the spec, one item a line, with counters; examples, upload, download."""

from __future__ import annotations

import gradio as gr

from core.service import LIST_FIELDS
from glossui import bliss_box, draft_panel, render
from glossui import strings as S
from glossui.page import Page, handler, lines, shown, spec_to_texts

ID = "gloss"
TITLE = S.TAB_GLOSS

# (field, lines) in page order; lists get several lines, one item a line.
_TOP = (("symbol_id", 1, 1, 160), ("new_token", 1, 1, 200), ("glosses", 2, 2, 240), ("target_tokens", 2, 2, 240))
_LEFT = (("positive_contexts", 6), ("negative_contexts", 5), ("validation_contexts", 3),
         ("testing_positive_contexts", 3), ("testing_negative_contexts", 3))
_RIGHT = (("fine_tuning_sentences", 6), ("validation_sentences", 3), ("generation_prompts", 3), ("notes", 3))


def build(page: Page) -> None:
    service = page.service
    field_limits = service.specs.field_limits()
    examples = service.specs.examples()
    default = page.default_example if page.default_example in examples else (examples[0] if examples else None)
    c: dict = {}
    gr.Markdown(S.GLOSS_HEAD)
    with gr.Row(equal_height=False):
        c["example"] = gr.Dropdown(choices=[S.BLANK] + examples, value=default or S.BLANK,
                                   label=S.EXAMPLE_LABEL, info=S.EXAMPLE_INFO, scale=3, elem_id="example")
        c["load_example"] = gr.Button(S.LOAD_EXAMPLE, scale=1, size="md", elem_id="load-example")
        c["upload"] = gr.UploadButton(S.UPLOAD_LABEL, file_types=[".json"], type="binary", scale=2,
                                      size="md", elem_id="upload-spec")
    bliss = bliss_box.build(page)
    draft_panel.build(page)
    c["status"] = gr.Markdown(elem_id="spec-status", container=True)
    fields: dict = {}

    def box(name: str, n_lines: int = 1):
        fields[name] = gr.Textbox(label=S.FIELD_LABELS[name], lines=n_lines, max_lines=max(n_lines, 1) * 3,
                                  info=field_limits[name]["help"], elem_id=f"spec-{name}")

    with gr.Row():
        for name, n_lines, scale, width in _TOP:
            with gr.Column(scale=scale, min_width=width):
                box(name, n_lines)
    with gr.Row():
        for column in (_LEFT, _RIGHT):
            with gr.Column():
                for name, n_lines in column:
                    box(name, n_lines)
    c["fields"] = fields
    with gr.Row():
        c["check"] = gr.Button(S.CHECK_SPEC, variant="primary", elem_id="check-spec")
        c["download"] = gr.Button(S.DOWNLOAD_SPEC, elem_id="download-spec")
    c["file"] = gr.File(label=S.DOWNLOAD_LABEL, interactive=False, visible=False, height=90, elem_id="spec-file")
    with gr.Accordion(S.LIMITS_TITLE, open=False, elem_id="limits"):
        gr.Dataframe(value={"headers": S.LIMITS_HEAD, "data": service.specs.limits()}, label=S.LIMITS_TITLE,
                     interactive=False, datatype="str", wrap=True)
    page.add(ID, c)
    status = c["status"]
    spec_boxes = set(fields.values())
    spec_outputs = [*fields.values(), status]

    # -- handlers ------------------------------------------------------------------------------
    def count_info(name: str, value: str) -> str:
        lim = field_limits[name]
        if name in LIST_FIELDS:
            n = len(lines(value))
            return S.COUNT_LIST.format(n=n, s="" if n == 1 else "s", lo=lim["min"], hi=lim["max"],
                                       chars=lim["chars"], help=lim["help"])
        return S.COUNT_TEXT.format(n=len((value or "").strip()), chars=lim["chars"], help=lim["help"])

    c["count_info"] = count_info  # the drafting panel fills fields with their counters too

    def counter(name: str):
        """A handler updating one field's counter (item count against its limits)."""
        target = fields[name]

        @handler
        def count(values: dict) -> dict:
            return {target: gr.update(info=count_info(name, values[target]))}

        count.__name__ = f"count_{name}"
        return count

    def fill(spec: dict, message: str) -> dict:
        """Every box from ``spec`` (with its counter), and the status line."""
        texts = spec_to_texts(spec, fields)
        out: dict = {fields[n]: gr.update(value=v, info=count_info(n, v)) for n, v in texts.items()}
        return out | {status: message}

    def spec_status(problems: list[dict], warnings: list[dict] = ()) -> str:
        if problems:
            return render.problems_md(problems)
        st = service.models.status()
        where = S.SPEC_OK_MODEL.format(name=st["name"]) if st["state"] == "ready" else ""
        return render.md(S.SPEC_OK.format(model=where)) + ("\n\n" + render.warnings_md(warnings) if warnings else "")

    @handler(message=status)
    def load_example(values: dict) -> dict:
        name = values[c["example"]]
        if not name or name == S.BLANK:
            return fill(service.specs.blank(), render.md(S.SPEC_LOADED.format(what="a blank spec")))
        return fill(service.specs.example(name), render.md(S.SPEC_LOADED.format(what=f"the example {name}")))

    @handler
    def upload_spec(values: dict) -> dict:
        """Fill the fields from an uploaded JSON file; problems are listed inline."""
        content = values[c["upload"]]
        if not content:
            return {status: render.md(S.NO_FILE)}
        spec, problems = service.specs.parse_file(content)
        if problems:
            if not spec:
                return {status: render.problems_md(problems)}
            return fill(service.specs.blank() | spec, render.problems_md(problems))
        return fill(spec, render.md(S.SPEC_LOADED.format(what="the uploaded spec")))

    @handler(message=status)
    def check_spec(values: dict) -> dict:
        data = page.spec_of(values)
        return {status: spec_status(service.specs.check(data), service.specs.warnings(data))}

    @handler(message=status)
    def download_spec(values: dict) -> dict:
        data = page.spec_of(values)
        problems = service.specs.check(data, with_tokenizer=False)
        if problems:
            return {c["file"]: None, status: render.problems_md(problems)}
        return {c["file"]: shown(service.specs.download(data)), status: spec_status(service.specs.check(data))}

    # -- events --------------------------------------------------------------------------------
    bliss_box.wire(page, bliss, fields, count_info)
    c["load_example"].click(load_example, {c["example"]}, spec_outputs, api_name="load_example")
    c["upload"].upload(upload_spec, {c["upload"]}, spec_outputs, api_name="upload_spec")
    c["check"].click(check_spec, spec_boxes, [status], api_name="check_spec")
    c["download"].click(download_spec, spec_boxes, [c["file"], status], api_name="download_spec")
    for name, field in fields.items():
        field.input(counter(name), {field}, [field], show_progress="hidden", queue=False,
                    trigger_mode="always_last", api_name=f"count_{name}")
    page.demo.load(load_example, {c["example"]}, spec_outputs, api_name="load_example_on_start")
