"""Benchmark: Token Distillation as ``core.embedding.distill`` runs it vs the published loop written plainly.

Both learn the same new token's input row from the same snippets (built once here: the spec's
fine-tuning sentences with the gloss written back in, and ``--snippets`` generated ones), the same
start (the sub-token mean), the same shuffled order (seed ``--seed``) and the same settings
(defaults: the published ones, 1 epoch, batch 1, AdamW 1e-4, the last layer). ``--window`` and
``--precision`` apply to ours only (defaults: the published loop exactly, in the model's dtype).

* ``ours``: ``distill``: the teacher's hidden states computed once per snippet in batches and
  cached; the student's passes through the decoder stack only.
* ``reference``: the published training loop, written straightforwardly: at every step, for each
  snippet of the step, one at a time, a full forward pass of the model with the gloss's sub-tokens
  (the teacher, without gradients) and one with the vector in their place (the student), both with
  ``output_hidden_states=True`` (so the output layer runs over every position, as in the published
  code), the mean squared error at the compared positions, backward, AdamW. (The published code
  also keeps a dense gradient of the whole embedding matrix and takes a next-token step for the
  output embeddings; this reference leaves both out and trains the one vector, so the comparison
  is the distillation alone.)

Then both learned rows are measured with ``hidden_mse`` on the same held-out material
(``core.embedding.hidden``). Prints the machine's matrix-multiply peak now (how busy it is), the
starting row's measure, both final measures (the bar: combined values within 2 %), both times,
and last ``speedup: X`` (wall clock; with ``--threads 1``, this process's CPU time, which counts
the work each does whatever else runs on a shared machine). Building the snippets and the held-out
material is timed apart and is in neither time.

What to expect at the published defaults (1 epoch, batch 1): both do one student forward and
backward pass per snippet in sequence, because each step needs the vector the previous one made;
the reference adds a teacher pass and the output layer at every step. So ours saves at most that
share, about a third to a half of the reference's work per step, however the teacher pass is
cached. ``--window W`` batches the student passes of W steps at the vector of the window's first
step: faster, no longer the published loop exactly (the held-out measure shows how far).

    python bench/distill.py                                 # default model, data/wool_shop.json
    python bench/distill.py --window 16                     # student passes of 16 steps batched
    python bench/distill.py --spec data/ice_cream.json --threads 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from peak import machine_line, matmul_peak  # noqa: E402  (bench/ is the script's folder)

SPEEDUP_GOAL = 5.0
MEASURE_BAR = 0.02


def reference_distill(model, snippets, start, *, layer, lr, epochs, batch_size, seed):
    """The published loop, plainly: both full passes for every snippet at every step."""
    import torch

    from core.embedding.distill import resolve_layer
    from core.embedding.optimize import frozen

    index = resolve_layer(model, layer)
    embed = model.get_input_embeddings()
    e = start.clone().float().requires_grad_(True)
    optimizer = torch.optim.AdamW([e], lr=lr, weight_decay=0.0)
    shuffler = torch.Generator().manual_seed(seed)
    with frozen(model):
        for _ in range(epochs):
            order = torch.randperm(len(snippets), generator=shuffler).tolist()
            for step in range(0, len(order), batch_size):
                chosen = [snippets[i] for i in order[step:step + batch_size]]
                total = sum(s.compared for s in chosen) * e.shape[0]
                optimizer.zero_grad()
                for s in chosen:
                    ids = torch.tensor([list(s.ids)])
                    with torch.no_grad():
                        teacher = model(input_ids=ids, output_hidden_states=True).hidden_states[index][0]
                    a = s.aligned
                    rows = embed(torch.tensor([list(a.student_ids)]))[0]
                    is_token = torch.zeros(len(a.student_ids), 1, dtype=torch.bool)
                    is_token[list(a.token_positions)] = True
                    x = torch.where(is_token, e.view(1, -1), rows).unsqueeze(0)
                    student = model(inputs_embeds=x, output_hidden_states=True).hidden_states[index][0]
                    diff = student[list(a.student_positions)] - teacher[list(a.teacher_positions)]
                    (diff.float().pow(2).sum() / total).backward()
                optimizer.step()
    return e.detach()


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default=str(ROOT / "data" / "wool_shop.json"), help="gloss spec JSON")
    parser.add_argument("--model", default=None, help="model name or folder (default: the embedded SmolLM2)")
    parser.add_argument("--snippets", type=int, default=100, help="generated snippets (published: 100)")
    parser.add_argument("--length", type=int, default=50, help="tokens per generated snippet (published: 50)")
    parser.add_argument("--layer", type=int, default=-1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=int, default=1,
                        help="ours: steps whose student passes run together (1: the published loop exactly)")
    parser.add_argument("--precision", choices=("model", "bfloat16"), default="model", help="ours: of the passes")
    parser.add_argument("--held-out", type=int, default=32, help="held-out snippets of the measure")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's choice; 1 for CPU-time ratios on a busy machine)")
    args = parser.parse_args(argv)

    import torch

    from core.embedding.distill import check_settings, distill
    from core.embedding.field_rows import subtoken_mean
    from core.embedding.hidden import HeldOut
    from core.embedding.snippets import build_snippets
    from core.model.loading import load_model
    from core.spec.errors import InputError
    from core.spec.gloss import GlossSpec, check_spec

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    print(machine_line(), flush=True)
    print(f"matmul peak now: float32 {matmul_peak(torch.float32):.0f} GFLOP/s", flush=True)
    settings = dict(layer=args.layer, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    try:
        check_settings(snippets=args.snippets, length=args.length, window=args.window, **settings)
        loaded = load_model(args.model)
        model, tokenizer = loaded.model, loaded.tokenizer
        spec = check_spec(GlossSpec.load(args.spec), tokenizer)
        material, build_wall, _ = _timed(lambda: build_snippets(model, tokenizer, spec, snippets=args.snippets,
                                                                length=args.length, seed=args.seed))
    except InputError as exc:
        print(f"cannot run the benchmark:\n{exc}", file=sys.stderr)
        return 2
    held, held_wall, _ = _timed(lambda: HeldOut(model, tokenizer, spec, snippets=args.held_out,
                                                length=args.length, seed=args.seed))
    start = subtoken_mean(model, tokenizer, spec)
    compared = sum(s.compared for s in material)
    print(f"model: {loaded.name}  spec: {Path(args.spec).name}  threads: {torch.get_num_threads()}  "
          f"snippets: {len(material)} ({sum(s.source == 'sentence' for s in material)} sentences, "
          f"{sum(s.source == 'generated' for s in material)} generated; {compared} compared positions)  "
          f"settings: {settings}; ours: window {args.window}, precision {args.precision}")
    print(f"built the snippets in {build_wall:.1f} s and the held-out material "
          f"({len(held.snippet_set)} snippets) in {held_wall:.1f} s (in neither time below)", flush=True)

    ours, ours_wall, ours_cpu = _timed(lambda: distill(model, tokenizer, spec, snippet_set=material, init=start,
                                                       snippets=args.snippets, length=args.length, window=args.window,
                                                       precision=args.precision, **settings).vector)
    print(f"     ours: {ours_wall:8.1f} s wall, {ours_cpu:8.1f} s CPU", flush=True)
    ref, ref_wall, ref_cpu = _timed(lambda: reference_distill(model, material, start, **settings))
    print(f"reference: {ref_wall:8.1f} s wall, {ref_cpu:8.1f} s CPU", flush=True)

    measures = {name: held.measure(vector) for name, vector in (("start", start), ("ours", ours),
                                                                 ("reference", ref))}
    for name, m in measures.items():
        print(f"held-out hidden_mse {name:>9}: combined {m.combined:.6f}  (snippets {m.snippets:.6f} over "
              f"{m.snippet_positions} positions, contexts {m.contexts:.6f} over {m.context_pairs} pairs)")
    a, b = measures["ours"].combined, measures["reference"].combined
    gap = abs(a - b) / b
    cosine = float(torch.nn.functional.cosine_similarity(ours, ref, dim=0))
    print(f"final held-out hidden_mse: ours {a:.6f}, reference {b:.6f}, relative difference {gap:.2%} "
          f"(bar: within {MEASURE_BAR:.0%}); cosine between the two rows {cosine:.6f}")
    single = torch.get_num_threads() == 1
    speedup = ref_cpu / ours_cpu if single else ref_wall / ours_wall
    print(f"ratios: wall clock {ref_wall / ours_wall:.2f}, CPU time {ref_cpu / ours_cpu:.2f}")
    met = speedup >= SPEEDUP_GOAL and gap <= MEASURE_BAR
    print(f"goal (speedup >= {SPEEDUP_GOAL:g}, measures within {MEASURE_BAR:.0%}): {'met' if met else 'NOT met'} "
          f"(speedup measured in {'CPU time, one thread' if single else 'wall-clock time'})")
    print(f"speedup: {speedup:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
