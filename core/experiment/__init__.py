"""Experiments built from the rooms below.

Owns: one initialization end to end (``pipeline``), its evaluation (``evaluate``), comparisons of
strategies × seeds (``compare``), vocabularies of many symbols loaded, initialized, evaluated and
run together (``vocabulary``, ``vocab_init``, ``vocab_eval``, ``vocab_run``) with their sparse
confusion matrix (``confusion``), and the one schema of every metric a run or a comparison
reports (``results``).

May import: ``core.spec``, ``core.model``, ``core.embedding``, ``core.train``.
"""
