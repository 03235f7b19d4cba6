"""Experiments built from the rooms below, in three parts.

    single/      one symbol: its initialization end to end, its evaluation, one member of a
                 comparison, and comparisons of strategies × seeds over one or several symbols
    vocabulary/  many symbols as tokens of one model: loading and checking a vocabulary,
                 initializing, evaluating, running and comparing it
    analysis/    what both report: the one results schema, statistics over seeds, the verdict,
                 the aggregation across symbols

Owns: ``single``, ``vocabulary``, ``analysis``.

May import: ``core.spec``, ``core.model``, ``core.embedding``, ``core.authoring``, ``core.train``.
"""
