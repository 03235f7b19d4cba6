"""How a job's events read on the page: the best step, where the job stands (its phase and the
progress bar), a comparison's curves.

A job is in the phase of its latest phase, training step or optimization epoch event. A phase
event may carry ``fraction`` (its own share done, e.g. of an evaluation's generation steps); a
step gives the training's share (step / max steps) and an ``init_epoch`` the optimization's. The
bar shows:

* one fine-tuning: the current phase's own share (the evaluation after training has its own);
* a vocabulary (``plan``): every phase weighted by ``VOCAB_PLAN``, the current one by its share;
* a comparison: finished members plus the share done of each member in progress;
* a vocabulary draft: its phase event's share of symbols done, and the time left it gave.
"""

from __future__ import annotations

import time

from core.runs.store import ACTIVE, FINISHED  # noqa: F401  (what the page reads a status by)

# A vocabulary's phases in order with their weight on its bar (initialize only: ``VOCAB_PLAN[:2]``).
VOCAB_PLAN = (("init", 2.0), ("evaluate_before", 2.0), ("quantize", 0.5), ("train", 6.0),
              ("evaluate_after", 2.0), ("save", 0.5))


def best(steps: list[dict]) -> dict | None:
    evals = [e for e in steps if isinstance(e.get("eval_loss"), (int, float))]
    if not evals:
        return None
    best = min(evals, key=lambda e: e["eval_loss"])
    return {"step": best.get("step"), "epoch": best.get("epoch"), "eval_loss": best["eval_loss"],
            "strategy": best.get("strategy")}


def _member_key(event: dict) -> tuple:
    return event.get("symbol"), event.get("strategy"), event.get("seed")


def phase_of(event: dict) -> str:
    """The phase an event belongs to: ``init:copy`` -> init, a step -> train, an epoch of the
    input optimization -> init."""
    kind = event.get("type")
    if kind == "step":
        return "train"
    if kind == "init_epoch":
        return "init"
    return str(event.get("phase") or "").split(":", 1)[0]


def _current(events: list[dict]) -> dict | None:
    """The latest event that says what the job is doing (a phase, a step, an optimization epoch)."""
    return next((e for e in reversed(events) if e.get("type") in ("phase", "step", "init_epoch")), None)


def _share(event: dict | None) -> float | None:
    """How far the phase of ``event`` is, 0 to 1 (None: it does not say)."""
    if event is None:
        return None
    if event.get("type") == "step":
        return event["step"] / event["max_steps"] if event.get("max_steps") else None
    if event.get("type") == "init_epoch":
        return event["epoch"] / event["epochs"] if event.get("epochs") else None
    if event.get("phase") == "train":
        return 0.0
    fraction = event.get("fraction")
    return float(fraction) if isinstance(fraction, (int, float)) else None


def _label(event: dict | None, fallback: str = "") -> str:
    if event is None:
        return fallback
    if event.get("type") == "step":
        return "Fine-tuning"
    if event.get("type") == "init_epoch":
        return f"Optimizing the input vector: epoch {event.get('epoch')} of {event.get('epochs')}"
    return event.get("message") or fallback


def _planned(events: list[dict], current: dict | None, plan: tuple) -> float:
    """The weighted share of ``plan`` done: the phases passed, plus the current one's own share."""
    names = [name for name, _ in plan]
    seen = [names.index(phase_of(e)) for e in events
            if e.get("type") in ("phase", "step", "init_epoch") and phase_of(e) in names]
    if not seen:
        return 0.0
    last = max(seen)
    done = sum(w for _, w in plan[:last])
    if current is not None and phase_of(current) == names[last]:
        done += plan[last][1] * (_share(current) or 0.0)
    return done / sum(w for _, w in plan)


def _members(events: list[dict], steps: list[dict], members: list[dict]) -> tuple[float, str, int, int]:
    """(fraction, label, done, total) of a comparison: finished members plus the running ones' shares."""
    total = members[-1].get("total") or 1
    done = {_member_key(e) for e in members if e.get("status") in ("done", "failed")}
    running = [e for e in members if e.get("status") == "start" and _member_key(e) not in done]
    latest: dict[tuple, dict] = {}
    for e in events:
        if e.get("type") in ("phase", "step", "init_epoch"):
            latest[_member_key(e)] = e
    share = 0.0
    for e in running:
        s = next((x for x in reversed(steps) if _member_key(x) == _member_key(e)), {})
        share += (s.get("step") or 0) / s["max_steps"] if s.get("max_steps") else 0.0
    label = ""
    if running:
        now = running[-1]
        doing = latest.get(_member_key(now))
        label = now.get("message", "") + (f": {_label(doing)}" if doing and doing.get("type") != "step" else "")
        label += f" (+{len(running) - 1} alongside)" if len(running) > 1 else ""
    return (len(done) + share) / total, label, len(done), total


def _started(events: list[dict]) -> float | None:
    return next((e.get("time") for e in events if e.get("type") == "status" and e.get("status") == "running"), None)


def progress(events: list[dict], steps: list[dict], plan: tuple | None = None,
             estimate: float | None = None, now: float | None = None) -> dict:
    """Where a job stands: epoch, step, time left, the bar's fraction and what it is doing.

    ``plan``: a vocabulary's phases (``VOCAB_PLAN``). ``estimate``: a comparison's estimated
    seconds before it started; its time left is that estimate less the time gone until a member
    has finished, then the time gone scaled by the share done, so it follows the members.
    """
    last = steps[-1] if steps else {}
    current = _current(events)
    phase = phase_of(current) if current else None
    share = _share(current)
    members = [e for e in events if e.get("type") == "member"]
    max_steps = last.get("max_steps") or 0
    step = last.get("step") or 0
    out = {"phase": phase, "phase_fraction": None if share is None else round(min(1.0, share), 4),
           "label": _label(current)}
    eta = last.get("eta") if phase == "train" else _phase_eta(current, now)
    if members:
        fraction, label, done, total = _members(events, steps, members)
        out |= {"members_done": done, "members_total": total, "label": label or out["label"]}
        eta = _members_eta(events, fraction, done, estimate, now)
    elif plan:
        fraction = _planned(events, current, plan)
    else:
        fraction = share or 0.0
    per_epoch = (step / last["epoch"]) if last.get("epoch") else None
    return out | {"step": step, "steps": max_steps, "epoch": last.get("epoch"),
                  "epochs": round(max_steps / per_epoch) if per_epoch else None, "eta": eta,
                  "elapsed": last.get("elapsed"), "fraction": round(min(1.0, fraction), 4)}


def _phase_eta(event: dict | None, now: float | None) -> float | None:
    """The time left that a phase event gave (a vocabulary draft's, at its pace), less the time
    gone since it was emitted; None when it gave none."""
    if event is None or event.get("type") != "phase" or not isinstance(event.get("eta"), (int, float)):
        return None
    emitted = event.get("time")
    gone = (now if now is not None else time.time()) - emitted if isinstance(emitted, (int, float)) else 0.0
    return round(max(0.0, event["eta"] - max(0.0, gone)), 1)


def _members_eta(events: list[dict], fraction: float, done: int, estimate: float | None,
                 now: float | None) -> float | None:
    started = _started(events)
    if started is None:
        return estimate
    gone = max(0.0, (now if now is not None else time.time()) - started)
    if done and fraction > 0:
        return round(gone * (1 - fraction) / fraction, 1)
    return None if estimate is None else round(max(0.0, estimate - gone), 1)


def series(steps: list[dict]) -> dict[str, list[dict]]:
    """Step events of a comparison grouped by member: {"average (seed 0)": [...], ...}; over several
    symbols the symbol's token comes first ("[BLISS_1] average (seed 0)")."""
    out: dict[str, list[dict]] = {}
    seeds = {e.get("seed") for e in steps}
    symbols = {e.get("symbol") for e in steps}
    for e in steps:
        name = (f"{e.get('symbol')} " if len(symbols) > 1 else "") + str(e.get("strategy", "?")) \
            + (f" (seed {e.get('seed')})" if len(seeds) > 1 else "")
        out.setdefault(name, []).append(e)
    return out
