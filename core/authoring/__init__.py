"""Writing gloss specs: the Bliss lexicon and drafting specs from raw material.

Owns: the open Bliss lexicon shipped under ``data/`` (loading with ``datasets``, lookup and search,
statistics against a tokenizer: ``lexicon``; its glosses parsed: ``glosses``), and drafting a spec
(``draft``) from sentences found and cut (``sentences``), corpora, pasted answers or the loaded
model (``sources``), prompts by part of speech (``templates``), screened by the model (``screen``)
and split with a seed (``split``).

May import: ``core.spec``, ``core.model``, ``core.embedding``, torch, datasets.
"""
