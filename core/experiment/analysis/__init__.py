"""What single-symbol and vocabulary results share: the numbers and how they are judged.

Owns: the one schema of every metric a run reports, the one way it is read from one symbol of a
member (a ``SymbolRecord``, whether the member trained one symbol or a vocabulary) and the two axes
a comparison is judged on (``results``), means, spreads and intervals over seeds (``stats``), the
verdict of a comparison on both axes (``verdict``) and strategies ranked across symbols, per axis
(``aggregate``). No torch.
"""
