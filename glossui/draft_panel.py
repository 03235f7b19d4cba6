"""The Gloss tab's drafting panel: pasted sentences and negatives (and a corpus) in, the spec's
fields filled with a draft screened on the loaded model, and every item in a table with its ranks.

Built where the Gloss tab calls ``build(page)`` (below the Bliss symbol box); wired once the tab's
fields exist (``page.later``). The engine is reached only through the service's ``authoring.draft``,
``authoring.prompts`` and ``settings.describe("draft")``.
"""

from __future__ import annotations

import gradio as gr

from glossui import render
from glossui import strings as S
from core.service import InputError
from glossui.page import Page, handler, lines, problems_of, setting_grid, shown, spec_to_texts

ID = "draft"
# The spec fields a draft fills (the symbol's ID, glosses and token are read, and written back as drafted).
_FILLED = ("symbol_id", "glosses", "new_token", "target_tokens", "positive_contexts", "negative_contexts",
           "validation_contexts", "testing_positive_contexts", "testing_negative_contexts",
           "fine_tuning_sentences", "validation_sentences", "generation_prompts", "notes", "description")
_READ = ("symbol_id", "glosses", "new_token", "target_tokens", "notes")
# Every column within the panel's width (the long texts wrap): kind, kept, set or reason, best rank,
# target ranks, context, sentence, sentence used in.
_WIDTHS = ["8%", "7%", "17%", "6%", "10%", "24%", "20%", "8%"]


def build(page: Page) -> dict:
    """The panel (folded), published as ``page["draft"]``; wired when every tab exists."""
    service = page.service
    c: dict = {}
    with gr.Accordion(S.DRAFT_TITLE, open=False, elem_id="draft"):
        gr.Markdown(S.DRAFT_HEAD)
        with gr.Row():
            c["sentences"] = gr.Textbox(label=S.DRAFT_SENTENCES, info=S.DRAFT_SENTENCES_INFO, lines=6, max_lines=20,
                                        elem_id="draft-sentences")
            c["negatives"] = gr.Textbox(label=S.DRAFT_NEGATIVES, info=S.DRAFT_NEGATIVES_INFO, lines=6, max_lines=20,
                                        elem_id="draft-negatives")
        fields = [f for f in service.settings.describe("draft") if f["name"] != "keep"]
        c["settings"] = setting_grid(fields, lambda name: f"draft-{name}", per_row=4)
        with gr.Row():
            c["keep"] = gr.Textbox(label=S.DRAFT_KEEP, info=S.DRAFT_KEEP_INFO, lines=2, scale=3, elem_id="draft-keep")
            c["corpus"] = gr.File(label=S.DRAFT_CORPUS, type="filepath", scale=2, height=140,
                                  file_types=[".txt", ".csv", ".json", ".jsonl", ".parquet"], elem_id="draft-corpus")
        with gr.Row():
            c["run"] = gr.Button(S.DRAFT_RUN, variant="primary", elem_id="draft-run")
            c["prompt"] = gr.Button(S.DRAFT_PROMPT, elem_id="draft-prompt")
        c["chat_prompt"] = gr.Textbox(label=S.DRAFT_PROMPT_LABEL, lines=6, visible=False, interactive=False,
                                      buttons=["copy"], elem_id="draft-chat-prompt")
        c["status"] = gr.Markdown(elem_id="draft-status")
        c["table"] = gr.Dataframe(headers=S.DRAFT_TABLE_HEADERS, label=S.DRAFT_TABLE, interactive=False, wrap=True,
                                  datatype="str", visible=False, elem_id="draft-table", max_height=520,
                                  column_widths=_WIDTHS)
    page.add(ID, c)
    page.later(lambda: wire(page, c))
    return c


def rows(result: dict, failed: bool = False) -> list[list[str]]:
    """The table's rows: every item, kept ones first (after a failed draft, the positives first: what
    was too few); a dropped context's sentence may still be used."""
    out = []
    order = (lambda i: (i["kind"] != "positive", i["status"] != "kept")) if failed else \
        (lambda i: (i["status"] != "kept", i["kind"] != "positive"))
    for it in sorted(result["items"], key=order):
        where = it["set"] if it["status"] == "kept" else it["reason"]
        if it["status"] == "kept" and it.get("lengthened_with"):
            where = f"{where}{S.DRAFT_LENGTHENED}"
        ranks = ", ".join(f"{w} {r}" for w, r in it["ranks"].items())
        out.append([it["kind"], "yes" if it["status"] == "kept" else "no", where or "",
                    "" if it["best_rank"] is None else str(it["best_rank"]), ranks, it["context"] or it["text"],
                    it.get("sentence") or "", it.get("sentence_set") or ""])
    return out


def table(items: list[dict], failed: bool = False) -> dict:
    """The table's value for these items."""
    return {"headers": S.DRAFT_TABLE_HEADERS, "data": rows({"items": items}, failed)}


def done_message(result: dict) -> str:
    """What a draft kept: contexts (and how many were lengthened), sentences used, negatives."""
    pos, neg = result["counts"]["positive"], result["counts"]["negative"]
    return render.md(S.DRAFT_DONE_CONTEXTS.format(model=result["model"], pk=pos["kept"], pn=pos["given"],
                                                  pl=pos.get("lengthened", 0), ps=pos.get("sentences_used", 0),
                                                  nk=neg["kept"], nn=neg["given"]))


def wire(page: Page, c: dict) -> None:
    service = page.service
    gloss = page["gloss"]
    fields = gloss["fields"]
    count_info = gloss.get("count_info")
    status, table_box = c["status"], c["table"]
    settings = c["settings"]

    def update(name: str, value: str):
        return gr.update(value=value, info=count_info(name, value)) if count_info else value

    @handler(message=status)
    def draft(values: dict) -> dict:
        spec_now = page.spec_of(values)
        request = {name: spec_now[name] for name in _READ}
        request |= {"sentences": values[c["sentences"]], "negatives": values[c["negatives"]],
                    "keep": values[c["keep"]], "corpus": values[c["corpus"]] or ""}
        request |= {name: values[w] for name, w in settings.items()}
        try:
            result = service.authoring.draft(request)
        except InputError as exc:
            # Too little material: the problems, and every item, so that Keep anyway can be used.
            if not exc.details.get("items"):
                raise
            message = render.problems_md(problems_of(exc)) + "\n\n" + S.DRAFT_FAILED_TABLE   # our own Markdown
            return {status: message, table_box: shown(table(exc.details["items"], failed=True))}
        spec = result["spec"]
        problems = service.specs.check(spec)
        warnings = service.specs.warnings(spec)
        valid = render.problems_md(problems) if problems else render.md(S.DRAFT_VALID)
        message = done_message(result) + "\n\n" + valid + ("\n\n" + render.warnings_md(warnings) if warnings else "")
        texts = spec_to_texts(spec, _FILLED)
        return {fields[n]: update(n, v) for n, v in texts.items()} | {
            status: message, gloss["status"]: valid, table_box: shown(table(result["items"]))}

    @handler(message=status)
    def prompt(values: dict) -> dict:
        found = service.authoring.prompts(lines(values[fields["glosses"]]), values[fields["symbol_id"]] or "")
        return {c["chat_prompt"]: shown(S.DRAFT_PROMPT_TEXT.format(**found)), status: ""}

    inputs = {*fields.values(), c["sentences"], c["negatives"], c["keep"], c["corpus"], *settings.values()}
    c["run"].click(draft, inputs, [*(fields[n] for n in _FILLED), status, gloss["status"], table_box],
                   api_name="draft_spec")
    c["prompt"].click(prompt, {fields["glosses"], fields["symbol_id"]}, [c["chat_prompt"], status],
                      api_name="draft_prompt")
