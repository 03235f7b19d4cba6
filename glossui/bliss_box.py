"""The Gloss tab's "Bliss symbol" box: a BCI-AV ID or words in, the spec's symbol fields filled.

An ID fills the symbol ID, glosses, new token, target tokens (proposed for the loaded model's
tokenizer) and notes, and says which glosses have no target; words list the ranked matches in a
dropdown, and picking one fills the fields the same way. When the spec's contexts and sentences
were written for another symbol (another symbol ID, or sentences naming another token), the look-up
starts from a blank spec for the new symbol (the default: the lists cleared, the part of speech's
generation prompts) or keeps the lists, as chosen; both the box and the spec's status say which.
The lexicon is reached only through ``Service.bliss_symbol``.
"""

from __future__ import annotations

from typing import Callable

import gradio as gr

from core.service import other_tokens
from glossui import render
from glossui import strings as S
from glossui.page import Page, handler

ID = "bliss"
# The lists written for one symbol (a blank spec clears them) and the one a blank spec refills.
_WRITTEN = ("positive_contexts", "negative_contexts", "validation_contexts", "testing_positive_contexts",
            "testing_negative_contexts", "fine_tuning_sentences", "validation_sentences")
_LISTS = (*_WRITTEN, "generation_prompts")


def build(page: Page) -> dict:
    """The box, its matches and its message, where the tab places them (wired later by ``wire``)."""
    c: dict = {}
    with gr.Row(equal_height=False):
        c["query"] = gr.Textbox(label=S.BLISS_LABEL, info=S.BLISS_INFO, placeholder=S.BLISS_PLACEHOLDER,
                                scale=3, elem_id="bliss-query")
        c["lookup"] = gr.Button(S.BLISS_LOOKUP, scale=1, size="md", elem_id="bliss-lookup")
        c["matches"] = gr.Dropdown(label=S.BLISS_MATCHES, info=S.BLISS_MATCHES_INFO, choices=[], value=None,
                                   visible=False, scale=3, elem_id="bliss-matches")
    c["lists"] = gr.Radio([(S.BLISS_LISTS_BLANK, "blank"), (S.BLISS_LISTS_KEEP, "keep")], value="blank",
                          label=S.BLISS_LISTS_LABEL, info=S.BLISS_LISTS_INFO, elem_id="bliss-lists")
    c["status"] = gr.Markdown(elem_id="bliss-status")
    return page.add(ID, c)


def other_symbol(spec_now: dict, symbol: dict) -> tuple[str, list[str]] | None:
    """(whose lists, the token names they hold) when the spec's contexts and sentences were written
    for another symbol than ``symbol``: another symbol ID, or sentences naming another token; None
    when the lists are empty or already this symbol's."""
    if not any(spec_now.get(name) for name in _WRITTEN):
        return None
    token = symbol["token_name"]
    tokens = list(dict.fromkeys(t for name in _WRITTEN for item in spec_now.get(name) or []
                                for t in other_tokens(item, token)))
    old_id = str(spec_now.get("symbol_id") or "").strip()
    if old_id and old_id != str(symbol["bci_av_id"]):
        return f"symbol {old_id}", tokens
    return (f"the spec for {tokens[0]}", tokens) if tokens else None


def wire(page: Page, c: dict, fields: dict, count_info: Callable[[str, str], str]) -> None:
    """Look-up and pick fill ``fields`` (the Gloss tab's boxes, by spec field) with their counters,
    and say in the Gloss tab's status what happened to the lists."""
    service = page.service
    status, matches, spec_status = c["status"], c["matches"], page["gloss"]["status"]
    outputs = [*(fields[n] for n in (*_FILLED, *_LISTS)), matches, status, spec_status]

    def update(name: str, value: str):
        return gr.update(value=value, info=count_info(name, value))

    def filled(symbol: dict, values: dict) -> dict:
        texts = {"symbol_id": str(symbol["bci_av_id"]), "glosses": "\n".join(symbol["glosses"]),
                 "new_token": symbol["token_name"], "notes": symbol["notes"], "description": symbol["description"]}
        if symbol["targets"] is not None:
            texts["target_tokens"] = "\n".join(symbol["targets"])
        other = other_symbol(page.spec_of(values), symbol)
        names = {"id": symbol["bci_av_id"], "gloss": symbol["raw_gloss"]}
        if other is None:
            lists, spec_line = S.BLISS_LISTS_UNCHANGED, S.SPEC_LOOKUP_SAME.format(**names)
        elif values[c["lists"]] == "keep":
            lists = S.BLISS_KEPT_LISTS.format(old=other[0], tokens=", ".join(other[1]) or "no token")
            spec_line = S.SPEC_LOOKUP_KEPT.format(old=other[0], **names)
        else:
            texts |= {name: "" for name in _WRITTEN} | {"generation_prompts": "\n".join(symbol["generation_prompts"])}
            lists = S.BLISS_STARTED_BLANK.format(old=other[0], pos=symbol["pos"] or "symbol")
            spec_line = S.SPEC_LOOKUP_BLANK.format(**names)
        return {fields[n]: update(n, v) for n, v in texts.items()} | {
            status: symbol_message(symbol, lists), spec_status: render.md(spec_line)}

    def answer(query: str, values: dict) -> dict:
        found = service.authoring.bliss_symbol(query)
        if found["kind"] == "symbol":
            return filled(found["symbol"], values)
        rows = found["matches"]
        choices = [(S.BLISS_MATCH.format(id=m["bci_av_id"], gloss=m["gloss"], pos=m["pos"]), str(m["bci_av_id"]))
                   for m in rows]
        text = (S.BLISS_N_MATCHES.format(n=len(rows), es="" if len(rows) == 1 else "es", query=repr(found["query"]))
                if rows else S.BLISS_NONE.format(query=repr(found["query"])))
        return {matches: gr.update(choices=choices, value=None, visible=bool(rows)), status: render.md(text)}

    @handler(message=status)
    def bliss_lookup(values: dict) -> dict:
        return answer(values[c["query"]], values)

    @handler(message=status)
    def bliss_pick(values: dict) -> dict:
        picked = values[matches]
        return answer(str(picked), values) if picked else {status: gr.update()}

    inputs = {c["query"], c["lists"], *fields.values()}
    c["lookup"].click(bliss_lookup, inputs, outputs, api_name="bliss_lookup")
    c["query"].submit(bliss_lookup, inputs, outputs, api_name="bliss_lookup_submit")
    matches.input(bliss_pick, {matches, c["lists"], *fields.values()}, outputs, api_name="bliss_pick")


_FILLED = ("symbol_id", "glosses", "new_token", "target_tokens", "notes", "description")


def symbol_message(symbol: dict, lists: str = "") -> str:
    """What the lookup filled, what happened to the lists, the proposed targets, the glosses without
    one, and what was left out."""
    out = [S.BLISS_FILLED.format(id=symbol["bci_av_id"], gloss=symbol["raw_gloss"]) + (" " + lists if lists else "")]
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
