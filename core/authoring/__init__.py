"""Writing gloss specs: the Bliss lexicon and drafting specs from raw material.

Owns: the open Bliss lexicon shipped under ``data/`` (loading with ``datasets``, gloss parsing,
lookup and search, statistics against a tokenizer: ``lexicon``, ``glosses``), and drafting a spec
from sentences, negatives, a corpus or the loaded model (``draft``): where material comes from
(``sources``, ``templates``), cutting sentences (``sentences``) into the report's rows (``items``),
screening by the model (``screen``), why too little was left and what would help (``diagnose``)
and a seeded split (``split``); drafting many lexicon symbols in fixed batches (``many``) into a
file that grows symbol by symbol and resumes after a crash (``many_store``), the batches run as
members of a backend, e.g. Ray tasks (``many_members``).

May import: ``core.spec``, ``core.model``, ``core.embedding``, torch, datasets.
"""
