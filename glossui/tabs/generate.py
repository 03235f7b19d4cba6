"""The Generate tab: every prompt with the gloss and with the token, before and after fine-tuning."""

from __future__ import annotations

import gradio as gr

from glossui import render
from glossui import strings as S
from glossui.page import Page, handler, shown

ID = "generate"
TITLE = S.TAB_GENERATE
NO_SYMBOL = {"choices": [], "value": "", "visible": False}


class GenerateTab:
    """The tab's components (``c``) and its handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.c: dict = {}

    def build_widgets(self) -> None:
        c = self.c
        gr.Markdown(S.GENERATE_HEAD)
        with gr.Row(equal_height=False):
            c["pick"] = gr.Dropdown(choices=[], label=S.RUN_PICK, info=S.RUN_PICK_INFO, scale=4,
                                    elem_id="generate-pick")
            c["refresh"] = gr.Button(S.RUNS_REFRESH, scale=1, size="md", elem_id="generate-refresh")
        c["message"] = gr.Markdown(elem_id="generate-message", container=True)
        table = dict(interactive=False, visible=False, datatype="str", wrap=True, column_widths=render.GEN_WIDTHS)
        c["table"] = gr.Dataframe(label=S.GENERATIONS_LABEL, elem_id="generate-table", **table)
        length = self.service.settings.max_new_tokens()
        with gr.Row(equal_height=False):
            c["prompt"] = gr.Textbox(label=S.CUSTOM_PROMPT, info=S.CUSTOM_PROMPT_INFO, scale=4,
                                     value="I went to the {placeholder} to", elem_id="generate-prompt")
            c["max_new_tokens"] = gr.Number(value=length["default"], precision=0, label=S.MAX_NEW_TOKENS,
                                            info=f"{length['min']} to {length['max']}",
                                            scale=1, elem_id="generate-max-new")
            c["run"] = gr.Button(S.CUSTOM_GENERATE, variant="primary", scale=1, size="md", elem_id="generate-run")
        # After the prompt, and with a value: the API's inputs follow the order the components were made
        # in and a component with a value is optional there, so an API call with a run, a prompt and a
        # length keeps working; a vocabulary's symbol comes fourth. The service checks the token it gets.
        c["symbol"] = gr.Dropdown(choices=[], value="", allow_custom_value=True, label=S.GENERATE_SYMBOL,
                                  info=S.GENERATE_SYMBOL_INFO, visible=False, elem_id="generate-symbol")
        c["custom_message"] = gr.Markdown(elem_id="generate-custom-message", container=True)
        c["custom"] = gr.Dataframe(label=S.CUSTOM_TABLE, elem_id="generate-custom", **table)

    def wire(self) -> None:
        c, pick = self.c, self.c["pick"]
        pick.change(handler(self.run_generations, message=c["message"]), {pick}, [c["message"], c["table"], c["symbol"]],
                    show_progress_on=[c["message"]], api_name="run_generations")
        # Every press runs (none is dropped while another is pending), one after another.
        c["run"].click(handler(self.generate_custom, message=c["custom_message"]),
                       {pick, c["prompt"], c["max_new_tokens"], c["symbol"]}, [c["custom_message"], c["custom"]],
                       show_progress_on=[c["custom_message"]], trigger_mode="multiple", concurrency_limit=1,
                       concurrency_id="generate_custom", api_name="generate_custom")

    # -- handlers -------------------------------------------------------------------------------
    def run_generations(self, values: dict) -> dict:
        """The trained model's own prompts, side by side; a vocabulary's symbols to choose from."""
        c = self.c
        trained = values[c["pick"]]
        if not trained:
            return {c["message"]: render.md(S.NO_RUN), c["table"]: gr.update(visible=False),
                    c["symbol"]: gr.update(**NO_SYMBOL)}
        symbols = self.service.results.symbols(trained)
        choose = (gr.update(choices=[(s["label"], s["token"]) for s in symbols], value=symbols[0]["token"],
                            visible=True) if symbols else gr.update(**NO_SYMBOL))
        gens = self.service.results.generations(trained)
        if not gens["before"]:
            return {c["message"]: render.md(S.NO_GENERATIONS.format(id=trained)), c["table"]: gr.update(visible=False),
                    c["symbol"]: choose}
        text = S.GENERATIONS_OF.format(title=render.md(gens["title"]), strategy=render.md(gens["strategy"]))
        return {c["message"]: text, c["table"]: shown(render.generations_table(gens["before"], gens["after"] or None)),
                c["symbol"]: choose}

    def generate_custom(self, values: dict, progress=gr.Progress()):
        """A custom prompt with the gloss and the token, before and after fine-tuning; the message
        says at once what is being generated (never the previous result's text while it works)."""
        c = self.c
        trained, prompt = values[c["pick"]], values[c["prompt"]] or ""
        if not trained:
            yield {c["custom_message"]: render.md(S.NO_RUN)}
            return
        yield {c["custom_message"]: render.md(S.GENERATING_NOW.format(trained=trained, prompt=prompt))}
        progress(None, desc=S.GENERATING)
        row = self.service.results.generate(trained, prompt, values[c["max_new_tokens"]],
                                            values.get(c["symbol"]) or None)
        said = (S.GENERATED_SYMBOL.format(trained=trained, symbol=row["symbol"], prompt=prompt) if row.get("symbol")
                else S.GENERATED.format(trained=trained, prompt=prompt))
        yield {c["custom_message"]: render.md(said),
               c["custom"]: shown(render.generations_table([row["before"]], [row["after"]]))}


def build(page: Page) -> None:
    tab = GenerateTab(page)
    tab.build_widgets()
    page.add(ID, tab.c)
    page.add_run_picker(tab.c["pick"], tab.c["refresh"])
    tab.wire()
