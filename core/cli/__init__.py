"""``python -m core``: the command line.

Owns: the parser and entry point (``main``), what every command shares (``common``), and one
module per group of commands (``init``, ``train``, ``runs``, ``vocab`` and its ``vocab_draft``, …),
each with ``register(subparsers)``.

May import: every other room of ``core``; nothing imports it but ``core.__main__``.
"""
