"""The Vocabulary tab's *Draft from the lexicon* panel: what ``python -m core vocab draft`` does, as a
job of the app.

The user gives BCI-AV IDs or a part of the lexicon (multi-token, single-token, all), optionally a
part of speech, how many symbols, and the drafting settings (the engine describes them:
``settings.describe("vocab_draft")``; the writer's sentences per symbol and the seed first, the
others folded). **Draft** queues the job on the loaded model; its ``JobPanel`` (kind ``vocab_draft``)
shows the symbols done and the time left, offers Stop, and finds the job again after a reload.
Once it has ended: the IDs the lexicon does not have, what was drafted, the symbols not drafted
with their reasons, the JSONL and its report to download, and the drafted JSONL given to the tab's
upload box, so that the tab's Initialize and Fine-tune take it as they take any upload. A stopped
or interrupted draft offers **Resume the draft**, which continues it in its own run.

Built where the Vocabulary tab lays it out (``LexiconDraftPanel(page).build()``) and wired by it
with its upload box (``wire(files)``). The engine is reached only through the service:
``jobs.start_vocab_draft``, ``jobs.resume_plan``, ``jobs.resume``, ``results.drafted_files`` and
``authoring.parts_of_speech``.
"""

from __future__ import annotations

import gradio as gr

from core.service import FINISHED, InputError, problems_of
from glossui import render
from glossui import strings as S
from glossui.job_panel import JobPanel
from glossui.page import Page, handler, setting_grid, setting_widget, shown

KIND = "vocab_draft"        # the job kind, and this panel's name in the page's job memory
FIRST = ("generate", "seed")  # the settings shown unfolded
HIDDEN = {"visible": False}


def _eid(name: str) -> str:
    return f"vocab-draft-{name.replace('_', '-')}"


class LexiconDraftPanel:
    """The panel's components (``c``), its job panel and its handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.c: dict = {}
        self.settings: dict = {}
        self.labels: dict[str, str] = dict(S.LEXDRAFT_LABELS)
        self.files = None   # the tab's upload box (``wire``)

    def build(self) -> None:
        c = self.c
        fields = self.service.settings.describe("vocab_draft")
        self.labels |= {f["name"]: f["label"] for f in fields}
        with gr.Accordion(S.LEXDRAFT_TITLE, open=False, elem_id="vocab-draft") as c["accordion"]:
            gr.Markdown(S.LEXDRAFT_HEAD)
            with gr.Row(equal_height=False):
                c["which"] = gr.Radio(choices=S.LEXDRAFT_WHICH_CHOICES, value="ids", label=S.LEXDRAFT_WHICH,
                                      info=S.LEXDRAFT_WHICH_INFO, elem_id=_eid("which"), scale=2)
                c["ids"] = gr.Textbox(label=S.LEXDRAFT_IDS, info=S.LEXDRAFT_IDS_INFO, lines=2, max_lines=8,
                                      elem_id=_eid("ids"), scale=3)
            with gr.Row(equal_height=False):
                c["pos"] = gr.Dropdown(choices=[(S.LEXDRAFT_POS_ANY, "")], value="", allow_custom_value=True,
                                       label=S.LEXDRAFT_POS, info=S.LEXDRAFT_POS_INFO, elem_id=_eid("pos"))
                c["limit"] = gr.Number(value=20, precision=0, label=S.LEXDRAFT_LIMIT, info=S.LEXDRAFT_LIMIT_INFO,
                                       elem_id=_eid("limit"))
                for f in (f for f in fields if f["name"] in FIRST):
                    self.settings[f["name"]] = setting_widget(f, _eid(f["name"]))
            with gr.Accordion(S.LEXDRAFT_MORE, open=False, elem_id=_eid("more")):
                self.settings |= setting_grid([f for f in fields if f["name"] not in FIRST], _eid, per_row=3)
            with gr.Row():
                c["run"] = gr.Button(S.LEXDRAFT_RUN, variant="primary", elem_id=_eid("run"))
                c["stop"] = gr.Button(S.TRAIN_STOP, variant="stop", elem_id=_eid("stop"))
                c["resume"] = gr.Button(S.LEXDRAFT_RESUME, visible=False, elem_id=_eid("resume"))
            self.panel = JobPanel(self.page, KIND, S.LEXDRAFT_TITLE, S.LEXDRAFT_NONE, overall=True, chart=False,
                                  shared=False)
            c |= self.panel.components()
            c["note"] = gr.Markdown(visible=False, elem_id=_eid("note"), container=True)
            c["table"] = gr.Dataframe(label=S.LEXDRAFT_TABLE, interactive=False, visible=False, datatype="str",
                                      wrap=True, elem_id=_eid("table"), column_widths=["14%", "22%", "64%"])
            c["download"] = gr.File(label=S.LEXDRAFT_FILES, file_count="multiple", interactive=False, visible=False,
                                    elem_id=_eid("files"))
        c["settings"] = self.settings

    @property
    def request_inputs(self) -> list:
        """What a draft is started with, in the order ``restore`` fills them."""
        return [self.c[k] for k in ("which", "ids", "pos", "limit")] + list(self.settings.values())

    def wire(self, files) -> None:
        """Wire Draft, Resume, the job panel and the parts of speech; ``files``: the tab's upload box,
        which a finished draft's JSONL fills."""
        c, panel = self.c, self.panel
        self.files = files
        panel.wire(stop=c["stop"], tab_outputs=[c["note"], c["table"], c["download"], c["resume"], files],
                   draw=self.draw, count=lambda job: len(job.get("events") or []), restore=self.restore,
                   restore_outputs=[*self.request_inputs, c["accordion"]])
        c["run"].click(handler(self.start, message=panel.status), set(self.request_inputs), panel.start_outputs,
                       show_progress="hidden", api_name="start_vocab_draft")
        c["resume"].click(handler(self.resume, message=panel.status), {panel.job}, panel.start_outputs,
                          show_progress="hidden", api_name="resume_vocab_draft")
        c["accordion"].expand(handler(self.parts_of_speech), None, [c["pos"]], show_progress="hidden",
                              api_name="vocab_draft_parts_of_speech")

    # -- handlers -------------------------------------------------------------------------------
    def start(self, values: dict) -> dict:
        """The selection and settings in; the job's view out (or every problem, named as the panel names it)."""
        c = self.c
        settings = {name: values[w] for name, w in self.settings.items()}
        try:
            job = self.service.jobs.start_vocab_draft(values[c["which"]], values[c["ids"]] or "", values[c["pos"]],
                                                      values[c["limit"]], settings)
        except InputError as exc:
            return {self.panel.status: render.problems_md(problems_of(exc), self.labels)}
        return self.panel.started(job)

    def resume(self, values: dict) -> dict:
        """Continue the watched draft (stopped or interrupted) in its own run."""
        job_id = (values[self.panel.job] or {}).get("id") or ""
        try:
            job = self.service.jobs.resume(job_id)
        except InputError as exc:
            return {self.panel.status: render.problems_md(problems_of(exc), self.labels)}
        return self.panel.started(job)

    def parts_of_speech(self) -> dict:
        choices = [(S.LEXDRAFT_POS_ANY, "")] + [(p, p) for p in self.service.authoring.parts_of_speech()]
        return {self.c["pos"]: gr.update(choices=choices)}

    def draw(self, job: dict, log_scale: bool) -> dict:
        """The unknown IDs and, once the job has ended, what it drafted, the symbols not drafted,
        the files to download and the tab's vocabulary; Resume where the draft can go on."""
        c, result = self.c, job.get("result") or {}
        unknown = (job.get("config") or {}).get("unknown_ids") or []
        lines = [render.md(S.LEXDRAFT_UNKNOWN.format(ids=", ".join(unknown)))] if unknown else []
        out = {c["table"]: gr.update(**HIDDEN), c["download"]: gr.update(**HIDDEN), c["resume"]: gr.update(**HIDDEN)}
        if result:
            lines.append(summary(result))
            rows = [[r["symbol_id"], r["gloss"] or "", r["reason"]] for r in result.get("not_drafted") or []]
            if rows:
                out[c["table"]] = shown(render.table(S.LEXDRAFT_TABLE_HEAD, rows))
        if result.get("drafted"):
            files = self.service.results.drafted_files(job["id"])
            out[c["download"]] = shown([files["vocabulary"], files["report"]])
            out[self.files] = [files["vocabulary"]]
        if job["status"] in FINISHED and self.resumable(job["id"]):
            out[c["resume"]] = gr.update(visible=True)
            lines.append(S.LEXDRAFT_RESUMABLE)
        out[c["note"]] = shown("\n\n".join(lines)) if lines else gr.update(value="", **HIDDEN)
        return out

    def resumable(self, job_id: str) -> bool:
        try:
            self.service.jobs.resume_plan(job_id)
        except InputError:
            return False
        return True

    def restore(self, job: dict) -> dict:
        """The selection and settings the job was started with, the panel open (after a reload)."""
        c, head = self.c, (job.get("config") or {}).get("header") or {}
        chosen = head.get("selection") or {}
        values = {**(head.get("settings") or {}), **(head.get("screening") or {}), "seed": head.get("seed")}
        out = {c["which"]: chosen.get("lexicon") or "ids", c["ids"]: ", ".join(chosen.get("ids") or []),
               c["pos"]: chosen.get("pos") or "", c["limit"]: chosen.get("limit"), c["accordion"]: gr.update(open=True)}
        return out | {w: values[name] for name, w in self.settings.items() if values.get(name) is not None}


def summary(result: dict) -> str:
    """What a draft made: how many symbols it drafted, at what pace, and whether they load as a vocabulary."""
    n, check = result.get("symbols", 0), result.get("check")
    handled = S.LEXDRAFT_HANDLED.format(handled=result.get("handled", 0)) if result.get("stopped") else ""
    pace = S.LEXDRAFT_PACE.format(seconds=render.num(result.get("seconds")), per=render.num(
        result.get("seconds_per_symbol"))) if result.get("seconds_per_symbol") is not None else ""
    if not result.get("drafted"):
        verdict = S.LEXDRAFT_NOTHING
    elif check and check.get("passed"):
        verdict = S.LEXDRAFT_LOADS
    else:
        verdict = S.LEXDRAFT_LOADS_NOT.format(problems=render.md("; ".join((check or {}).get("problems", [])[:3])))
    return S.LEXDRAFT_SUMMARY.format(drafted=result.get("drafted", 0), symbols=n, s="" if n == 1 else "s",
                                     handled=handled, pace=pace, check=verdict)
