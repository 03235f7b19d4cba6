"""How a job's events read on the page: the best step, the progress bar, a comparison's curves."""

from __future__ import annotations

from core.runs.store import ACTIVE, FINISHED  # noqa: F401  (what the page reads a status by)


def best(steps: list[dict]) -> dict | None:
    evals = [e for e in steps if isinstance(e.get("eval_loss"), (int, float))]
    if not evals:
        return None
    best = min(evals, key=lambda e: e["eval_loss"])
    return {"step": best.get("step"), "epoch": best.get("epoch"), "eval_loss": best["eval_loss"],
            "strategy": best.get("strategy")}


def _member_key(event: dict) -> tuple:
    return event.get("symbol"), event.get("strategy"), event.get("seed")


def progress(events: list[dict], steps: list[dict]) -> dict:
    """Epoch, step, time left and the fraction done, from the latest events.

    In a comparison the fraction counts finished members plus the share done of each member in
    progress (several run side by side in worker processes).
    """
    last = steps[-1] if steps else {}
    members = [e for e in events if e.get("type") == "member"]
    phase = next((e for e in reversed(events) if e.get("type") == "phase"), None)
    max_steps = last.get("max_steps") or 0
    step = last.get("step") or 0
    fraction = step / max_steps if max_steps else 0.0
    label = (phase or {}).get("message", "")
    if members:
        total = members[-1].get("total") or 1
        done = {_member_key(e) for e in members if e.get("status") == "done"}
        running = [e for e in members if e.get("status") == "start" and _member_key(e) not in done]
        latest: dict[tuple, dict] = {}
        for e in steps:
            latest[_member_key(e)] = e
        share = 0.0
        for e in running:
            s = latest.get(_member_key(e)) or {}
            share += (s.get("step") or 0) / s["max_steps"] if s.get("max_steps") else 0.0
        fraction = (len(done) + share) / total
        if running:
            label = running[-1].get("message", label) + (f" (+{len(running) - 1} alongside)" if len(running) > 1 else "")
    per_epoch = (step / last["epoch"]) if last.get("epoch") else None
    return {"step": step, "steps": max_steps, "epoch": last.get("epoch"),
            "epochs": round(max_steps / per_epoch) if per_epoch else None, "eta": last.get("eta"),
            "elapsed": last.get("elapsed"), "fraction": round(min(1.0, fraction), 4), "label": label}


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
