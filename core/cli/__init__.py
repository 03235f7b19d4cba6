"""``python -m core``: the command line.

Owns: the parser and entry point (``main``), what every command shares (``common``), and one
module per group of commands, each with ``register(subparsers)``: ``init``, ``train`` (finetune and
compare), ``vocab`` and its ``vocab_draft``, ``draft``, ``lexicon``, ``runs`` and ``settings``.

May import: every other room of ``core``; nothing imports it but ``core.__main__``.
"""
