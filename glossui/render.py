"""Turning what the engine reports into table values and Markdown, with user text kept literal.

User text (glosses, contexts, generations, error messages quoting them) may hold ``<script>``,
HTML or Markdown syntax. Tables get it as plain strings (``gr.Dataframe`` with ``datatype="str"``
shows text, not HTML); Markdown gets it through ``md()``, which escapes both HTML and Markdown so
that the page shows exactly the characters that were typed.
"""

from __future__ import annotations

import re

from core.service import tables
from core.service import text as report_text
from glossui import strings as S

md = report_text.md  # the one escaper (core.report.text): user text shown exactly as typed


plain = report_text.html_text  # text for a toast (``gr.Error`` renders HTML): escaped, line breaks kept


def problem_text(p: dict) -> str:
    text = S.PROBLEM_LINE.format(field=field_label(p.get("field", "")), problem=p.get("problem", ""))
    return text + (S.PROBLEM_FIX.format(fix=p["fix"]) if p.get("fix") else "")


_ITEM = re.compile(r"^(?P<name>[^()]+?)(?: \(item (?P<item>\d+)\))?$")
_SETTING_LABELS: dict[str, str] = {}


def add_labels(labels: dict[str, str]) -> None:
    """Labels of settings by field name (the engine describes them; the page adds them when it is
    built), so that a problem names a setting the way its widget does."""
    _SETTING_LABELS.update(labels)


def field_label(field: str, own: dict[str, str] | None = None) -> str:
    """The page's name for a field, with the name the JSON and the engine use:
    "positive_contexts (item 3)" -> "Positive contexts (positive_contexts, item 3)". ``own``: the
    labels of a panel whose widgets name a field otherwise (they win)."""
    m = _ITEM.match(field or "")
    if not m:
        return field
    name, item = m.group("name"), m.group("item")
    labels = S.FIELD_LABELS | _SETTING_LABELS | S.OTHER_LABELS | (own or {})
    label = labels.get(name)
    if label is None:
        return field
    if label.casefold() == name.casefold():
        return f"{label}, item {item}" if item else label
    return f"{label} ({name}" + (f", item {item})" if item else ")")


def _items_md(items: list[dict], heading: str, labels: dict[str, str] | None = None) -> str:
    """``heading`` (with ``{n}`` and ``{s}``) over a Markdown list naming each item's field, problem and fix."""
    if not items:
        return ""
    n = len(items)
    lines = [heading.format(n=n, s="" if n == 1 else "s"), ""]
    for p in items:
        fix = f" — {md(p['fix'])}" if p.get("fix") else ""
        lines.append(f"- **{md(field_label(p.get('field', ''), labels))}**: {md(p.get('problem', ''))}{fix}")
    return "\n".join(lines)


def problems_md(problems: list[dict], labels: dict[str, str] | None = None) -> str:
    """A Markdown list naming every problem's field, what is wrong and the fix (``labels``: a panel's
    own names of its fields)."""
    return _items_md(problems, S.SPEC_PROBLEMS, labels)


def warnings_md(warnings: list[dict]) -> str:
    """Warnings (the spec stays valid) as a Markdown list, in the shape of ``problems_md``."""
    return _items_md(warnings, S.SPEC_WARNINGS)


def problems_toast(problems: list[dict]) -> str:
    return "<br>".join(plain(problem_text(p)) for p in problems)


num = report_text.num  # numbers written one way on the page and in the reports


def table(headers: list[str], rows: list[list]) -> dict:
    """A ``gr.Dataframe`` value: every cell a string, so nothing is interpreted."""
    return {"headers": list(headers), "data": [[c if isinstance(c, str) else num(c) for c in r] for r in rows]
            or [["" for _ in headers]]}


# -- evaluation ------------------------------------------------------------------------------
# Generations side by side: the prompt, then four texts (gloss and token, before and after fine-tuning).
GEN_WIDTHS = ["16%", "21%", "21%", "21%", "21%"]


def rank_table(testing: list[dict]) -> dict:
    words = list(testing[0]["rank_targets"]) if testing else []
    headers = ["Testing context", "Kind", "Rank of the new token"] + [f"Rank of '{w}'" for w in words] + ["Top 5"]
    rows = []
    for r in testing:
        top = ", ".join(f"{t['token']!r} {t['logit']:.2f}" for t in r.get("top5", []))
        rows.append([r["context"], r["kind"], r["rank_new_token"]] + [r["rank_targets"].get(w) for w in words] + [top])
    return table(headers, rows)


def rank_widths(n_targets: int) -> list[str]:
    """Column widths of the rank table: context, kind, the ranks, then the top 5 taking the rest."""
    fixed = [30, 8, 8] + [7] * n_targets
    return [f"{w}%" for w in fixed + [max(15, 100 - sum(fixed))]]


def nearest_table(nearest: dict) -> dict:
    rows = []
    for side in ("input", "output"):
        for i, t in enumerate(nearest.get(side, []), 1):
            rows.append([side, i, repr(t["token"]), t.get("token_id", ""), t["cosine"]])
    return table(["Row", "#", "Token", "Token id", "Cosine"], rows)


def generations_table(before: list[dict], after: list[dict] | None = None) -> dict:
    """Prompts side by side: with the gloss / with the token, before (and after) fine-tuning."""
    after = after or []
    by_prompt = {g["prompt"]: g for g in after}
    if not after:
        headers = ["Prompt", "With the gloss", "With the token"]
        return table(headers, [[g["prompt"], g["with_gloss"], g["with_token"]] for g in before])
    rows = []
    for g in before:
        a = by_prompt.get(g["prompt"], {})
        rows.append([g["prompt"], g["with_gloss"], g["with_token"], a.get("with_gloss", ""), a.get("with_token", "")])
    return table(S.GENERATIONS_HEAD, rows)


def quality_rows(quality: dict) -> list[list]:
    names = {
        "mrr_positive": "Mean reciprocal rank of the new token, testing-positive contexts (1 = always top)",
        "median_rank_positive": "Median rank of the new token, testing-positive contexts",
        "median_rank_negative": "Median rank of the new token, testing-negative contexts (higher is better)",
        "generation_similarity": "Similarity of generations with the token and with the gloss (0 to 1)",
    }
    return [[label, quality.get(key)] for key, label in names.items() if key in quality]


def fit_rows(fit: dict | None) -> list[list]:
    if not fit:
        return [["Output embedding", "random (not calculated)"]]
    return [
        ["Least-squares residual (RMS of logit error)", fit.get("residual")],
        ["Largest logit error", fit.get("max_abs_error")],
        ["Positive / negative contexts used", f"{fit.get('n_positive')} / {fit.get('n_negative')}"],
        ["Target logit for negative contexts", fit.get("negative_logit")],
        ["Precision of the pass over the contexts",
         "bfloat16" if fit.get("precision") == "bfloat16" else "the model's own"],
    ]


def key_values(rows: list[list], headers=("Measure", "Value")) -> dict:
    return table(list(headers), rows)


def strategy_help(strategies: list[dict], name: str) -> str:
    """A strategy's label, one-line explanation and where its output row comes from (Markdown)."""
    info = next((s for s in strategies if s["name"] == name), None)
    if info is None:
        return ""
    output = S.OUTPUT_CALCULATED if info["calculated_output"] else S.OUTPUT_DRAWN
    return f"**{md(info['label'])}**: {md(info['help'])} {output}"


def strategies_table(strategies: list[dict]) -> dict:
    """Every strategy: name, label, what it does and where its output row comes from."""
    return table(S.STRATEGIES_HEAD, [[s["name"], s["label"], s["help"],
                                      S.OUTPUT_CALCULATED if s["calculated_output"] else S.OUTPUT_DRAWN]
                                     for s in strategies])


def init_message(result: dict) -> str:
    done = S.INIT_DONE.format(token=md(result["token"]), token_id=result["token_id"],
                              strategy=md(result.get("strategy_label") or result["strategy"]),
                              seconds=result.get("seconds", 0.0))
    warnings = (result.get("details") or {}).get("warnings") or []
    return " ".join([done] + [S.INIT_WARNING.format(warning=md(w)) for w in warnings])


def init_rows(result: dict) -> list[list]:
    """An initialization's fit and rows as (measure, value) pairs, the optimization curve in words."""
    rows = fit_rows(result.get("output_fit"))
    rows += [["Norm of the input row / output row", f"{num(result.get('input_norm'))} / {num(result.get('output_norm'))}"],
             ["Cosine of the input row with the output row", result.get("input_output_cosine")]]
    own = (result.get("cosines") or {}).get(result["strategy"], {})
    rows += [[f"Cosine of the input row with the '{other}' vector", cos]
             for other, cos in own.items() if other != result["strategy"]]
    details = result.get("details") or {}
    history = details.get("history") or []
    if history:  # the optimization curve in words (the chart's text alternative)
        rows += [["Input optimization: validation loss at the start / at the best epoch",
                  f"{num(details.get('initial_val_loss'))} / {num(details.get('best_val_loss'))}"],
                 ["Input optimization: best epoch of the epochs run", f"{details.get('best_epoch')} of {len(history)}"]]
    return rows


# -- jobs and runs ---------------------------------------------------------------------------
def compare_table(rows: list[dict]) -> dict:
    """The research table's shape, one column per metric of the results schema."""
    out = tables.comparison_table(rows)
    return table(out["headers"], out["data"])


def verdict_markdown(sentence: str, rows: list[dict], symbols: list[str] | None = None) -> str:
    """The verdict's sentence, then its two axes (Markdown, every cell escaped): each strategy's fit
    and meaning numbers with their 95 % intervals, and where it stands on each (best, tied, or behind
    the strategies that beat it). Over several symbols the sentence alone: the table across symbols
    gives each axis there."""
    text = S.VERDICT.format(sentence=md(sentence))
    if not rows or symbols:
        return text
    out = tables.axes_table(rows)
    return text + "\n\n" + S.AXES_LABEL + "\n\n" + tables.markdown_grid(out["headers"], out["data"])


def vocab_table(symbols: list[dict]) -> dict:
    """A vocabulary's symbols: token, gloss, then every number of the results schema that is each
    symbol's own (before → after once fine-tuned), as the CLI and the reports show them."""
    out = tables.vocabulary_table({"symbols": symbols})
    return table(out["headers"], out["data"])


def vocab_summary(result: dict) -> str:
    """One line about a vocabulary run's result (Markdown, escaped)."""
    symbols = result.get("symbols") or []
    return md(S.VOCAB_RUN_SUMMARY.format(
        n=len(symbols), s="" if len(symbols) == 1 else "s", tokens=", ".join(s["token"] for s in symbols), strategy=result.get("strategy") or "?",
        contrast=", contrasted" if result.get("contrast") else "",
        trained="fine-tuned together" if result.get("finetune") else "initialized only"))


def across_table(rows: list[dict], symbols: list[str]) -> dict:
    """Strategies across symbols: wins / ties / losses, each axis's mean rank and record, the rank on
    each symbol per axis (as the report)."""
    headers, lines = tables.across_rows({"rows": rows, "specs": symbols})
    return table(headers, lines)


def series_table(series: dict[str, list[dict]], limit: int = 400) -> dict:
    """The comparison chart's data as a table: validation loss of each strategy by epoch."""
    rows = [[name, e.get("step"), e.get("epoch"), e.get("eval_loss")]
            for name, events in series.items() for e in events if e.get("eval_loss") is not None]
    return table(["Strategy", "Step", "Epoch", "Validation loss"], rows[-limit:])


def run_result_rows(result: dict) -> list[list]:
    """Every number of a fine-tuning run (its ``row``) as the results schema formats it."""
    return tables.run_table(result or {})["data"]


RUNS_HEAD = ["Run", "Kind", "Title", "Status", "Created", "Finished", "Error"]


def runs_table(runs: list[dict]) -> dict:
    return table(RUNS_HEAD, [[r["id"], r.get("kind") or "", r.get("title") or "", r.get("status") or "",
                              r.get("created") or "", r.get("finished") or "", (r.get("error") or "")[:200]]
                             for r in runs])


def target_label(run: dict, target: str) -> str:
    """A dropdown label for a trained model: title, member, status (plain text)."""
    member = target.partition(":")[2]
    title = run.get("title") or run["id"]
    return f"{title} · {member + ' · ' if member else ''}{run.get('status')} · {run['id']}"


def run_summary(run: dict) -> str:
    """One paragraph about a run (Markdown, every value escaped)."""
    parts = [f"**Run {md(run['id'])}** ({md(run.get('kind') or '')}): {md(run.get('title') or '')}",
             f"Status: **{md(run.get('status') or '')}**; created {md(run.get('created') or '–')}, "
             f"finished {md(run.get('finished') or '–')}."]
    best = run.get("best")
    if best:
        parts.append(f"Best validation loss {md(num(best.get('eval_loss')))} at step {md(best.get('step'))} "
                     f"(epoch {md(num(best.get('epoch'), 3))}).")
    if run.get("error"):
        parts.append(f"Error: {md(run['error'])}")
    if run.get("path"):
        parts.append(f"Folder: {md(run['path'])}")
    return "  \n".join(parts)


def progress_html(fraction: float | None, label: str, text: str = "", indeterminate: bool = False) -> str:
    """A native, labelled progress bar (numbers only: no user text goes into this HTML); without a
    ``fraction``, an indeterminate bar when ``indeterminate`` (something runs, its share unknown),
    else nothing. ``text`` says what is running."""
    if fraction is None and not indeterminate:
        return ""
    if fraction is None:
        bar, pct = f'<progress aria-valuetext="{plain(S.PROGRESS_UNKNOWN)}"></progress>', ""
    else:
        value = max(0.0, min(1.0, float(fraction))) * 100
        bar = f'<progress max="100" value="{value:.0f}" aria-valuetext="{value:.0f}%">{value:.0f}%</progress>'
        pct = f" <span>{value:.0f}%</span>"
    return f'<div class="gl-progress"><label>{plain(label)} {bar}{pct}</label> <span>{plain(text)}</span></div>'


def _eta(seconds) -> str:
    if not isinstance(seconds, (int, float)) or seconds != seconds:
        return "an unknown time"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"



def _running(job: dict) -> str:
    """Where a running job is: its members, its training step, or the phase it is in."""
    jid, p = job.get("id", ""), job.get("progress") or {}
    if p.get("members_total"):
        left = S.JOB_LEFT.format(eta=_eta(p["eta"])) if p.get("eta") is not None else ""
        return S.COMPARE_RUNNING.format(id=jid, done=p.get("members_done", 0), total=p["members_total"],
                                        s="" if p["members_total"] == 1 else "s", left=left,
                                        doing=p.get("label") or S.JOB_PREPARING)
    if p.get("phase") == "train" and p.get("step"):
        return S.JOB_RUNNING.format(id=jid, epoch=num(p.get("epoch"), 2), epochs=p.get("epochs", "?"),
                                    step=p.get("step"), steps=p.get("steps", "?"), eta=_eta(p.get("eta")))
    if p.get("phase") == "train":
        return S.JOB_PHASE.format(id=jid, doing=S.JOB_FIRST_STEP)
    if p.get("phase"):
        # Only a vocabulary draft's phase gives a time left (at its own pace).
        left = S.JOB_LEFT.format(eta=_eta(p["eta"])) if p["phase"] == "draft" and p.get("eta") is not None else ""
        return S.JOB_PHASE.format(id=jid, doing=(p.get("label") or p["phase"]) + left)
    return S.JOB_STARTING.format(id=jid)


def _draft_message(job: dict) -> str | None:
    """A vocabulary draft's own words once it is stopping or has ended (else None: as any job)."""
    jid, status, result = job.get("id", ""), job.get("status"), job.get("result") or {}
    n = result.get("symbols", 0)
    if status == "stopping":
        return S.LEXDRAFT_STOPPING.format(id=jid)
    if status == "done" and result:
        return S.LEXDRAFT_DONE.format(id=jid, drafted=result.get("drafted", 0), symbols=n, s="" if n == 1 else "s")
    if status == "stopped" and result:
        return S.LEXDRAFT_STOPPED.format(id=jid, handled=result.get("handled", 0), symbols=n,
                                         drafted=result.get("drafted", 0))
    return None


def job_message(job: dict | None) -> str:
    """One line saying where a job stands (Markdown, escaped)."""
    if not job:
        return S.JOB_NONE
    status, jid = job.get("status"), job.get("id", "")
    drafted = _draft_message(job) if job.get("kind") == "vocab_draft" else None
    if drafted is not None:
        text = drafted
    elif status == "queued":
        ahead = job.get("position") or 0
        text = S.JOB_QUEUED.format(id=jid, ahead=ahead, s="" if ahead == 1 else "s") if ahead \
            else S.JOB_STARTING.format(id=jid)
    elif status == "running":
        text = _running(job)
    elif status == "stopping":
        text = S.JOB_STOPPING.format(id=jid)
    elif status == "done" and (job.get("best") or {}).get("strategy"):
        best = job["best"]
        text = S.COMPARE_DONE.format(id=jid, best_loss=num(best.get("eval_loss")), strategy=best["strategy"],
                                     best_epoch=num(best.get("epoch"), 3))
    elif status == "done" and not job.get("best"):
        text = S.JOB_DONE_UNTRAINED.format(id=jid)
    elif status == "done":
        best = job.get("best") or {}
        text = S.JOB_DONE.format(id=jid, best_step=best.get("step", "?"), best_epoch=num(best.get("epoch"), 2),
                                 best_loss=num(best.get("eval_loss")))
    elif status == "stopped":
        text = S.JOB_STOPPED.format(id=jid)
    elif status == "failed":
        text = S.JOB_FAILED.format(id=jid, error=job.get("error") or "unknown error")
    elif status == "interrupted":
        text = S.JOB_INTERRUPTED.format(id=jid)
    else:
        text = f"Job {jid}: {status}"
    return md(text)


def estimate_md(found: dict | None) -> str:
    """A comparison's estimated time and where it comes from (``core.runs.estimate.comparison``)."""
    if not found:
        return S.ESTIMATE_NONE
    members = found["members"]
    side = found.get("side_by_side") or 1.0
    parts = dict(time=_eta(found["seconds"]), members=members, s="" if members == 1 else "s",
                 each=_eta(found["per_member"]),
                 side=S.ESTIMATE_SIDE.format(n=num(side, 2)) if side > 1.05 else "",
                 at_most=S.ESTIMATE_AT_MOST if found.get("at_most") else "")
    if found.get("basis") == "probe":
        return S.ESTIMATE_PROBE.format(**parts)
    runs = found.get("runs") or 0
    return S.ESTIMATE_RUNS.format(**parts, runs=runs, rs="" if runs == 1 else "s")


def restored_note(job: dict, first: dict | None, kind: str, shared: bool = True) -> str:
    """After a reload: whose settings a job tab shows (its own job's, and the shared ones' job;
    a panel whose settings are all its own (not ``shared``) shows its job's alone)."""
    if not shared or first is None:
        return md(S.RESTORED_ALONE.format(id=job["id"]))
    if job["id"] == first["id"]:
        return md(S.RESTORED_SAME.format(id=job["id"]))
    if kind == "train":   # the Train tab's settings are all shared
        return md(S.RESTORED_OTHER.format(id=job["id"], first=first["id"], title=first.get("title") or ""))
    return md(S.RESTORED_OWN.format(id=job["id"], first=first["id"], title=first.get("title") or ""))


def events_table(events: list[dict], limit: int = 200) -> dict:
    """The chart's data as a table (its text alternative): the latest ``limit`` rows with a loss."""
    rows = [e for e in events if e.get("loss") is not None or e.get("eval_loss") is not None][-limit:]
    return table(S.EVENTS_HEAD, [[e.get("step"), e.get("epoch"), e.get("loss"), e.get("eval_loss"),
                                         e.get("learning_rate"), e.get("elapsed")] for e in rows])
