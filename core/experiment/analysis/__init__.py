"""What single-symbol and vocabulary results share: the numbers and how they are judged.

Owns: the one schema of every metric a run reports and how it is read from a member (``results``),
means, spreads and intervals over seeds (``stats``), the verdict of a comparison (``verdict``) and
strategies ranked across symbols (``aggregate``). No torch.
"""
