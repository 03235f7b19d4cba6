"""The page: header, tabs built by ``glossui.components``, events wired to the ``Runner``."""

from __future__ import annotations

import gradio as gr

from core.service import SPEC_FIELDS, Service
from glossui import strings as S
from glossui.components.gloss import build_gloss_tab
from glossui.components.initialize import build_initialize_tab
from glossui.components.model import build_model_tab
from glossui.runner import INIT_FIELDS, Runner

# Darker text and focus outlines than the default theme: WCAG AA contrast, visible keyboard focus.
CSS = """
.gradio-container { max-width: 1400px !important; }
:root { --body-text-color-subdued: #3d3d3d; --block-info-text-color: #3d3d3d; }
*:focus-visible { outline: 3px solid #0b57d0 !important; outline-offset: 2px; }
.gl-progress { display: flex; gap: 0.75rem; align-items: center; padding: 0.25rem 0; }
.gl-progress progress { width: 16rem; height: 1rem; vertical-align: middle; }
#spec-status:empty, #model-status:empty { display: none; }
"""


def theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate").set(
        body_text_color_subdued="#3d3d3d", block_info_text_color="#3d3d3d",
        button_primary_background_fill="#0b57d0", button_primary_background_fill_hover="#0842a0",
        button_primary_text_color="#ffffff",
    )


def build_app(service: Service, default_example: str | None = "wool_shop") -> gr.Blocks:
    """Build the whole page on ``service``. Launch with ``launch_kwargs()`` (theme and CSS)."""
    runner = Runner(service)
    examples = service.examples()
    if default_example not in examples:
        default_example = examples[0] if examples else None
    with gr.Blocks(title=S.TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {S.TITLE}\n{S.INTRO}")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab(S.TAB_GLOSS, id="gloss"):
                gloss = build_gloss_tab(examples, service.field_limits(), service.limits(), default_example)
            with gr.Tab(S.TAB_MODEL, id="model"):
                model = build_model_tab(service.default_request)
            with gr.Tab(S.TAB_INIT, id="initialize"):
                init = build_initialize_tab(service.strategies(), service.init_defaults())
        spec_inputs = [gloss["fields"][n] for n in SPEC_FIELDS]

        # Gloss tab
        gloss["load_example"].click(runner.load_example, gloss["example"], spec_inputs + [gloss["status"]])
        gloss["upload"].upload(runner.upload_spec, gloss["upload"], spec_inputs + [gloss["status"]])
        gloss["check"].click(runner.check_spec, spec_inputs, gloss["status"])
        gloss["download"].click(runner.download_spec, spec_inputs, [gloss["file"], gloss["status"]])
        for name in SPEC_FIELDS:
            box = gloss["fields"][name]
            box.input(runner.counter(name), box, box, show_progress="hidden", queue=False,
                      trigger_mode="always_last")

        # Model tab
        model_outputs = [model["progress"], model["status"], model["info"], model["timer"]]
        model["load"].click(runner.load_model, model["name"], model_outputs)
        model["name"].submit(runner.load_model, model["name"], model_outputs)
        model["timer"].tick(runner.model_tick, None, model_outputs, show_progress="hidden", queue=False)

        # Initialize tab
        init_inputs = [init[n] for n in INIT_FIELDS]
        init["strategy"].change(runner.strategy_help, init["strategy"], [init["strategy_help"], init["opt_accordion"]],
                                show_progress="hidden")
        init["run"].click(runner.initialize, init_inputs + spec_inputs,
                          [init["message"], init["fit"], init["quality"], init["ranks"], init["opt_plot"],
                           init["nearest"], init["generations"]], show_progress_on=init["message"])

        # On page load: the example's fields, the model's state.
        demo.load(runner.load_example, gloss["example"], spec_inputs + [gloss["status"]])
        demo.load(runner.model_tick, None, model_outputs)
        demo.load(runner.strategy_help, init["strategy"], [init["strategy_help"], init["opt_accordion"]])
    demo.queue(default_concurrency_limit=4)
    return demo


def launch_kwargs() -> dict:
    """Arguments that Gradio 6 takes at launch rather than in ``gr.Blocks``."""
    return {"theme": theme(), "css": CSS}
