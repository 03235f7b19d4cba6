"""How a job's events read on the page: the best step, the progress bar, a comparison's curves."""

from __future__ import annotations

ACTIVE = ("queued", "running", "stopping")


def best(steps: list[dict]) -> dict | None:
    evals = [e for e in steps if isinstance(e.get("eval_loss"), (int, float))]
    if not evals:
        return None
    best = min(evals, key=lambda e: e["eval_loss"])
    return {"step": best.get("step"), "epoch": best.get("epoch"), "eval_loss": best["eval_loss"],
            "strategy": best.get("strategy")}


def progress(events: list[dict], steps: list[dict]) -> dict:
    """Epoch, step, time left and the fraction done, from the latest events.

    In a comparison the fraction counts finished members plus the current one's share.
    """
    last = steps[-1] if steps else {}
    member = next((e for e in reversed(events) if e.get("type") == "member"), None)
    phase = next((e for e in reversed(events) if e.get("type") == "phase"), None)
    max_steps = last.get("max_steps") or 0
    step = last.get("step") or 0
    within = step / max_steps if max_steps else 0.0
    fraction = within
    label = (phase or {}).get("message", "")
    if member is not None:
        total = member.get("total") or 1
        done = member.get("index", 0) + (1 if member.get("status") == "done" else 0)
        current = within if member.get("status") == "start" else 0.0
        fraction = (done + current) / total
        label = member.get("message", label) if member.get("status") == "start" else label
    per_epoch = (step / last["epoch"]) if last.get("epoch") else None
    return {"step": step, "steps": max_steps, "epoch": last.get("epoch"),
            "epochs": round(max_steps / per_epoch) if per_epoch else None, "eta": last.get("eta"),
            "elapsed": last.get("elapsed"), "fraction": round(min(1.0, fraction), 4), "label": label}


def series(steps: list[dict]) -> dict[str, list[dict]]:
    """Step events of a comparison grouped by member: {"average (seed 0)": [...], ...}."""
    out: dict[str, list[dict]] = {}
    seeds = {e.get("seed") for e in steps}
    for e in steps:
        name = str(e.get("strategy", "?")) + (f" (seed {e.get('seed')})" if len(seeds) > 1 else "")
        out.setdefault(name, []).append(e)
    return out
