"""Benchmark: the same small comparison here (the default local path) and on 2 local Ray workers.

Runs ``core.experiment.single.compare.run_comparison`` on the same model, spec and grid (default: average
and random × 2 seeds × 1 epoch on data/wool_shop.json, the embedded SmolLM2-135M) twice:

* local: what the app runs without Ray (``workers`` automatic: worker processes side by side, or
  this process; ``--local-workers 1`` for one after another here);
* ray: a local Ray instance with 2 CPUs, every member a Ray task with 1 CPU (``RayTasks``).

Local first, then Ray (``--ray-first``: the other way round, to see what the order costs).

Printed: the machine's matrix-multiply peak now (``bench/peak.py``, to judge how busy the shared host
is), each run's wall time, the time to start the Ray instance (paid once per app or command, not per
comparison), whether the members' numbers agree (times excepted, to 1e-4 relative: a different
number of threads per matrix product adds up in a different order), and ``speedup:`` (local wall
time over Ray's, the instance already started; on 2 cores about 1 is expected: the point is that
Ray's overhead is small) and the same with Ray's start-up counted.

    python bench/ray_compare.py [--spec data/wool_shop.json] [--model NAME] [--strategies average,random]
                                [--seeds 2] [--epochs 1] [--local-workers 0] [--ray-first]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compare import add_grid_arguments, differences, load_grid  # noqa: E402  (bench/ is the script's folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_grid_arguments(parser, epochs=1)
    parser.add_argument("--local-workers", type=int, default=0, help="members at once locally (0 = automatic)")
    parser.add_argument("--ray-first", action="store_true", help="run on Ray first, then locally (order effects)")
    args = parser.parse_args(argv)

    from core.experiment.single.compare import run_comparison
    from core.execution import BackendConfig, backend_for
    from core.execution.ray_tasks import RayTasks

    grid = load_grid(args)
    if grid is None:
        return 2
    base, spec, config = grid
    import ray

    def run_local():
        wall = time.perf_counter()
        local = run_comparison(spec, base, config, backend=backend_for(BackendConfig(workers=args.local_workers)))
        wall = time.perf_counter() - wall
        print(f"local: {wall:7.1f} s  ({local.where})", flush=True)
        return local, wall

    def run_ray():
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        try:
            backend = RayTasks(cpus=1).connect()
            started = time.perf_counter() - start
            wall = time.perf_counter()
            on_ray = run_comparison(spec, base, config, backend=backend)
            wall = time.perf_counter() - wall
        finally:
            ray.shutdown()
        print(f"  ray: {wall:7.1f} s  ({on_ray.where}); starting the instance took {started:.1f} s", flush=True)
        return on_ray, wall, started

    if args.ray_first:
        on_ray, wall_ray, started = run_ray()
        local, wall_local = run_local()
    else:
        local, wall_local = run_local()
        on_ray, wall_ray, started = run_ray()

    problems = [f"{a['name']}: " + "; ".join(gaps) for a, b in zip(local.members, on_ray.members)
                if (gaps := differences(a["row"], b["row"]))]
    if len(local.members) != len(on_ray.members) or on_ray.failed:
        problems.append(f"{len(local.members)} members vs {len(on_ray.members)} (failed: {on_ray.failed})")
    if problems:
        print("rows DIFFER:\n  " + "\n  ".join(problems))
    else:
        print(f"rows agree: every number of all {len(local.members)} members is the same in both runs "
              "(times excepted; to 1e-4 relative)")
    for a, b in zip(local.rows, on_ray.rows):
        print(f"  {a['strategy']:>8}: eval_loss local {a['eval_loss']:.6f}, ray {b['eval_loss']:.6f}; "
              f"mrr_positive_after local {a['mrr_positive_after']:.4f}, ray {b['mrr_positive_after']:.4f}")
    print(f"speedup with Ray's start-up counted: {wall_local / (wall_ray + started):.2f}")
    print(f"speedup: {wall_local / wall_ray:.2f}")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
