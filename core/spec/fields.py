"""A gloss spec's fields: their help, the order a person fills them in, which are lists, optional,
contexts or sentences, and each one's limits for the page's counters.

``core.spec.gloss`` builds and checks specs from these; the page reads them through the service.
"""

from __future__ import annotations

from core.spec import limits

# Per-field help, shown in the page and by the CLI.
FIELD_HELP: dict[str, str] = {
    "symbol_id": "The Bliss symbol's ID, e.g. 29111.",
    "glosses": "One or more synonymous English glosses, e.g. 'wool shop' and 'yarn shop'.",
    "new_token": "The vocabulary entry that will stand for the symbol; default [BLISS_<id>].",
    "target_tokens": "Single words whose next-token logit signals that the gloss comes next "
    "(measured with a leading space), e.g. wool, yarn.",
    "positive_contexts": "Partial sentences after which the gloss is a likely continuation.",
    "negative_contexts": "Partial sentences after which the gloss is unlikely.",
    "validation_contexts": "Positive contexts held out to pick the best epoch of the input optimization.",
    "testing_positive_contexts": "Positive contexts held out from everything, for evaluation only.",
    "testing_negative_contexts": "Negative contexts held out from everything, for evaluation only.",
    "fine_tuning_sentences": "Full sentences that use the new token, for QLoRA fine-tuning.",
    "validation_sentences": "Full sentences with the new token, held out to choose the best step.",
    "generation_prompts": "Prompts with {placeholder}, filled once with the gloss and once with the token.",
    "notes": "Free text: where the data came from, what the symbol means.",
    "description": "Optional: what the symbol means, in words (the Bliss lexicon's explanation).",
}

LIST_FIELDS = tuple(limits.COUNTS)
# Every field in the order a person fills them in (the page's order).
SPEC_FIELDS = (
    "symbol_id", "glosses", "new_token", "target_tokens",
    "positive_contexts", "negative_contexts", "validation_contexts",
    "testing_positive_contexts", "testing_negative_contexts",
    "fine_tuning_sentences", "validation_sentences", "generation_prompts", "notes", "description",
)
OPTIONAL_FIELDS = ("new_token", "notes", "description")
CONTEXT_FIELDS = (
    "positive_contexts",
    "negative_contexts",
    "validation_contexts",
    "testing_positive_contexts",
    "testing_negative_contexts",
)
SENTENCE_FIELDS = ("fine_tuning_sentences", "validation_sentences")


def field_limits(names: tuple[str, ...]) -> dict[str, dict]:
    """Per spec field: item counts (lists), characters per item, and its help, for the page's counters."""
    chars = {"symbol_id": limits.SYMBOL_ID_CHARS, "new_token": limits.TOKEN_NAME_CHARS, "notes": limits.NOTES_CHARS,
             "glosses": limits.GLOSS_CHARS, "description": limits.DESCRIPTION_CHARS}
    out = {}
    for name in names:
        lo, hi = limits.COUNTS.get(name, (None, None))
        out[name] = {"min": lo, "max": hi, "chars": chars.get(name, limits.TEXT_CHARS), "help": FIELD_HELP[name]}
    return out
