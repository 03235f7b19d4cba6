"""Gloss Lab engine: gloss specs, models, embedding strategies, fine-tuning, evaluation, runs.

Nothing in this package imports gradio; the web UI in ``glossui`` only builds configs from
widget values, starts jobs and renders what they report.
"""

from core.errors import InputError, Problem

__all__ = ["InputError", "Problem"]
