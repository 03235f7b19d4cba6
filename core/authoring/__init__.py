"""Writing gloss specs: the Bliss lexicon and drafting specs from raw material.

Owns: the open Bliss lexicon shipped under ``data/`` (loading with ``datasets``, gloss parsing,
lookup and search, statistics against a tokenizer: ``lexicon``), and drafting a spec from
sentences, negatives, a corpus or the loaded model, screening by the model and a seeded split
(``draft`` and the modules beside it).

May import: ``core.spec``, ``core.model``, ``core.embedding``, torch, datasets.
"""
