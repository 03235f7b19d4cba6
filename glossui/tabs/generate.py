"""The Generate tab: every prompt with the gloss and with the token, before and after fine-tuning."""

from __future__ import annotations

import gradio as gr

from glossui import render
from glossui import strings as S
from glossui.page import Page, handler, shown

ID = "generate"
TITLE = S.TAB_GENERATE


def build(page: Page) -> None:
    service = page.service
    c: dict = {}
    gr.Markdown(S.GENERATE_HEAD)
    with gr.Row(equal_height=False):
        c["pick"] = gr.Dropdown(choices=[], label=S.RUN_PICK, info=S.RUN_PICK_INFO, scale=4,
                                elem_id="generate-pick")
        c["refresh"] = gr.Button(S.RUNS_REFRESH, scale=1, size="md", elem_id="generate-refresh")
    c["message"] = gr.Markdown(elem_id="generate-message", container=True)
    table = dict(interactive=False, visible=False, datatype="str", wrap=True, column_widths=render.GEN_WIDTHS)
    c["table"] = gr.Dataframe(label=S.GENERATIONS_LABEL, elem_id="generate-table", **table)
    length = page.service.settings.max_new_tokens()
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
    c["custom"] = gr.Dataframe(label=S.CUSTOM_TABLE, elem_id="generate-custom", **table)
    page.add(ID, c)
    page.add_run_picker(c["pick"], c["refresh"])
    message, pick, symbol = c["message"], c["pick"], c["symbol"]
    no_symbol = gr.update(choices=[], value="", visible=False)

    @handler(message=message)
    def run_generations(values: dict) -> dict:
        """The trained model's own prompts, side by side; a vocabulary's symbols to choose from."""
        target = values[pick]
        if not target:
            return {message: render.md(S.NO_RUN), c["table"]: gr.update(visible=False), symbol: no_symbol}
        symbols = service.results.symbols(target)
        choose = (gr.update(choices=[(s["label"], s["token"]) for s in symbols], value=symbols[0]["token"],
                            visible=True) if symbols else no_symbol)
        gens = service.results.generations(target)
        if not gens["before"]:
            return {message: render.md(S.NO_GENERATIONS.format(id=target)), c["table"]: gr.update(visible=False),
                    symbol: choose}
        text = S.GENERATIONS_OF.format(title=render.md(gens["title"]), strategy=render.md(gens["strategy"]))
        return {message: text, c["table"]: shown(render.generations_table(gens["before"], gens["after"] or None)),
                symbol: choose}

    @handler(message=message)
    def generate_custom(values: dict, progress=gr.Progress()) -> dict:
        """A custom prompt with the gloss and the token, before and after fine-tuning."""
        target = values[pick]
        if not target:
            return {message: render.md(S.NO_RUN)}
        progress(None, desc=S.GENERATING)
        row = service.results.generate(target, values[c["prompt"]] or "", values[c["max_new_tokens"]],
                               values.get(symbol) or None)
        table = render.generations_table([row["before"]], [row["after"]])
        said = (S.GENERATED_SYMBOL.format(target=target, symbol=row["symbol"]) if row.get("symbol")
                else S.GENERATED.format(target=target))
        return {message: render.md(said), c["custom"]: shown(table)}

    pick.change(run_generations, {pick}, [message, c["table"], symbol], api_name="run_generations")
    c["run"].click(generate_custom, {pick, c["prompt"], c["max_new_tokens"], symbol}, [message, c["custom"]],
                   show_progress_on=c["custom"], api_name="generate_custom")
