"""Base models and their vocabulary.

Owns: loading a base model (the embedded GGUF default, a hub id, a folder, the tiny test model)
(``loading``, ``tiny``), the process's one base model loaded in the background (``slot``), adding
the new token and writing its rows (``tokens``), saving a model with its token (``save``), and
what the hardware multiplies fast, float32 or bfloat16 (``hardware``).

May import: ``core.spec``, ``core.atomic``, torch and transformers.
"""
