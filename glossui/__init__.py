"""Gloss Lab's web page (Gradio). Never imports torch: it reaches the engine through ``core.service``."""

from glossui.layout import build_app, launch_kwargs

__all__ = ["build_app", "launch_kwargs"]
