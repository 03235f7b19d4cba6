"""Many symbols as tokens of one model.

Owns: reading and checking a vocabulary (a folder, JSONL, a ``datasets`` folder, the built-ins;
``load``), initializing every token in one model with one pass (``init``), evaluating every symbol
and the confusion between them (``evaluate``), a whole run: initialize, evaluate, fine-tune
together, evaluate, and that run as a backend runs it (``run``), and comparing strategies on a
vocabulary, its members on the caller's backend (``compare``).
"""
