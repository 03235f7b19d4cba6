"""The page: header, tabs built by ``glossui.components``, events wired to the ``Runner``."""

from __future__ import annotations

import gradio as gr

from core.service import SPEC_FIELDS, Service
from glossui import strings as S
from glossui.components.compare import build_compare_tab
from glossui.components.export import build_export_tab
from glossui.components.generate import build_generate_tab
from glossui.components.gloss import build_gloss_tab
from glossui.components.initialize import build_initialize_tab
from glossui.components.model import build_model_tab
from glossui.components.runs import build_runs_tab
from glossui.components.train import build_train_tab
from glossui.runner import INIT_FIELDS, Runner

# Darker text and focus outlines than the default theme: WCAG AA contrast, visible keyboard focus.
CSS = """
.gradio-container { max-width: 1400px !important; }
:root { --body-text-color-subdued: #3d3d3d; --block-info-text-color: #3d3d3d; }
*:focus-visible { outline: 3px solid #0b57d0 !important; outline-offset: 2px; }
.gl-progress { display: flex; gap: 0.75rem; align-items: center; padding: 0.25rem 0; }
.gl-progress progress { width: 16rem; height: 1rem; vertical-align: middle; }
#spec-status:empty, #model-status:empty { display: none; }
/* Long generated text wraps inside its cell instead of widening the table. */
table td, table th { overflow-wrap: anywhere; }
.gl-code textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
"""


def theme() -> gr.themes.Base:
    # System fonts: no request to a font service (the app works offline), and bold text uses
    # the same family as the text around it.
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate",
                             font=["system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]).set(
        body_text_color_subdued="#3d3d3d", block_info_text_color="#3d3d3d",
        button_primary_background_fill="#0b57d0", button_primary_background_fill_hover="#0842a0",
        button_primary_text_color="#ffffff",
        # Stop and Delete: a darker red, so that white text on it has a contrast above 4.5:1.
        button_cancel_background_fill="#b91c1c", button_cancel_background_fill_hover="#991b1b",
        button_cancel_text_color="#ffffff", button_cancel_text_color_hover="#ffffff",
    )


def build_app(service: Service, default_example: str | None = "wool_shop") -> gr.Blocks:
    """Build the whole page on ``service``. Launch with ``launch_kwargs()`` (theme and CSS)."""
    runner = Runner(service)
    examples = service.examples()
    strategies = service.strategies()
    ft_fields = service.finetune_fields()
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
                init = build_initialize_tab(strategies, service.init_defaults())
            with gr.Tab(S.TAB_TRAIN, id="train"):
                train = build_train_tab(ft_fields)
            with gr.Tab(S.TAB_COMPARE, id="compare"):
                compare = build_compare_tab(strategies)
            with gr.Tab(S.TAB_GENERATE, id="generate"):
                generate = build_generate_tab()
            with gr.Tab(S.TAB_RUNS, id="runs"):
                runs = build_runs_tab()
            with gr.Tab(S.TAB_EXPORT, id="export"):
                export = build_export_tab(str(service.exports_dir))
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

        # Train tab: Start takes the Initialize settings, the hyperparameters and the spec.
        ft_inputs = [train["hyper"][f["name"]] for f in ft_fields]
        train_outputs = [train["job"], train["status"], train["progress"], train["plot"], train["events"],
                         train["result"], train["timer"]]
        init["strategy"].change(runner.train_strategy_note, init["strategy"], train["strategy_note"],
                                show_progress="hidden")
        train["start"].click(runner.start_training, init_inputs + ft_inputs + spec_inputs, train_outputs,
                             show_progress_on=train["status"])
        train["stop"].click(runner.stop_job, train["job"], train["status"])
        train["timer"].tick(runner.train_tick, [train["job"], train["log_scale"]], train_outputs,
                            show_progress="hidden", concurrency_limit=None)
        train["log_scale"].change(runner.train_view, [train["job"], train["log_scale"]], train_outputs,
                                  show_progress="hidden")

        # Compare tab: the same settings, for every chosen strategy and seed.
        compare_outputs = [compare["job"], compare["status"], compare["progress"], compare["plot"], compare["data"],
                           compare["table"], compare["files"], compare["timer"]]
        compare["start"].click(runner.start_comparison,
                               [compare["strategies"], compare["seeds"]] + init_inputs + ft_inputs + spec_inputs,
                               compare_outputs, show_progress_on=compare["status"])
        compare["stop"].click(runner.stop_job, compare["job"], compare["status"])
        compare["timer"].tick(runner.compare_tick, [compare["job"], compare["log_scale"]], compare_outputs,
                              show_progress="hidden", concurrency_limit=None)
        compare["log_scale"].change(runner.compare_view, [compare["job"], compare["log_scale"]], compare_outputs,
                                    show_progress="hidden")

        # Runs, Generate and Export share the run list.
        run_lists = [runs["table"], runs["pick"], generate["pick"], export["pick"]]
        for button in (runs["refresh"], generate["refresh"], export["refresh"]):
            button.click(runner.refresh_runs, runs["pick"], run_lists)
        runs_outputs = [runs["summary"], runs["plot"], runs["result"], runs["generations"], runs["spec"],
                        runs["config"]]
        runs["open"].click(runner.open_run, runs["pick"], runs_outputs)
        runs["delete"].click(runner.ask_delete, runs["pick"], [runs["confirm_row"], runs["confirm_text"]])
        runs["confirm_no"].click(runner.cancel_delete, None, [runs["confirm_row"], runs["confirm_text"]])
        runs["confirm_yes"].click(runner.delete_run, runs["pick"],
                                  [runs["confirm_row"], runs["summary"]] + run_lists)
        generate["pick"].change(runner.run_generations, generate["pick"], [generate["message"], generate["table"]])
        generate["run"].click(runner.generate_custom, [generate["pick"], generate["prompt"],
                                                       generate["max_new_tokens"]],
                              [generate["message"], generate["custom"]], show_progress_on=generate["custom"])
        export["adapter"].click(runner.export_adapter, export["pick"],
                                [export["file"], export["message"], export["how"]])
        export["merged"].click(runner.export_merged, [export["pick"], export["folder"]],
                               [export["message"], export["how"]])
        # A job that finishes refreshes the run lists (its run now has a model to open or export).
        train["status"].change(runner.refresh_on_finish, [train["job"], runs["pick"]], run_lists,
                               show_progress="hidden")
        compare["status"].change(runner.refresh_on_finish, [compare["job"], runs["pick"]], run_lists,
                                 show_progress="hidden")

        # On page load: the example's fields, the model's state, the running or latest jobs, the runs.
        demo.load(runner.load_example, gloss["example"], spec_inputs + [gloss["status"]])
        demo.load(runner.model_tick, None, model_outputs)
        demo.load(runner.strategy_help, init["strategy"], [init["strategy_help"], init["opt_accordion"]])
        demo.load(runner.train_strategy_note, init["strategy"], train["strategy_note"])
        # This browser's own jobs, kept in its local storage: a reload reattaches to them (not to
        # another user's job), falling back to the running or latest job when it has none.
        remembered = gr.BrowserState({}, storage_key="glosslab-jobs")
        for kind, panel in (("train", train), ("compare", compare)):
            panel["job"].change(runner.remember(kind), [panel["job"], remembered], remembered,
                                show_progress="hidden", queue=False)
        demo.load(runner.on_load, remembered, train_outputs + compare_outputs + run_lists)
    demo.queue(default_concurrency_limit=4)
    return demo


def launch_kwargs() -> dict:
    """Arguments that Gradio 6 takes at launch rather than in ``gr.Blocks``."""
    return {"theme": theme(), "css": CSS}
