"""Every string the page shows, in one place (labels, help, messages)."""

from __future__ import annotations

TITLE = "Gloss Lab"
INTRO = (
    "Give a Blissymbolics symbol its own token in a language model: describe the symbol's gloss, "
    "initialize the new token's embeddings with one of several strategies, fine-tune with QLoRA, "
    "and compare the strategies."
)

# Tabs, in page order.
TAB_GLOSS = "1. Gloss"
TAB_MODEL = "2. Model"
TAB_INIT = "3. Initialize"
TAB_TRAIN = "4. Train"
TAB_COMPARE = "5. Compare"
TAB_VOCAB = "6. Vocabulary"
TAB_GENERATE = "7. Generate"
TAB_RUNS = "8. Runs"
TAB_EXPORT = "9. Export"

# -- Gloss tab -------------------------------------------------------------------------------
GLOSS_HEAD = ("Describe the symbol. Lists take **one item per line**; the counter under each field "
              "shows how many items it has and how many it needs.")
EXAMPLE_LABEL = "Start from"
EXAMPLE_INFO = "A built-in example, or a blank spec."
BLANK = "(blank)"
LOAD_EXAMPLE = "Load"
UPLOAD_LABEL = "Upload a spec (JSON)"
CHECK_SPEC = "Check the spec"
DOWNLOAD_SPEC = "Save the spec as JSON"
DOWNLOAD_LABEL = "Spec file to download"
LIMITS_TITLE = "Limits"
LIMITS_HEAD = ["What", "Limit"]
SPEC_OK = "The spec is valid{model}."
SPEC_OK_MODEL = " for {name}"
SPEC_LOADED = "Loaded {what}."
SPEC_PROBLEMS = "Please fix {n} problem{s}:"
NO_FILE = "No file was uploaded."
# The Bliss symbol box (glossui/bliss_box.py).
BLISS_LABEL = "Bliss symbol"
BLISS_INFO = "A BCI-AV ID (e.g. 16228) or words of a gloss (e.g. post office), from the open Bliss lexicon."
BLISS_PLACEHOLDER = "16228 or post office"
BLISS_LOOKUP = "Look up"
BLISS_MATCHES = "Matches, best first"
BLISS_MATCHES_INFO = "Pick one to fill the spec's symbol fields."
BLISS_MATCH = "{id} · {gloss} ({pos})"
BLISS_FOUND = ("Filled the symbol ID, glosses, new token, target tokens, notes and description from Bliss symbol {id} "
               "({gloss}); the context and sentence lists are unchanged.")
BLISS_TARGETS = "Proposed target tokens for {model}: {targets}."
BLISS_NO_TARGETS = "none"
BLISS_WITHOUT = "Glosses whose first word is not a single token (no target): {glosses}."
BLISS_NO_MODEL = "No model is loaded, so no target tokens were proposed (the target list is unchanged)."
BLISS_CUT = "Left out by the spec's limits: {items}."
BLISS_N_MATCHES = "{n} match{es} for {query}, best first: pick one below."
BLISS_NONE = "No symbol's gloss or explanation matches {query}; try fewer or shorter words."

FIELD_LABELS = {
    "symbol_id": "Symbol ID",
    "glosses": "Gloss or glosses",
    "new_token": "New token",
    "target_tokens": "Target tokens",
    "positive_contexts": "Positive contexts",
    "negative_contexts": "Negative contexts",
    "validation_contexts": "Validation contexts",
    "testing_positive_contexts": "Testing contexts: positive",
    "testing_negative_contexts": "Testing contexts: negative",
    "fine_tuning_sentences": "Fine-tuning sentences",
    "validation_sentences": "Validation sentences",
    "generation_prompts": "Generation prompts",
    "notes": "Notes",
    "description": "Description (what the symbol means)",
}
COUNT_LIST = "{n} item{s} (needs {lo} to {hi}, up to {chars} characters each). {help}"
COUNT_TEXT = "{n} of {chars} characters. {help}"

# -- Model tab -------------------------------------------------------------------------------
MODEL_HEAD = ("The embedded default model is loaded when the app starts. To use another, give a "
              "Hugging Face id (e.g. HuggingFaceTB/SmolLM2-360M-Instruct) or a local folder saved "
              "with `save_pretrained` (safetensors). It is checked (found? a causal language model? "
              "small enough for this machine's memory?) before it is loaded.")
MODEL_LABEL = "Model (Hugging Face id or local folder)"
MODEL_PLACEHOLDER = "empty = the default model"
MODEL_LOAD = "Load the model"
MODEL_STATES = {
    "idle": "No model is loaded yet.",
    "loading": "Loading: {message}",
    "ready": "Ready: {name}.",
    "failed": "Could not load the model.",
}
MODEL_KEPT = "The model loaded before, {name}, is still in use."
MODEL_INFO_HEAD = ["Property", "Value"]
MODEL_INFO_LABEL = "The loaded model"
MODEL_PROGRESS = "Model loading progress"

# -- Initialize tab --------------------------------------------------------------------------
INIT_HEAD = ("Choose how the new token's **input** embedding starts; its **output** embedding is "
             "calculated by least squares from the contexts (except for *random input and output*). "
             "Then see how the model ranks the new token on the held-out testing contexts.")
STRATEGY_SETTINGS = "{title} (strategy: {name})"
OUTPUT_CALCULATED = "Output row: calculated by least squares."
OUTPUT_DRAWN = "Output row: drawn at random too."
INIT_RUN = "Initialize"
INIT_RUNNING = "Initializing with {strategy}…"
INIT_DONE = "Initialized {token} (id {token_id}) with **{strategy}** in {seconds:.1f} s."
INIT_WARNING = "**Warning:** {warning}."
INIT_NOTHING = "Run an initialization to see its results here."
INIT_STARTING = "Checking the spec and copying the base model"
INIT_AGAIN = "Shown again after the reload:"
STRATEGIES_TITLE = "Every strategy"
STRATEGIES_HEAD = ["Name", "Strategy", "How the input row starts", "Output row"]
RANK_TABLE_LABEL = "Rank of the new token and the target tokens on the testing contexts (1 = top)"
NEAREST_LABEL = "Nearest existing tokens to the new token's rows (cosine similarity)"
INIT_GEN_LABEL = "Generations before fine-tuning"
FIT_LABEL = "Output embedding fit and the new rows"
INIT_QUALITY_LABEL = "Test quality before fine-tuning"
OPT_PLOT_LABEL = "Input optimization: loss per epoch"

# -- Train tab -------------------------------------------------------------------------------
TRAIN_HEAD = ("Fine-tune with QLoRA, starting from the strategy and settings chosen in **Initialize**. "
              "The defaults are the research's. Training runs in the background: you can keep using "
              "the page, reload it, or queue more jobs.")
TRAIN_START = "Start training"
TRAIN_STOP = "Stop"
TRAIN_STRATEGY = "Initialization used: **{strategy}** (change it in Initialize)."
LOG_SCALE = "Logarithmic loss axis"
LOSS_PLOT_LABEL = "Training and validation loss"
TRAIN_RESULT = "Result of the run"
EVENTS_LABEL = "Loss by step (the chart's data)"
EVENTS_HEAD = ["Step", "Epoch", "Training loss", "Validation loss", "Learning rate", "Elapsed (s)"]
PROGRESS_LABEL = "Job progress"
JOB_NONE = "No job yet. Start one above."
JOB_QUEUED = "Job {id} is queued: {ahead} job{s} ahead of it. It starts when they finish."
JOB_RUNNING = ("Job {id} is running: epoch {epoch} of {epochs}, step {step} of {steps}, about {eta} of training "
               "left (then the evaluation after fine-tuning).")
JOB_STARTING = "Job {id} is starting…"
JOB_PHASE = "Job {id} is running: {doing}."
JOB_FIRST_STEP = "Fine-tuning: the validation loss before the first step"
JOB_PREPARING = "preparing the members"
COMPARE_RUNNING = "Job {id} is running: {done} of {total} member{s} done{left}. Now: {doing}."
JOB_LEFT = ", about {eta} left"
PROGRESS_UNKNOWN = "in progress"
RESTORED_SAME = "After the reload, the settings on this page are those job {id} was started with."
RESTORED_OWN = ("After the reload, this tab's own settings are those job {id} was started with; the Initialize and "
                "Train settings are those of job {first} ({title}), the running or latest job.")
RESTORED_OTHER = ("After the reload, the settings on this page are those of job {first} ({title}), the running or "
                  "latest job, not those of job {id} shown here. Start uses the settings shown.")
JOB_STOPPING = "Job {id} is stopping at the next optimizer step…"
JOB_DONE_UNTRAINED = "Job {id} finished (no fine-tuning)."
JOB_DONE = "Job {id} finished. Best step {best_step} (epoch {best_epoch}), validation loss {best_loss}."
COMPARE_DONE = "Job {id} finished. Lowest validation loss: {best_loss}, with {strategy} (epoch {best_epoch})."
JOB_STOPPED = "Job {id} was stopped; what it had is kept in its run."
JOB_FAILED = "Job {id} failed: {error}"
JOB_INTERRUPTED = "Job {id} was interrupted (the app stopped while it ran)."
STOP_SENT = "Asked job {id} to stop at the next optimizer step."
NOTHING_TO_STOP = "There is no running or queued job to stop."

# -- Compare tab -----------------------------------------------------------------------------
COMPARE_HEAD = ("Run several strategies from the same base model, spec and hyperparameters (those of "
                "the **Train** tab), once per seed, and compare them the way the research table does, "
                "with numbers for test quality.")
VERDICT = "**Verdict.** {sentence}"
COMPARE_PRESET = "Pick a set"
COMPARE_PRESET_INFO = ("The research's five strategies (the default), those five with the field's four (Token "
                       "Distillation, AdaptiVocab, description, interpolation), or every strategy; then tick or untick "
                       "any of them below.")
COMPARE_PRESETS = [("The research's five", "research"), ("With the field's four", "field"), ("Every strategy", "all")]
AXES_LABEL = ("Its two axes: **fit** (the validation loss) and **meaning** (does the token come up where its gloss "
              "belongs, and stay away elsewhere?), each number with its 95 % interval over seeds in brackets:")
COMPARE_ALSO = "Also compare on these built-in symbols"
COMPARE_ALSO_INFO = ("The spec of the Gloss tab is always compared (its symbol is not listed here); each symbol added "
                     "here is one more data point, and the strategies are ranked across symbols.")
WHERE_TITLE = "Where to run"
WHERE_HELP = (
    "**Running on Ray.** Without Ray nothing changes: the members run in this app's process, or side by side in "
    "its worker processes (*Members at once*), and Ray is neither imported nor started. With *Run members on* = "
    "`ray`, each member (strategy × seed × symbol) is one Ray task asking for *CPUs per member* cores and *GPUs "
    "per member* GPUs; as many run at once as there is room for.\n\n"
    "- **This machine:** leave *Ray address* empty: a local Ray instance sized to this machine (every core, every "
    "GPU) starts on first use and is kept while the app runs.\n"
    "- **A cluster:** on the head run `ray start --head --port 6379`, on each other node `ray start --address "
    "HEAD:6379`, then give `HEAD:6379` as *Ray address* (or set `GLOSSLAB_RAY_ADDRESS`); an address implies "
    "`ray`. Every node needs the same Python, Ray and Gloss Lab requirements (`make install`).\n"
    "- **Several GPUs:** *GPUs per member* 1 gives each member its own GPU; 0.5 lets two members share one.\n\n"
    "The chart follows Ray members as it follows local ones, and Stop reaches every task at its next optimizer "
    "step. A member whose worker dies twice is left out and listed in the result; an address where nothing "
    "answers, or a cluster without room for one member, is refused before the run starts.")
ESTIMATE_WAIT = "The estimated time appears here once the spec and the settings are complete."
ESTIMATE_MEASURE = "Measure the time"
ESTIMATE_MEASURING = "Measuring a training step, generation and quantization on this machine…"
ESTIMATE_NONE = ("No run of this model is stored on this machine yet, so there is no time to estimate from. "
                 "**Measure the time** runs a short measurement (a minute or two; slower while another job runs).")
ESTIMATE_FIX = "The estimated time appears once the spec and the settings have no problems (Start lists them)."
ESTIMATE_RUNS = ("**Estimated time: about {time}** for {members} member{s} (about {each} each{side}){at_most}, "
                 "from {runs} stored run{rs} of this model on this machine.")
ESTIMATE_PROBE = ("**Estimated time: about {time}** for {members} member{s} (about {each} each{side}){at_most}, "
                  "from a short measurement on this machine (no run of this model is stored yet).")
ESTIMATE_SIDE = ", {n} side by side"
ESTIMATE_AT_MOST = "; at most: early stopping may end it sooner"
ACROSS_LABEL = ("Across symbols, on each axis (rank 1 = best on that symbol; a win, tie or loss is that symbol's "
                "verdict)")
COMPARE_START = "Start the comparison"
COMPARE_PLOT_LABEL = "Validation loss of every strategy"
COMPARE_TABLE_LABEL = "Results"
COMPARE_DATA_LABEL = "Validation loss by step (the chart's data)"
COMPARE_DOWNLOADS = "Download the results"
COMPARE_NONE = "No comparison yet."

# -- Vocabulary tab --------------------------------------------------------------------------
VOCAB_HEAD = ("Add many symbols to one model at once: every token in one resize, the output rows fitted "
              "together, then (with **Fine-tune**) one QLoRA run that trains every new token. The strategy is "
              "chosen here; the fine-tuning settings are those of the **Train** tab.")
VOCAB_BUILTINS = "Built-in symbols"
VOCAB_BUILTINS_INFO = "Tick the built-in specs to include; uploaded specs are added to them."
VOCAB_UPLOAD = "Upload specs: a JSONL file (one spec a line), a zip of spec files, or several spec .json files"
VOCAB_CONTRAST = "Contrast the symbols"
VOCAB_CONTRAST_INFO = ("Add the other symbols' positive contexts to each symbol's negatives, so that the output "
                       "rows learn to tell the symbols apart.")
VOCAB_INIT_ONLY = "Initialize only"
VOCAB_FINETUNE = "Fine-tune"
VOCAB_CHECKED = "Vocabulary of {n} symbol{s}, all checked: {tokens}."
VOCAB_EMPTY = "Tick built-in symbols or upload spec files to make a vocabulary."
VOCAB_NONE = "No vocabulary job yet."
VOCAB_PLOT_LABEL = "Training loss and validation loss, overall and per symbol"
VOCAB_TABLE_LABEL = "Every symbol: its numbers before → after fine-tuning"
VOCAB_TABLE_INIT = "Every symbol: its numbers after initialization (no fine-tuning)"
VOCAB_STRATEGY_INFO = "How every symbol's input row starts; the output rows are fitted together."
VOCAB_RESTORED_FILES = ("Job {id} also used uploaded files ({files}); the page does not keep uploads: upload them "
                        "again to run it again.")
VOCAB_TABLE_HEAD = ["Token", "Gloss", "MRR on positives", "Median rank on positives", "Median rank on negatives",
                    "Validation loss at the best step"]
VOCAB_HEAT_AFTER = "Which token comes up where, after fine-tuning (median rank; 1 = top)"
VOCAB_HEAT_BEFORE = "Which token comes up where, before fine-tuning (median rank; 1 = top)"
VOCAB_HEAT = "Which token comes up where (median rank; 1 = top)"
VOCAB_EXPORT = "Download the adapter (every token)"
VOCAB_EXPORT_NONE = "Only a finished fine-tuning has an adapter to download: run **Fine-tune** first."
VOCAB_RUN_SUMMARY = "{n} symbol{s}: {tokens}. Strategy {strategy}{contrast}; {trained}."
# -- Vocabulary tab: drafting from the lexicon --------------------------------------------------
LEXDRAFT_TITLE = "Draft from the lexicon"
LEXDRAFT_HEAD = ("Draft one spec per Bliss symbol with no sentence written by hand, as `python -m core vocab draft` "
                 "does: the loaded model writes sentences that use each gloss, the lexicon's explanation and the "
                 "part of speech's templates add more, other symbols' sentences and generic text give negatives; "
                 "every context is screened on the model and each symbol's material split with the seed. When it "
                 "is done, the drafted symbols become this tab's vocabulary: press **Initialize only** or "
                 "**Fine-tune** below.")
LEXDRAFT_WHICH = "Which symbols"
LEXDRAFT_WHICH_CHOICES = [("By BCI-AV ID", "ids"), ("Multi-token glosses", "multi-token"),
                          ("Single-token glosses", "single-token"), ("All of the lexicon", "all")]
LEXDRAFT_WHICH_INFO = ("IDs you give, or a part of the lexicon for the loaded model's tokenizer: symbols whose "
                       "glosses are all several tokens, symbols with a one-token gloss, or every symbol.")
LEXDRAFT_IDS = "BCI-AV IDs"
LEXDRAFT_IDS_INFO = ("Separated by commas, spaces or lines, e.g. 16228, 29111. Used when *Which symbols* is "
                     "By BCI-AV ID; an ID the lexicon does not have is named and left out.")
LEXDRAFT_POS = "Part of speech"
LEXDRAFT_POS_ANY = "any"
LEXDRAFT_POS_INFO = "Only symbols of this part of speech (any: all of them)."
LEXDRAFT_LIMIT = "How many symbols"
LEXDRAFT_LIMIT_INFO = "Only the first N of the selection, IDs included (blank: all of it)."
LEXDRAFT_MORE = "More drafting settings"
LEXDRAFT_RUN = "Draft"
LEXDRAFT_RESUME = "Resume the draft"
LEXDRAFT_NONE = "No draft yet."
LEXDRAFT_UNKNOWN = "Not in the lexicon, left out: {ids}."
LEXDRAFT_SUMMARY = ("Drafted {drafted} of {symbols} symbol{s}{handled}{pace}. {check}")
LEXDRAFT_HANDLED = " ({handled} handled before the stop)"
LEXDRAFT_PACE = " in {seconds} s ({per} s a symbol)"
LEXDRAFT_LOADS = "They load as a vocabulary and are now this tab's vocabulary (below): press **Initialize only** or **Fine-tune**."
LEXDRAFT_LOADS_NOT = "They do not load as a vocabulary yet: {problems}"
LEXDRAFT_NOTHING = "No symbol was drafted: the table says why for each."
LEXDRAFT_RESUMABLE = "**Resume the draft** continues it in its own run: what was written stays, the rest is drafted."
LEXDRAFT_TABLE = "Symbols not drafted, with the reason"
LEXDRAFT_TABLE_HEAD = ["BCI-AV ID", "Gloss", "Why not"]
LEXDRAFT_FILES = "Download: the drafted vocabulary (JSONL, one spec a line) and the report of every symbol"
LEXDRAFT_DONE = "Job {id} finished: {drafted} of {symbols} symbol{s} drafted."
LEXDRAFT_STOPPING = "Job {id} is stopping once the symbols it is drafting now are written…"
LEXDRAFT_STOPPED = "Job {id} was stopped after {handled} of {symbols} symbols ({drafted} drafted); what it wrote is kept."
LEXDRAFT_LABELS = {"which": LEXDRAFT_WHICH, "ids": LEXDRAFT_IDS, "lexicon": LEXDRAFT_WHICH, "pos": LEXDRAFT_POS,
                   "limit": LEXDRAFT_LIMIT}
RESTORED_ALONE = "After the reload, this panel shows job {id} with the settings it was started with."

LEXICON_TITLE = "Lexicon report"
LEXICON_HEAD = ("### Lexicon report: {n} symbol{s}\nA symbol's token is *found* when its median rank on the "
                "symbol's own testing contexts is {good} or better; it is *confused* when another symbol's token "
                "ranks better there.")
LEXICON_WORST = "The worst {n} (by the median rank {judged} fine-tuning), with the reasons"
LEXICON_WORST_HEAD = ["Token", "Gloss", "Median rank", "Why"]
LEXICON_HISTOGRAM = "Each token's median rank on its own contexts: how many symbols in each band"
LEXICON_FILES = "The lexicon report: lexicon.md, lexicon.html (with the histogram) and symbols.csv (every symbol)"

# -- Generate tab ----------------------------------------------------------------------------
GENERATE_HEAD = ("For every prompt of the run's spec: the text generated with the gloss and with the new "
                 "token, before and after fine-tuning, side by side.")
RUN_PICK = "Run"
RUN_PICK_INFO = "A trained model: a fine-tuning run that finished or was stopped, or one member of a comparison."
GENERATIONS_LABEL = "Generations side by side"
GENERATIONS_HEAD = ["Prompt", "With the gloss (before)", "With the token (before)",
                    "With the gloss (after)", "With the token (after)"]
CUSTOM_PROMPT = "Your own prompt"
CUSTOM_PROMPT_INFO = "Write {placeholder} where the gloss or the token should go."
GENERATE_SYMBOL = "Symbol"
GENERATE_SYMBOL_INFO = "A vocabulary has many tokens: whose gloss and token fill your prompt."
GENERATED_SYMBOL = "Generated “{prompt}” with {trained} for {symbol}, before and after fine-tuning."
CUSTOM_GENERATE = "Generate"
CUSTOM_TABLE = "Your prompt, side by side"
MAX_NEW_TOKENS = "Tokens to generate"
NO_RUN = "Choose a run first (the list shows runs that trained)."
NO_GENERATIONS = "{id} has no generations yet."
GENERATIONS_OF = "Generations of **{title}**, initialized with **{strategy}**: before and after fine-tuning."
GENERATED = "Generated “{prompt}” with {trained}, before and after fine-tuning."
GENERATING = "Loading the run's models and generating…"
GENERATING_NOW = "Generating “{prompt}” with {trained}: loading its models before and after fine-tuning, then generating…"
MERGING = "Merging the adapter into a full-precision copy of the base model…"

# -- Runs tab --------------------------------------------------------------------------------
RUNS_HEAD = "Every run in the run store, also those from before a restart. Open one to see it as it was."
RUNS_TABLE_LABEL = "Runs"
RUNS_REFRESH = "Refresh"
RUN_OPEN = "Open"
RUN_DELETE = "Delete this run"
RUN_DELETE_CONFIRM = "Yes, delete it for good"
RUN_DELETE_CANCEL = "Cancel"
RUN_DELETE_ASK = "Delete run {id}? This removes its folder and cannot be undone."
RUN_DELETED = "Deleted run {id}."
RUN_SPEC = "Spec"
RUN_CONFIG = "Configuration"
RUN_RESULT = "Result"
RUN_CURVES = "Loss curves"
RUN_SUMMARY_NONE = "Open a run to see it here."
RUN_RESUME = "Resume"
RUN_RESUME_VOCAB = ("Run {id} was interrupted; **Resume** continues its fine-tuning from the checkpoint of step "
                    "{step}, in its own folder.")
RUN_RESUME_COMPARE = ("Run {id} was interrupted with {done} of {total} members finished; **Resume** runs the "
                      "others, in its own folder.")
RUN_RESUME_DRAFT = ("Run {id} stopped with {done} of {total} symbols handled; **Resume** drafts the others into "
                    "its own file.")
RUN_RESUMED = "Resumed run {id}: follow it on the **{tab}** tab."

# -- Export tab ------------------------------------------------------------------------------
EXPORT_HEAD = ("Take a trained run out of Gloss Lab: as a PEFT adapter with the new token's rows "
               "(small; load it on top of the base model), or merged into a full model folder.")
EXPORT_ADAPTER = "Download the adapter (zip)"
EXPORT_MERGED = "Save a merged model folder"
EXPORT_FOLDER = "Folder name for the merged model"
EXPORT_FOLDER_INFO = ("A plain folder name (letters, digits, '-', '_', '.'); it is saved in {folder}. "
                      "Empty: named after the run.")
EXPORT_FILE = "Adapter archive"
EXPORT_DONE = "Saved to `{path}`."
HOW_TO_LOAD_TITLE = "How to load it"

# -- Errors ----------------------------------------------------------------------------------
ERROR_TITLE = "Please check the input"
UNEXPECTED = ("Something went wrong ({kind}). Nothing you saved was lost; the details are in the "
              "server log. Try again, or change the input.")
PROBLEM_LINE = "{field}: {problem}"
PROBLEM_FIX = " — {fix}"

# Labels of other values that a problem may name (settings are labelled by the engine).
OTHER_LABELS = {"prompt": CUSTOM_PROMPT, "export name": EXPORT_FOLDER, "model": "Model", "run": RUN_PICK,
                "symbol": GENERATE_SYMBOL}
HYPER_TITLE = "QLoRA hyperparameters (research defaults)"
ADVANCED_TITLE = "Advanced settings"
RANGE_INFO = "{lo} to {hi}. "

# -- Gloss tab: the drafting panel -------------------------------------------------------------
DRAFT_TITLE = "Draft the spec from sentences"
DRAFT_HEAD = ("Paste sentences that use a gloss (one a line; numbering and bullets are fine) and negatives "
              "(contexts, or whole sentences that are cut at a word). **Draft** cuts each sentence before the "
              "gloss's last occurrence, screens every context on the loaded model, splits the kept ones with "
              "the seed and fills the fields below. Items that were dropped are listed with their reason; "
              "copy one into *Keep anyway* to keep it.")
DRAFT_SENTENCES = "Sentences that use the gloss"
DRAFT_SENTENCES_INFO = "One a line: the gloss (any synonym, any case) as whole words, best near the end."
DRAFT_NEGATIVES = "Negatives"
DRAFT_NEGATIVES_INFO = "One a line: contexts after which the gloss would be wrong, or whole sentences (cut at a word)."
DRAFT_CORPUS = "Corpus (optional)"
DRAFT_KEEP = "Keep anyway"
DRAFT_KEEP_INFO = "Dropped items to keep, one a line, exactly as the table shows them."
DRAFT_RUN = "Draft"
DRAFT_PROMPT = "Prompt for a chat assistant"
DRAFT_PROMPT_LABEL = "Paste this into a chat assistant, then paste its answer above"
DRAFT_PROMPT_TEXT = "For sentences that use the gloss:\n{positive}\n\nFor negatives:\n{negative}"
DRAFT_TABLE = "Every item: kept (in which set) or dropped (why), with the targets' ranks as the next token"
DRAFT_TABLE_HEAD = ["Kind", "Kept", "Set or reason", "Best rank", "Target ranks", "Context", "Sentence"]
DRAFT_DONE = ("Drafted the spec on {model}: {pk} of {pn} sentences and {nk} of {nn} negatives kept; "
              "the fields below are filled. {valid}")
DRAFT_VALID = "The spec is valid."
SPEC_WARNINGS = "Please check {n} warning{s} (the spec is still valid):"

# -- Gloss tab: the drafting panel, contexts and sentences judged apart (issue 18) -----------------
DRAFT_TABLE_HEADERS = ["Kind", "Context kept", "Set or reason", "Best rank", "Target ranks", "Context", "Sentence",
                       "Sentence used in"]
DRAFT_LENGTHENED = " (lengthened with the sentence before)"
DRAFT_DONE_CONTEXTS = ("Drafted the spec on {model}: {pk} of {pn} contexts kept ({pl} lengthened with the sentence "
                       "before), {ps} of {pn} sentences in fine-tuning or validation, and {nk} of {nn} negatives "
                       "kept; the fields below are filled.")
DRAFT_FAILED_TABLE = ("The table below lists every item with its ranks: copy a dropped one into *Keep anyway* to "
                      "keep it, or change the setting the message suggests, and press **Draft** again.")

# -- The Bliss symbol box: a look-up into a spec for another symbol (issue 18) ----------------------
BLISS_LISTS_LABEL = "When the spec holds another symbol's lists"
BLISS_LISTS_INFO = "A look-up changes the symbol's fields; its contexts and sentences belong to the symbol they were written for."
BLISS_LISTS_BLANK = "Start from a blank spec for the new symbol"
BLISS_LISTS_KEEP = "Keep the lists"
BLISS_STARTED_BLANK = ("Started from a blank spec for this symbol: the contexts and sentences of {old} were cleared, "
                       "and the generation prompts are those of a {pos}.")
BLISS_KEPT_LISTS = ("Kept the lists of {old}: its contexts and sentences are still there (and name {tokens}); "
                    "replace them, or look up again with \"Start from a blank spec\".")
SPEC_LOOKUP_BLANK = "A blank spec for Bliss symbol {id} ({gloss}): write or draft its contexts and sentences."
SPEC_LOOKUP_KEPT = "Bliss symbol {id} ({gloss}) with the lists kept from {old}: check the spec before using it."
SPEC_LOOKUP_SAME = "Filled the symbol fields from Bliss symbol {id} ({gloss})."
BLISS_FILLED = "Filled the symbol ID, glosses, new token, target tokens, notes and description from Bliss symbol {id} ({gloss})."
BLISS_LISTS_UNCHANGED = "The context and sentence lists are unchanged."
