"""What a user types or loads, and what is wrong with it.

Owns: ``GlossSpec`` and its validation (``gloss``; its fields' help, order, kinds and limits:
``fields``; token names found in its text: ``token_names``), every limit on user input (``limits``), the errors a user can act on
(``errors``), and the declaration of settings: each config field's default, range, label and help
in one place (``settings``).

May import: the standard library only (and ``core.atomic``). Every other room imports this one.
"""
