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
_RIGHT = (("fine_tuning_sentences", 6), ("validation_sentences", 3), ("generation_prompts", 3), ("notes", 2),
          ("description", 2))


class GlossTab:
    """The tab's components (``c``), the spec's boxes (``fields``) and the handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.limits = page.service.specs.field_limits()
        self.c: dict = {}
        self.fields: dict = {}

    def build_widgets(self) -> None:
        c, service, page = self.c, self.service, self.page
        examples = service.specs.examples()
        default = page.default_example if page.default_example in examples else (examples[0] if examples else None)
        gr.Markdown(S.GLOSS_HEAD)
        with gr.Row(equal_height=False):
            c["example"] = gr.Dropdown(choices=[S.BLANK] + examples, value=default or S.BLANK,
                                       label=S.EXAMPLE_LABEL, info=S.EXAMPLE_INFO, scale=3, elem_id="example")
            c["load_example"] = gr.Button(S.LOAD_EXAMPLE, scale=1, size="md", elem_id="load-example")
            c["upload"] = gr.UploadButton(S.UPLOAD_LABEL, file_types=[".json"], type="binary", scale=2,
                                          size="md", elem_id="upload-spec")
        self.bliss = bliss_box.build(page)
        draft_panel.build(page)
        c["status"] = gr.Markdown(elem_id="spec-status", container=True)
        self.build_fields()
        with gr.Row():
            c["check"] = gr.Button(S.CHECK_SPEC, variant="primary", elem_id="check-spec")
            c["download"] = gr.Button(S.DOWNLOAD_SPEC, elem_id="download-spec")
        c["file"] = gr.File(label=S.DOWNLOAD_LABEL, interactive=False, visible=False, height=90, elem_id="spec-file")
        with gr.Accordion(S.LIMITS_TITLE, open=False, elem_id="limits"):
            gr.Dataframe(value={"headers": S.LIMITS_HEAD, "data": service.specs.limits()}, label=S.LIMITS_TITLE,
                         interactive=False, datatype="str", wrap=True)
        c["count_info"] = self.count_info  # the drafting panel fills fields with their counters too

    def box(self, name: str, n_lines: int = 1) -> None:
        self.fields[name] = gr.Textbox(label=S.FIELD_LABELS[name], lines=n_lines, max_lines=max(n_lines, 1) * 3,
                                       info=self.limits[name]["help"], elem_id=f"spec-{name}")

    def build_fields(self) -> None:
        with gr.Row():
            for name, n_lines, scale, width in _TOP:
                with gr.Column(scale=scale, min_width=width):
                    self.box(name, n_lines)
        with gr.Row():
            for column in (_LEFT, _RIGHT):
                with gr.Column():
                    for name, n_lines in column:
                        self.box(name, n_lines)
        self.c["fields"] = self.fields

    def wire(self) -> None:
        c, fields, status = self.c, self.fields, self.c["status"]
        boxes, outputs = set(fields.values()), [*fields.values(), status]
        bliss_box.wire(self.page, self.bliss, fields, self.count_info)
        load = handler(self.load_example, message=status)
        c["load_example"].click(load, {c["example"]}, outputs, api_name="load_example")
        c["upload"].upload(handler(self.upload_spec), {c["upload"]}, outputs, api_name="upload_spec")
        c["check"].click(handler(self.check_spec, message=status), boxes, [status], api_name="check_spec")
        c["download"].click(handler(self.download_spec, message=status), boxes, [c["file"], status],
                            api_name="download_spec")
        for name, field in fields.items():
            field.input(self.counter(name), {field}, [field], show_progress="hidden", queue=False,
                        trigger_mode="always_last", api_name=f"count_{name}")
        self.page.demo.load(load, {c["example"]}, outputs, show_progress="hidden", api_name="load_example_on_start")

    # -- handlers -------------------------------------------------------------------------------
    def count_info(self, name: str, value: str) -> str:
        lim = self.limits[name]
        if name in LIST_FIELDS:
            n = len(lines(value))
            return S.COUNT_LIST.format(n=n, s="" if n == 1 else "s", lo=lim["min"], hi=lim["max"],
                                       chars=lim["chars"], help=lim["help"])
        return S.COUNT_TEXT.format(n=len((value or "").strip()), chars=lim["chars"], help=lim["help"])

    def counter(self, name: str):
        """A handler updating one field's counter (item count against its limits)."""
        target = self.fields[name]

        @handler
        def count(values: dict) -> dict:
            return {target: gr.update(info=self.count_info(name, values[target]))}

        count.__name__ = f"count_{name}"
        return count

    def fill(self, spec: dict, message: str) -> dict:
        """Every box from ``spec`` (with its counter), and the status line."""
        texts = spec_to_texts(spec, self.fields)
        out: dict = {self.fields[n]: gr.update(value=v, info=self.count_info(n, v)) for n, v in texts.items()}
        return out | {self.c["status"]: message}

    def spec_status(self, problems: list[dict], warnings: list[dict] = ()) -> str:
        if problems:
            return render.problems_md(problems)
        st = self.service.models.status()
        where = S.SPEC_OK_MODEL.format(name=st["name"]) if st["state"] == "ready" else ""
        return render.md(S.SPEC_OK.format(model=where)) + ("\n\n" + render.warnings_md(warnings) if warnings else "")

    def load_example(self, values: dict) -> dict:
        specs, name = self.service.specs, values[self.c["example"]]
        if not name or name == S.BLANK:
            return self.fill(specs.blank(), render.md(S.SPEC_LOADED.format(what="a blank spec")))
        return self.fill(specs.example(name), render.md(S.SPEC_LOADED.format(what=f"the example {name}")))

    def upload_spec(self, values: dict) -> dict:
        """Fill the fields from an uploaded JSON file; problems are listed inline."""
        status, content = self.c["status"], values[self.c["upload"]]
        if not content:
            return {status: render.md(S.NO_FILE)}
        spec, problems = self.service.specs.parse_file(content)
        if problems:
            if not spec:
                return {status: render.problems_md(problems)}
            return self.fill(self.service.specs.blank() | spec, render.problems_md(problems))
        return self.fill(spec, render.md(S.SPEC_LOADED.format(what="the uploaded spec")))

    def check_spec(self, values: dict) -> dict:
        data = self.page.spec_of(values)
        return {self.c["status"]: self.spec_status(self.service.specs.check(data), self.service.specs.warnings(data))}

    def download_spec(self, values: dict) -> dict:
        c, data = self.c, self.page.spec_of(values)
        problems = self.service.specs.check(data, with_tokenizer=False)
        if problems:
            return {c["file"]: None, c["status"]: render.problems_md(problems)}
        return {c["file"]: shown(self.service.specs.download(data)),
                c["status"]: self.spec_status(self.service.specs.check(data))}


def build(page: Page) -> None:
    tab = GlossTab(page)
    tab.build_widgets()
    page.add(ID, tab.c)
    tab.wire()
