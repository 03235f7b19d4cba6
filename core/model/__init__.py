"""Base models and their vocabulary.

Owns: loading a base model (the embedded GGUF default, a hub id, a folder, the tiny test model)
(``loading``, ``tiny``), adding the new token and writing its rows (``tokens``), saving a model
with its token (``save``).

May import: ``core.spec``, ``core.atomic``, torch and transformers.
"""
