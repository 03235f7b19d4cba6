"""How a job's events read on the page: best step, progress, a comparison's curves."""

from __future__ import annotations

from core.runs import progress


def _step(step, *, eval_loss=None, epoch=None, max_steps=10, **tags):
    return {"type": "step", "step": step, "epoch": epoch if epoch is not None else step / 5, "max_steps": max_steps,
            "eval_loss": eval_loss, **tags}


def test_best_is_the_lowest_validation_loss_and_none_without_one():
    steps = [_step(0, eval_loss=2.0), _step(1), _step(2, eval_loss=1.5), _step(3, eval_loss=1.7)]
    assert progress.best(steps) == {"step": 2, "epoch": 0.4, "eval_loss": 1.5, "strategy": None}
    assert progress.best([_step(1)]) is None and progress.best([]) is None


def test_progress_of_one_training():
    steps = [_step(0), _step(4, epoch=2.0)]
    events = [{"type": "phase", "message": "Fine-tuning"}] + steps
    p = progress.progress(events, steps)
    assert (p["step"], p["steps"], p["epoch"], p["epochs"], p["fraction"], p["label"]) == (4, 10, 2.0, 5, 0.4,
                                                                                          "Fine-tuning")


def test_progress_of_a_comparison_counts_finished_members():
    steps = [_step(5, epoch=2.5, strategy="random", seed=0)]
    events = [{"type": "member", "status": "start", "index": 0, "total": 4, "strategy": "average", "seed": 0},
              {"type": "member", "status": "done", "index": 0, "total": 4, "strategy": "average", "seed": 0},
              {"type": "member", "status": "start", "index": 1, "total": 4, "message": "Random input (seed 0)",
               "strategy": "random", "seed": 0},
              *steps]
    p = progress.progress(events, steps)
    assert p["fraction"] == round((1 + 0.5) / 4, 4) and p["label"] == "Random input (seed 0)"
    assert progress.progress([], [])["fraction"] == 0.0


def test_progress_of_members_side_by_side():
    """Two workers: the second member finishes before the first; both running shares count."""
    tag = lambda strategy, seed: {"strategy": strategy, "seed": seed, "symbol": "[BLISS_1]"}  # noqa: E731
    events = [{"type": "member", "status": "start", "index": 0, "total": 4, "message": "A", **tag("a", 0)},
              {"type": "member", "status": "start", "index": 1, "total": 4, "message": "B", **tag("b", 0)},
              {"type": "member", "status": "done", "index": 1, "total": 4, **tag("b", 0)},
              {"type": "member", "status": "start", "index": 2, "total": 4, "message": "C", **tag("a", 1)}]
    steps = [_step(4, **tag("a", 0)), _step(10, **tag("b", 0)), _step(2, **tag("a", 1))]
    p = progress.progress(events + steps, steps)
    assert p["fraction"] == round((1 + 0.4 + 0.2) / 4, 4)
    assert p["label"] == "C (+1 alongside)"


def test_series_groups_steps_by_member_and_names_seeds_only_when_several():
    one_seed = [_step(1, strategy="average", seed=0), _step(1, strategy="random", seed=0),
                _step(2, strategy="average", seed=0)]
    assert {k: len(v) for k, v in progress.series(one_seed).items()} == {"average": 2, "random": 1}
    two = one_seed + [_step(1, strategy="average", seed=1)]
    assert list(progress.series(two)) == ["average (seed 0)", "random (seed 0)", "average (seed 1)"]
    symbols = [_step(1, strategy="average", seed=0, symbol="[A]"), _step(1, strategy="average", seed=0, symbol="[B]")]
    assert list(progress.series(symbols)) == ["[A] average", "[B] average"]
