"""Every limit on user input, in one place. Validation enforces these; the page shows them."""

from __future__ import annotations

# Gloss spec: counts per list (minimum, maximum).
COUNTS: dict[str, tuple[int, int]] = {
    "glosses": (1, 8),
    "target_tokens": (1, 16),
    "positive_contexts": (3, 500),
    "negative_contexts": (1, 500),
    "validation_contexts": (1, 200),
    "testing_positive_contexts": (1, 200),
    "testing_negative_contexts": (1, 200),
    "fine_tuning_sentences": (2, 2000),
    "validation_sentences": (1, 500),
    "generation_prompts": (1, 50),
}

# Characters per item, by field (anything not listed uses TEXT_CHARS).
TEXT_CHARS = 400
GLOSS_CHARS = 80
SYMBOL_ID_CHARS = 12
TOKEN_NAME_CHARS = 40
NOTES_CHARS = 4000
DESCRIPTION_CHARS = 400           # what the symbol means, in words (the Bliss lexicon's explanation)

# Tokens per item, measured with the model's tokenizer.
GLOSS_TOKENS = 12
CONTEXT_TOKENS = 96
SENTENCE_TOKENS = 160

# A whole spec file (upload or CLI argument).
SPEC_FILE_BYTES = 2_000_000

# A vocabulary (many specs initialized, fine-tuned and evaluated together).
VOCAB_SYMBOLS = (1, 6_420)        # symbols in one vocabulary: the whole Bliss lexicon (data/bliss)
VOCAB_FILE_BYTES = 200_000_000    # a JSONL file or a folder of spec files, all together
VOCAB_FINE_TUNING_SENTENCES = 100_000  # fine-tuning sentences of all symbols together
CONTRAST_NEGATIVES = (0, 100_000)  # other symbols' positives drawn as one symbol's negatives (0 = all)
CONFUSION_TOP_K = 5              # per token and per symbol, the closest confusions a result keeps
CONFUSION_CONTEXTS_AT_ONCE = 256  # testing contexts ranked at once for the confusion (memory: this × vocabulary)

# Drafting a spec from raw material (core/authoring).
DRAFT_RANK = (1, 10_000_000)      # screening thresholds: a rank among all next-token candidates
DRAFT_CONTEXT_CHARS = (0, 400)    # shortest positive context kept (the research dropped those under 40)
DRAFT_LINES = 5_000               # sentences or negatives given at once (pasted, a file, sampled)
DRAFT_GENERATE = (0, 500)         # candidate sentences sampled from the loaded model
DRAFT_CORPUS_SENTENCES = (1, 5_000)  # sentences mined from a corpus
CORPUS_BYTES = 200_000_000        # a corpus text file
VOCAB_DRAFT_BATCH = (1, 64)       # symbols drafted together (one sampling batch) when many are drafted
VOCAB_DRAFT_NEGATIVES = (0, 200)  # negatives per symbol taken from the other symbols' sentences
VOCAB_DRAFT_LIMIT = (1, 100_000)  # symbols drafted in one run (--limit)

# Generation.
GENERATION_MAX_NEW_TOKENS = (1, 200)

# Hyperparameters: inclusive (low, high) ranges; a learning rate must also be > 0.
LEARNING_RATE = (1e-7, 1.0)
EPOCHS = (1, 200)
OPTIMIZER_EPOCHS = (1, 2000)
BATCH_SIZE = (1, 256)
GRAD_ACCUM = (1, 64)
LORA_RANK = (1, 256)
LORA_ALPHA = (1, 1024)
DROPOUT = (0.0, 0.9)
WARMUP_RATIO = (0.0, 0.5)
WEIGHT_DECAY = (0.0, 1.0)
SEEDS = (1, 10)
WORKERS = (0, 16)  # members of a comparison trained at once (0 = automatic)
RAY_CPUS = (1, 256)  # CPU cores one member's Ray task asks for
RAY_GPUS = (0.0, 8.0)  # GPUs one member's Ray task asks for (a fraction shares a GPU)
RAY_WORKERS = (1, 256)  # data-parallel Ray Train workers of a vocabulary's fine-tuning
COMPARE_SYMBOLS = (1, 20)  # symbols in one comparison
LEAK_RANK = (1, 100_000)  # the rank at or above which a token counts as predicted where it does not belong
SEED_VALUE = (0, 2**31 - 1)
MAX_GRAD_NORM = (1e-3, 1000.0)
NEGATIVE_LOGIT = (-100.0, 100.0)  # the output row's target logit after a negative context
PATIENCE = (0, 1000)      # evaluations without improvement before training stops (0 = off)
EVAL_EVERY = (1, 1000)     # optimizer steps between validation losses
PAD_TO_LENGTH = (0, 1024)  # 0 = dynamic padding
CHECKPOINT_STEPS = (0, 1_000_000)  # optimizer steps between checkpoints (0 = by time only)
CHECKPOINT_MINUTES = (0.0, 10_080.0)  # minutes between checkpoints (0 = by steps only; at most a week)

# Token Distillation (core/embedding/distill) and the held-out hidden-state measure (core/embedding/hidden).
DISTILL_SNIPPETS = (1, 1000)        # snippets the model generates per symbol (besides its fine-tuning sentences)
DISTILL_LENGTH = (3, 512)           # tokens of a generated snippet, beginning of sequence and gloss included
DISTILL_LAYER = (-256, 256)         # hidden_states index; negative counts from the end; 0 and beyond the depth refused
DISTILL_LEARNING_RATE = LEARNING_RATE
DISTILL_EPOCHS = (1, 100)
DISTILL_BATCH_SIZE = BATCH_SIZE     # snippets per optimizer step
DISTILL_WINDOW = (1, 256)           # optimizer steps whose student passes run together (1 = the published loop)
HIDDEN_MSE_SNIPPETS = (1, 1000)     # held-out snippets the hidden-state measure generates per symbol

# Fraction of this machine's memory a model may need (estimated before loading).
MODEL_MEMORY_FRACTION = 0.6

# The Bliss lexicon (core/authoring/lexicon): a search's words and how many matches it returns.
LEXICON_QUERY_CHARS = 200
LEXICON_RESULTS = (1, 200)


def describe() -> list[tuple[str, str]]:
    """Human-readable limits for the page and the README: (what, limit)."""
    rows = [(name.replace("_", " "), f"{lo} to {hi} items") for name, (lo, hi) in COUNTS.items()]
    rows += [
        ("characters per gloss", str(GLOSS_CHARS)),
        ("characters per sentence or context", str(TEXT_CHARS)),
        ("characters in the new token", str(TOKEN_NAME_CHARS)),
        ("characters in the description", str(DESCRIPTION_CHARS)),
        ("tokens per gloss", str(GLOSS_TOKENS)),
        ("tokens per context", str(CONTEXT_TOKENS)),
        ("tokens per sentence", str(SENTENCE_TOKENS)),
        ("spec file size", f"{SPEC_FILE_BYTES // 1000} kB"),
        ("symbols in a vocabulary", f"{VOCAB_SYMBOLS[0]} to {VOCAB_SYMBOLS[1]:,}"),
        ("fine-tuning sentences in a vocabulary", f"{VOCAB_FINE_TUNING_SENTENCES:,}"),
        ("vocabulary files, all together", f"{VOCAB_FILE_BYTES // 1_000_000} MB"),
        ("sentences or negatives given at once for drafting", f"{DRAFT_LINES:,}"),
        ("sentences sampled from the model for drafting", f"{DRAFT_GENERATE[0]} to {DRAFT_GENERATE[1]}"),
        ("sentences mined from a corpus", f"{DRAFT_CORPUS_SENTENCES[0]} to {DRAFT_CORPUS_SENTENCES[1]:,}"),
        ("corpus text file size", f"{CORPUS_BYTES // 1_000_000} MB"),
    ]
    return rows
