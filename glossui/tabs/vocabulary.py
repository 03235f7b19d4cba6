"""The Vocabulary tab: many symbols at once (built-in specs, uploaded files, or symbols drafted from the
Bliss lexicon in its *Draft from the lexicon* panel, ``glossui.lexicon_draft_panel``), initialized together
and optionally fine-tuned together; progress by phase and symbol, the loss per symbol, the table of
every symbol (before → after once fine-tuned), the confusion heatmaps, the lexicon report (the shares
of symbols found and confused, the worst 20 with their reasons, a histogram of the tokens' own ranks,
its files to download), and, once a fine-tuning has saved one, the adapter with every token to download."""

from __future__ import annotations

import gradio as gr

from glossui import plots, render
from glossui import strings as S
from glossui.job_panel import JobPanel
from glossui.lexicon_draft_panel import KIND as DRAFTS, LexiconDraftPanel
from glossui.page import Page, handler, shown

ID = "vocab"
TITLE = S.TAB_VOCAB
HIDDEN = {"visible": False}
BUILTIN = "built-in: "   # how a vocabulary's source names its built-in specs (``Jobs.vocabulary``)


def builtins_of(source: str) -> tuple[list[str], list[str]]:
    """(built-in names, uploaded file names) of a vocabulary's stored ``source``."""
    names, files = [], []
    for part in (source or "").split(", "):
        if part.startswith(BUILTIN):
            names += part[len(BUILTIN):].split()
        elif part:
            files.append(part)
    return names, files


class VocabularyTab:
    """The tab's components (``c``), its job panel and its handlers."""

    def __init__(self, page: Page) -> None:
        self.page, self.service = page, page.service
        self.c: dict = {}

    def build_widgets(self) -> None:
        c, service = self.c, self.service
        gr.Markdown(S.VOCAB_HEAD)
        self.drafts = LexiconDraftPanel(self.page)
        self.drafts.build()
        with gr.Row(equal_height=False):
            c["builtins"] = gr.CheckboxGroup(choices=service.specs.examples(), value=[], label=S.VOCAB_BUILTINS,
                                             info=S.VOCAB_BUILTINS_INFO, elem_id="vocab-builtins", scale=2)
            c["files"] = gr.File(label=S.VOCAB_UPLOAD, file_count="multiple", file_types=[".jsonl", ".zip", ".json"],
                                 type="filepath", elem_id="vocab-files", scale=2)
        c["checked"] = gr.Markdown(S.VOCAB_EMPTY, elem_id="vocab-checked", container=True)
        self.build_strategy()
        with gr.Row():
            c["init_only"] = gr.Button(S.VOCAB_INIT_ONLY, elem_id="vocab-init-only")
            c["finetune"] = gr.Button(S.VOCAB_FINETUNE, variant="primary", elem_id="vocab-finetune")
            c["stop"] = gr.Button(S.TRAIN_STOP, variant="stop", elem_id="vocab-stop")
        self.panel = JobPanel(self.page, ID, S.VOCAB_PLOT_LABEL, S.VOCAB_NONE, overall=True)
        c |= self.panel.components()
        c["table"] = gr.Dataframe(label=S.VOCAB_TABLE_LABEL, interactive=False, visible=False, datatype="str",
                                  wrap=True, elem_id="vocab-table")
        c["heat"] = gr.Plot(label=S.VOCAB_HEAT, visible=False, elem_id="vocab-heat")
        c["heat_before"] = gr.Plot(label=S.VOCAB_HEAT_BEFORE, visible=False, elem_id="vocab-heat-before")
        self.build_lexicon()
        with gr.Row(equal_height=False):
            c["export"] = gr.Button(S.VOCAB_EXPORT, visible=False, elem_id="vocab-export", scale=1)
            c["file"] = gr.File(label=S.EXPORT_FILE, interactive=False, visible=False, elem_id="vocab-file", scale=2)
        c["export_message"] = gr.Markdown(elem_id="vocab-export-message", container=True)

    def build_lexicon(self) -> None:
        """The lexicon report of a job that has evaluated its symbols (hidden until then)."""
        c = self.c
        c["lexicon"] = gr.Markdown(visible=False, elem_id="vocab-lexicon", container=True)
        c["worst"] = gr.Dataframe(label=S.LEXICON_WORST.format(n=20, judged="after"), interactive=False,
                                  visible=False, datatype="str", wrap=True, elem_id="vocab-worst",
                                  column_widths=["18%", "18%", "12%", "52%"])
        c["histogram"] = gr.Plot(label=S.LEXICON_HISTOGRAM, visible=False, elem_id="vocab-histogram")
        c["lexicon_files"] = gr.File(label=S.LEXICON_FILES, file_count="multiple", interactive=False, visible=False,
                                     elem_id="vocab-lexicon-files")

    def build_strategy(self) -> None:
        """The strategy and contrast; the chosen strategy explained, and every strategy in a table."""
        c, service = self.c, self.service
        field = next(f for f in service.settings.describe("init") if f["name"] == "strategy")
        strategies = service.settings.strategies()
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                c["strategy"] = gr.Dropdown(choices=[(f"{s['label']} ({s['name']})", s["name"]) for s in strategies],
                                            value=field["default"], label=field["label"], info=S.VOCAB_STRATEGY_INFO,
                                            elem_id="vocab-strategy")
                c["strategy_help"] = gr.Markdown(render.strategy_help(strategies, field["default"]),
                                                 elem_id="vocab-strategy-help", container=True)
            c["contrast"] = gr.Checkbox(value=False, label=S.VOCAB_CONTRAST, info=S.VOCAB_CONTRAST_INFO,
                                        elem_id="vocab-contrast", scale=2)
        with gr.Accordion(S.STRATEGIES_TITLE, open=False, elem_id="vocab-strategies"):
            gr.Dataframe(value=render.strategies_table(strategies), label=S.STRATEGIES_TITLE, interactive=False,
                         datatype="str", wrap=True, column_widths=["14%", "22%", "44%", "20%"])

    def wire(self) -> None:
        c, page, panel = self.c, self.page, self.panel
        panel.wire(stop=c["stop"], tab_outputs=[c["table"], c["heat"], c["heat_before"], c["export"], c["file"],
                                                *self.lexicon_outputs],
                   draw=self.draw, count=lambda job: len(job.get("events") or []),
                   restore=self.restore, restore_outputs=[c["builtins"], c["strategy"], c["contrast"], c["checked"]])
        self.drafts.wire(c["files"])
        chosen = {c["builtins"], c["files"]}
        check = handler(self.check_vocabulary, message=c["checked"])
        c["builtins"].change(check, chosen, [c["checked"]], show_progress="hidden", api_name="check_vocabulary")
        c["files"].change(check, chosen, [c["checked"]], show_progress_on=[c["checked"]],
                          api_name="check_vocabulary_files")
        c["strategy"].change(handler(self.strategy_help), {c["strategy"]}, [c["strategy_help"]],
                             show_progress="hidden", api_name="vocab_strategy_help")
        inputs = page.inputs(page["initialize"]["settings"], page["train"]["settings"]) | chosen | \
            {c["strategy"], c["contrast"]}
        for button, finetune_too, name in ((c["init_only"], False, "start_vocab_init"),
                                           (c["finetune"], True, "start_vocab_finetune")):
            button.click(handler(self.starter(finetune_too), message=panel.status), inputs, panel.start_outputs,
                         show_progress="hidden", api_name=name)
        c["export"].click(handler(self.export_vocab_adapter, message=c["export_message"]), {panel.job},
                          [c["file"], c["export_message"]], api_name="export_vocab_adapter")

    @property
    def lexicon_outputs(self) -> list:
        return [self.c[k] for k in ("lexicon", "worst", "histogram", "lexicon_files")]

    # -- handlers -------------------------------------------------------------------------------
    def draw(self, job: dict, log_scale: bool) -> dict:
        """The loss chart (once training has steps), the symbols' table, the heatmaps, the lexicon
        report and the adapter's download (once done; a fine-tuning only)."""
        c, panel = self.c, self.panel
        events, result = job.get("events") or [], job.get("result") or {}
        out = {panel.plot: gr.update(**HIDDEN), c["table"]: gr.update(**HIDDEN), c["heat"]: gr.update(**HIDDEN),
               c["heat_before"]: gr.update(**HIDDEN), c["export"]: gr.update(visible=bool(result.get("adapter"))),
               c["file"]: gr.update(**HIDDEN)}
        if events:
            out[panel.plot] = shown(plots.vocab_loss_figure(events, log_scale,
                                                            title=f"Job {job['id']}: {job.get('title', '')}"))
        out |= {component: gr.update(**HIDDEN) for component in self.lexicon_outputs}
        symbols = result.get("symbols") or []
        if symbols:
            trained = any(s.get("quality_after") is not None for s in symbols)
            out[c["table"]] = gr.update(value=render.vocab_table(symbols), visible=True,
                                        label=S.VOCAB_TABLE_LABEL if trained else S.VOCAB_TABLE_INIT)
            out |= self.lexicon(job["id"]) if result.get("kind") == "vocab" else {}
        return out | self.heatmaps(result)

    def lexicon(self, job_id: str) -> dict:
        """The lexicon report of a job whose symbols were evaluated: the shares, the worst with their
        reasons, the histogram of the tokens' own ranks and the report's files."""
        c, results = self.c, self.service.results
        report = results.lexicon(job_id)
        summary, n = report["summary"], report["summary"]["symbols"]
        head = S.LEXICON_HEAD.format(n=n, s="" if n == 1 else "s", good=summary["good_rank"])
        worst = [[w["token"], w["gloss"] or "", w["rank"], "; ".join(w["reasons"])] for w in summary["worst"]]
        return {c["lexicon"]: shown(head + "\n\n" + "\n".join(f"- {render.md(line)}" for line in report["lines"])),
                c["worst"]: gr.update(value=render.table(S.LEXICON_WORST_HEAD, worst), visible=True,
                                      label=S.LEXICON_WORST.format(n=len(worst), judged=summary["judged"])),
                c["histogram"]: shown(plots.rank_histogram(report["bins"], S.LEXICON_HISTOGRAM)),
                c["lexicon_files"]: shown(results.lexicon_files(job_id))}

    def heatmaps(self, result: dict) -> dict:
        c = self.c
        after, before = result.get("confusion_after"), result.get("confusion_before")
        out: dict = {}
        if after or before:
            title = S.VOCAB_HEAT_AFTER if after else S.VOCAB_HEAT
            out[c["heat"]] = gr.update(value=plots.confusion_figure(after or before, title), visible=True, label=title)
        if after and before:
            out[c["heat_before"]] = shown(plots.confusion_figure(before, S.VOCAB_HEAT_BEFORE))
        return out

    def check_vocabulary(self, values: dict) -> dict:
        """The chosen symbols checked as a whole, as soon as they are chosen or uploaded."""
        c = self.c
        builtins, files = list(values[c["builtins"]] or []), list(values[c["files"]] or [])
        if not builtins and not files:
            return {c["checked"]: S.VOCAB_EMPTY}
        symbols = self.service.jobs.vocabulary(builtins, files)["symbols"]
        tokens = ", ".join(f"{s['token']} ({s['gloss']})" for s in symbols)
        return {c["checked"]: render.md(S.VOCAB_CHECKED.format(n=len(symbols), s="" if len(symbols) == 1 else "s",
                                                               tokens=tokens))}

    def strategy_help(self, values: dict) -> dict:
        return {self.c["strategy_help"]: render.strategy_help(self.service.settings.strategies(),
                                                              values[self.c["strategy"]])}

    def starter(self, finetune_too: bool):
        def start(values: dict) -> dict:
            """The chosen symbols, this strategy, the Initialize and Train settings in; the job's view out."""
            c, page = self.c, self.page
            settings = page.settings_of("initialize", values) | {"strategy": values[c["strategy"]]}
            job = self.service.jobs.start_vocabulary(list(values[c["builtins"]] or []), list(values[c["files"]] or []),
                                                     settings, page.settings_of("train", values),
                                                     contrast=bool(values[c["contrast"]]), finetune_too=finetune_too)
            return self.panel.started(job)

        start.__name__ = "start_vocab_finetune" if finetune_too else "start_vocab_init"
        return start

    def export_vocab_adapter(self, values: dict) -> dict:
        """The watched job's adapter (every token's rows) as a zip, once a fine-tuning has saved one."""
        c = self.c
        job_id = (values[self.panel.job] or {}).get("id")
        job = self.service.jobs.get(job_id) if job_id else None
        if not job or not (job.get("result") or {}).get("adapter"):
            return {c["file"]: gr.update(**HIDDEN), c["export_message"]: S.VOCAB_EXPORT_NONE}
        out = self.service.results.export_adapter(job_id)
        return {c["file"]: shown(out["path"]), c["export_message"]: render.md(out["message"])}

    def restore(self, job: dict) -> dict:
        """The vocabulary's own choices as its job was started (after a reload); uploads are not kept."""
        c, config = self.c, job.get("config") or {}
        names, files = builtins_of(config.get("source") or "")
        out = {c["builtins"]: [n for n in names if n in self.service.specs.examples()],
               c["contrast"]: bool(config.get("contrast"))}
        if (config.get("init") or {}).get("strategy"):
            out[c["strategy"]] = config["init"]["strategy"]
        if files:
            out[c["checked"]] = render.md(S.VOCAB_RESTORED_FILES.format(id=job["id"], files=", ".join(files)))
        return out


def build(page: Page) -> None:
    tab = VocabularyTab(page)
    tab.build_widgets()
    page.add(ID, tab.c)
    page.add(DRAFTS, tab.drafts.c)
    tab.wire()
