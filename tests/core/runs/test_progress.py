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


def test_the_evaluation_after_training_is_its_own_phase_with_its_own_share():
    steps = [_step(0), _step(10, epoch=2.0)]
    events = [{"type": "phase", "phase": "train", "message": "Fine-tuning"}, *steps,
              {"type": "phase", "phase": "evaluate_after", "message": "Evaluating after fine-tuning", "fraction": 0.0},
              {"type": "phase", "phase": "evaluate_after", "message": "Evaluating after fine-tuning: generating text, "
               "step 3 of 30", "fraction": 0.37}]
    p = progress.progress(events, steps)
    assert (p["phase"], p["fraction"], p["eta"]) == ("evaluate_after", 0.37, None)
    assert p["label"].endswith("step 3 of 30") and p["step"] == 10   # the training's numbers stay readable
    # Before the first step: the phase that runs (no step, no time left yet).
    early = [{"type": "status", "status": "running"},
             {"type": "phase", "phase": "init:copy", "message": "Copying the base model"}]
    p = progress.progress(early, [])
    assert (p["phase"], p["label"], p["phase_fraction"], p["fraction"]) == ("init", "Copying the base model", None, 0.0)
    # Step 0 (the evaluation before any training) is training already.
    assert progress.progress(early + [_step(0)], [_step(0)])["phase"] == "train"


def test_a_vocabulary_bar_advances_by_phase_and_symbol():
    plan = progress.VOCAB_PLAN
    total = sum(w for _, w in plan)
    weight = dict(plan)
    init = [{"type": "phase", "phase": "init:copy", "message": "Copying"},
            {"type": "init_epoch", "epoch": 2, "epochs": 4}]
    assert progress.progress(init, [], plan=plan)["fraction"] == round(weight["init"] * 0.5 / total, 4)
    evaluating = init + [{"type": "phase", "phase": "evaluate_before", "message": "Evaluating [B] (2 of 2)",
                          "fraction": 0.75}]
    p = progress.progress(evaluating, [], plan=plan)
    assert p["fraction"] == round((weight["init"] + 0.75 * weight["evaluate_before"]) / total, 4)
    assert p["label"] == "Evaluating [B] (2 of 2)"
    steps = [_step(5, max_steps=10)]
    training = evaluating + [{"type": "phase", "phase": "quantize", "message": "Quantizing"},
                             {"type": "phase", "phase": "train", "message": "Fine-tuning"}, *steps]
    expected = (weight["init"] + weight["evaluate_before"] + weight["quantize"] + 0.5 * weight["train"]) / total
    assert progress.progress(training, steps, plan=plan)["fraction"] == round(expected, 4)
    # Initialize only: the same two phases fill the whole bar.
    assert progress.progress(evaluating, [], plan=plan[:2])["fraction"] == round((2 + 0.75 * 2) / 4, 4)


def test_a_comparisons_time_left_starts_from_the_estimate_and_follows_the_members():
    start = {"type": "status", "status": "running", "time": 1000.0}
    member = {"type": "member", "status": "start", "index": 0, "total": 4, "message": "A", "strategy": "a", "seed": 0}
    p = progress.progress([start, member], [], estimate=600.0, now=1100.0)
    assert p["eta"] == 500.0 and (p["members_done"], p["members_total"]) == (0, 4)
    done = {**member, "status": "done"}
    second = {**member, "index": 1, "strategy": "b", "message": "B"}
    p = progress.progress([start, member, done, second], [], estimate=600.0, now=1200.0)
    # One of four members done in 200 s: 600 s more at that pace, whatever the estimate said.
    assert p["eta"] == 600.0 and p["members_done"] == 1 and p["label"] == "B"
    assert progress.progress([start, member], [], now=1100.0)["eta"] is None   # no estimate, nothing done yet


def test_a_vocabulary_draft_shows_its_share_and_the_time_left_it_gave_less_the_time_since():
    events = [{"type": "status", "status": "running", "time": 1000.0},
              {"type": "phase", "phase": "draft", "fraction": 0.0, "eta": None, "time": 1000.0,
               "message": "0 of 4 symbols done, 0 drafted"}]
    p = progress.progress(events, [], now=1010.0)
    assert (p["phase"], p["fraction"], p["eta"], p["label"]) == ("draft", 0.0, None, "0 of 4 symbols done, 0 drafted")
    events.append({"type": "phase", "phase": "draft", "fraction": 0.25, "eta": 60.0, "time": 1020.0,
                   "message": "1 of 4 symbols done, 1 drafted"})
    assert progress.progress(events, [], now=1020.0)["eta"] == 60.0
    p = progress.progress(events, [], now=1045.5)
    assert (p["fraction"], p["phase_fraction"], p["eta"]) == (0.25, 0.25, 34.5)
    assert progress.progress(events, [], now=1200.0)["eta"] == 0.0   # overdue: no time left, never negative
