"""The new token's starting rows.

Owns: contextual hidden states and next-token logits (``contexts``), the output row by least
squares (``output``), the input strategies, one module each, behind one registry and entry point
(``strategies``), the contextual optimization (``optimize``; batched across symbols in
``optimize_many``), the precision of the passes (``precision``), a vocabulary's contrast
negatives sampled per symbol (``contrast``), the field's heuristic rows: AdaptiVocab,
interpolation, description (``field_rows``), Token Distillation's snippets (``snippets``) and
training (``distill``, one symbol or many), and the held-out hidden-state measure of any input
row (``hidden``).

May import: ``core.spec``, ``core.model``, torch.
"""
