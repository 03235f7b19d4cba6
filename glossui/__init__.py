"""Gloss Lab's web page (Gradio). Never imports torch: it reaches the engine through ``core.service``.

Owns: the page and its tabs in order (``layout``), what the tabs share (``page``), the job panel
of the tabs that run jobs and the settings restored after a reload (``job_panel``), one module per
tab (``tabs``), the Gloss tab's Bliss box (``bliss_box``) and drafting panel (``draft_panel``), the
Vocabulary tab's drafting from the lexicon (``lexicon_draft_panel``), the
text shown to users (``strings``), tables and Markdown from what the engine reports (``render``)
and the plotly figures (``plots``).
"""

from glossui.layout import build_app, launch_kwargs

__all__ = ["build_app", "launch_kwargs"]
