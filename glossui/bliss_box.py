"""The Gloss tab's "Bliss symbol" box: a BCI-AV ID or words in, the spec's symbol fields filled.

An ID fills the symbol ID, glosses, new token, target tokens (proposed for the loaded model's
tokenizer) and notes, and says which glosses have no target; words list the ranked matches in a
dropdown, and picking one fills the fields the same way. The lexicon is reached only through
``Service.bliss_symbol``.
"""

from __future__ import annotations

from typing import Callable

import gradio as gr

from glossui import render
from glossui import strings as S
from glossui.page import Page, handler

ID = "bliss"


def build(page: Page) -> dict:
    """The box, its matches and its message, where the tab places them (wired later by ``wire``)."""
    c: dict = {}
    with gr.Row(equal_height=False):
        c["query"] = gr.Textbox(label=S.BLISS_LABEL, info=S.BLISS_INFO, placeholder=S.BLISS_PLACEHOLDER,
                                scale=3, elem_id="bliss-query")
        c["lookup"] = gr.Button(S.BLISS_LOOKUP, scale=1, size="md", elem_id="bliss-lookup")
        c["matches"] = gr.Dropdown(label=S.BLISS_MATCHES, info=S.BLISS_MATCHES_INFO, choices=[], value=None,
                                   visible=False, scale=3, elem_id="bliss-matches")
    c["status"] = gr.Markdown(elem_id="bliss-status")
    return page.add(ID, c)


def wire(page: Page, c: dict, fields: dict, count_info: Callable[[str, str], str]) -> None:
    """Look-up and pick fill ``fields`` (the Gloss tab's boxes, by spec field) with their counters."""
    service = page.service
    status, matches = c["status"], c["matches"]
    outputs = [*(fields[n] for n in _FILLED), matches, status]

    def filled(symbol: dict) -> dict:
        texts = {"symbol_id": str(symbol["bci_av_id"]), "glosses": "\n".join(symbol["glosses"]),
                 "new_token": symbol["token_name"], "notes": symbol["notes"]}
        if symbol["targets"] is not None:
            texts["target_tokens"] = "\n".join(symbol["targets"])
        return {fields[n]: gr.update(value=v, info=count_info(n, v)) for n, v in texts.items()}

    def answer(query: str) -> dict:
        found = service.authoring.bliss_symbol(query)
        if found["kind"] == "symbol":
            symbol = found["symbol"]
            return filled(symbol) | {status: symbol_message(symbol)}
        rows = found["matches"]
        choices = [(S.BLISS_MATCH.format(id=m["bci_av_id"], gloss=m["gloss"], pos=m["pos"]), str(m["bci_av_id"]))
                   for m in rows]
        text = (S.BLISS_N_MATCHES.format(n=len(rows), es="" if len(rows) == 1 else "es", query=repr(found["query"]))
                if rows else S.BLISS_NONE.format(query=repr(found["query"])))
        return {matches: gr.update(choices=choices, value=None, visible=bool(rows)), status: render.md(text)}

    @handler(message=status)
    def bliss_lookup(values: dict) -> dict:
        return answer(values[c["query"]])

    @handler(message=status)
    def bliss_pick(values: dict) -> dict:
        picked = values[matches]
        return answer(str(picked)) if picked else {status: gr.update()}

    c["lookup"].click(bliss_lookup, {c["query"]}, outputs, api_name="bliss_lookup")
    c["query"].submit(bliss_lookup, {c["query"]}, outputs, api_name="bliss_lookup_submit")
    matches.input(bliss_pick, {matches}, outputs, api_name="bliss_pick")


_FILLED = ("symbol_id", "glosses", "new_token", "target_tokens", "notes")


def symbol_message(symbol: dict) -> str:
    """What the lookup filled, the proposed targets, the glosses without one, and what was left out."""
    out = [S.BLISS_FOUND.format(id=symbol["bci_av_id"], gloss=symbol["raw_gloss"])]
    if symbol["targets"] is None:
        out.append(S.BLISS_NO_MODEL)
    else:
        out.append(S.BLISS_TARGETS.format(model=symbol["model"] or "the model",
                                          targets=", ".join(symbol["targets"]) or S.BLISS_NO_TARGETS))
        if symbol["without_target"]:
            out.append(S.BLISS_WITHOUT.format(glosses=", ".join(symbol["without_target"])))
    cut = [x for items in symbol["cut"].values() for x in items]
    if cut:
        out.append(S.BLISS_CUT.format(items=", ".join(cut)))
    return render.md("\n".join(out))
