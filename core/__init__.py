"""Gloss Lab engine: gloss specs, models, embedding strategies, fine-tuning, evaluation, runs.

Rooms by role, each import pointing down (a room's ``__init__`` says what it owns and may import):

    spec/        what a user types or loads: GlossSpec, limits, errors, settings
    model/       base models, the new token, saving, what the hardware multiplies fast
    embedding/   contexts, the output row by least squares, input strategies (one module each)
    authoring/   the Bliss lexicon; drafting specs from sentences, corpora or the model
    train/       QLoRA, fine-tuning with the Trainer, the event log
    experiment/  single/ one symbol, vocabulary/ many symbols, analysis/ the results schema and verdict
    report/      tables, Markdown and HTML reports: one escaper, one palette
    execution/   running members in worker processes or on Ray
    runs/        jobs, the run store, submitting work, progress, exports
    service/     the page's single door into the engine, composed of parts
    cli/         ``python -m core``
    atomic.py    writing files and folders atomically
    quiet.py     quieting libraries' progress bars and warnings
    jsonsafe.py  values made safe for strict JSON, and the one test of a real number

Nothing in this package imports gradio; the web UI in ``glossui`` only builds configs from
widget values, starts jobs and renders what they report.
"""
