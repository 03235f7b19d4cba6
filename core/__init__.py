"""Gloss Lab engine: gloss specs, models, embedding strategies, fine-tuning, evaluation, runs.

Rooms by role, each import pointing down (a room's ``__init__`` says what it owns and may import):

    spec/        what a user types or loads: GlossSpec, limits, errors, settings
    model/       base models, the new token, saving
    embedding/   contexts, the output row by least squares, input strategies, optimization
    train/       QLoRA, fine-tuning with the Trainer, the event log
    experiment/  one initialization end to end, evaluation, comparisons, the results schema
    runs/        jobs, the run store, submitting work, progress, exports
    cli/         ``python -m core``
    service.py   the page's single door into the engine
    atomic.py    writing files and folders atomically
    quiet.py     quieting libraries' progress bars and warnings
    jsonsafe.py  values made safe for strict JSON

Nothing in this package imports gradio; the web UI in ``glossui`` only builds configs from
widget values, starts jobs and renders what they report.
"""
