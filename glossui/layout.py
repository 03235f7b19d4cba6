"""The page: a header, then one tab per module of ``TABS`` (in page order), each built on one
shared ``Page``. Adding a tab: one module in ``glossui/tabs/`` (``ID``, ``TITLE``, ``build(page)``)
and one entry in ``TABS``."""

from __future__ import annotations

import gradio as gr

from core.service import Service
from glossui import render
from glossui import strings as S
from glossui.job_panel import wire_restore
from glossui.page import Page
from glossui.tabs import compare, export, generate, gloss, initialize, model, runs, train, vocabulary

TABS = (gloss, model, initialize, train, compare, vocabulary, generate, runs, export)

# Darker text and focus outlines than the default theme: WCAG AA contrast, visible keyboard focus.
CSS = """
.gradio-container { max-width: 1400px !important; }
:root { --body-text-color-subdued: #3d3d3d; --block-info-text-color: #3d3d3d; }
*:focus-visible { outline: 3px solid #0b57d0 !important; outline-offset: 2px; }
.gl-progress { display: flex; gap: 0.75rem; align-items: center; padding: 0.25rem 0; }
.gl-progress progress { width: 16rem; height: 1rem; vertical-align: middle; }
.gl-progress label { white-space: nowrap; }
#spec-status:empty, #model-status:empty { display: none; }
/* Long generated text wraps inside its cell instead of widening the table; a header wraps between words. */
table td { overflow-wrap: anywhere; }
table th, table th * { overflow-wrap: normal; word-break: normal; }
/* A job's progress bar takes no room while there is no job running. */
div[id$="-progress"]:not(:has(.gl-progress)) { display: none; }
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


def build_page(service: Service, default_example: str | None = "wool_shop") -> Page:
    """Build the whole page on ``service``; ``page.demo`` is the app (launch it with ``launch_kwargs()``)."""
    # Problems name a setting by the label its widget has (the engine describes the settings).
    render.add_labels(service.settings.labels())
    with gr.Blocks(title=S.TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {S.TITLE}\n{S.INTRO}")
        page = Page(service, demo, default_example)
        with gr.Tabs(elem_id="tabs") as strip:
            for tab in TABS:
                with gr.Tab(tab.TITLE, id=tab.ID) as item:
                    page.tab_items[tab.ID] = item
                    tab.build(page)
        page.finish()
        page.wire_tabs(strip, page.tab_items)
        wire_restore(page)
    demo.queue(default_concurrency_limit=4)
    return page


def build_app(service: Service, default_example: str | None = "wool_shop") -> gr.Blocks:
    """The whole page on ``service``, as a Gradio app. Launch with ``launch_kwargs()`` (theme and CSS)."""
    return build_page(service, default_example).demo


def launch_kwargs() -> dict:
    """Arguments that Gradio 6 takes at launch rather than in ``gr.Blocks``."""
    return {"theme": theme(), "css": CSS}
