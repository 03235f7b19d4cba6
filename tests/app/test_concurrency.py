"""Several users at once, through the running app with ``gradio_client``.

The app (``app.py --tiny``) runs in a subprocess with a temporary run store. Two clients press
Start on the Train tab at the same moment, each with its own spec (its own symbol and token),
strategy and hyperparameters, and then watch their job the way the page's timer does. A third
client keeps reading the run list (and opening the runs in it) while the jobs write.

Checked: the jobs run one after the other (the second is queued behind the first, and no training
step of one falls between steps of the other); each client only ever sees its own job (its id in
every status line and chart title, its own number of steps, its own events and result, its own
token in the stored spec and generations); every run list the third client reads is well formed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from gradio_client import Client

from core.train.events import step_events
from core.service import SPEC_FIELDS
from core.spec.fields import LIST_FIELDS
from core.runs.store import FINISHED, RUN_ID, STATUSES, RunStore
from glossui.tabs import initialize, train
from tests.conftest import tiny_spec_dict
from tests.reliability import figure
from tests.glossui.test_browser import app  # noqa: F401 - the module-scoped app on the tiny model

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
RUNS_HEAD = ["Run", "Kind", "Title", "Status", "Created", "Finished", "Error"]
JOB_TIMEOUT_S = 150


# -- helpers shared with tests/app/test_trust.py ---------------------------------------------------
def spec_values(spec: dict) -> dict[str, str]:
    """The Gloss tab's text boxes for ``spec`` (one item a line), by elem_id."""
    return {f"spec-{n}": "\n".join(spec[n]) if n in LIST_FIELDS else str(spec.get(n) or "") for n in SPEC_FIELDS}


def endpoint_args(client: Client, api_name: str, values: dict) -> list:
    """Positional arguments of the page's endpoint ``api_name``, each input given by its elem_id.

    The page's handlers take their inputs as a set of components, which Gradio passes in the
    order the page created them; this reads that order from the app's config. An input not in
    ``values`` gets the page's own default (its component's initial value), as a user who did
    not touch it would send; every name in ``values`` must be an input of the endpoint."""
    dep = next(d for d in client.config["dependencies"] if d.get("api_name") == api_name.lstrip("/"))
    components = {c["id"]: c for c in client.config["components"]}
    inputs = [components[i] for i in dep["inputs"] if not components[i].get("skip_api")]
    ids = [c["props"].get("elem_id") for c in inputs]
    unknown = set(values) - set(ids)
    assert not unknown, f"not inputs of {api_name}: {unknown}"
    return [values[i] if i in values else c["props"].get("value") for i, c in zip(ids, inputs)]


def start_values(spec: dict, init: dict | None = None, finetune: dict | None = None) -> dict:
    """The inputs of the Train tab's Start by elem_id: Initialize settings, hyperparameters, spec fields.

    Settings not given keep the page's defaults (``InitConfig`` and ``FinetuneConfig``); ``init``
    and ``finetune`` override some of them by name."""
    return ({initialize.elem_id(n): v for n, v in (init or {}).items()}
            | {train.elem_id(n): v for n, v in (finetune or {}).items()} | spec_values(spec))


def start_args(client: Client, spec: dict, init: dict | None = None, finetune: dict | None = None) -> list:
    """Positional inputs of the Train tab's Start (``/start_training``) for ``client``'s app."""
    return endpoint_args(client, "/start_training", start_values(spec, init, finetune))


def plain(markdown: str) -> str:
    """Markdown as the page escapes it (``render.md``), with the escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown or "")


def job_id_of(status: str) -> str:
    m = re.search(r"\bJob (\S+) ", plain(status))
    assert m, f"no job id in the status line {status!r}"
    return m.group(1)


def no_traceback(value) -> bool:
    text = str(value)
    return "Traceback" not in text and 'File "' not in text


def spec_with(symbol_id: str, **changes) -> dict:
    """The tests' tiny spec for another symbol: its token replaced everywhere."""
    spec = tiny_spec_dict()
    old, new = spec["new_token"], f"[BLISS_{symbol_id}]"
    spec = {k: ([s.replace(old, new) for s in v] if isinstance(v, list) else v) for k, v in spec.items()}
    return spec | {"symbol_id": symbol_id, "new_token": new} | changes


def wait_job(client: Client, timeout_s: float = JOB_TIMEOUT_S) -> tuple:
    """Poll the Train tab (as its timer does) until the client's job has ended; the last view."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = client.predict(False, api_name="/train_view")
        if not any(w in plain(view[0]) for w in ("is queued", "is starting", "is running", "is stopping")):
            return view
        time.sleep(0.4)
    raise AssertionError(f"the job did not end within {timeout_s} s: {view[0]!r}")


# -- the test ----------------------------------------------------------------------------------------
# Two users, each with their own symbol, strategy and schedule: 4 sentences, so A trains
# 3 epochs x 4 steps = 12 steps and B 2 epochs x 2 steps = 4 steps.
USERS = {
    "A": {"spec": spec_with("29111"), "init": {"strategy": "average"},
          "finetune": {"epochs": 3, "batch_size": 1, "grad_accum": 1, "eval_every": 1}, "steps": 12,
          "init_label": "Averaged input"},
    "B": {"spec": spec_with("12345", glosses=["yarn shop"]), "init": {"strategy": "random", "seed": 3},
          "finetune": {"epochs": 2, "batch_size": 2, "grad_accum": 1, "eval_every": 1}, "steps": 4,
          "init_label": "Random"},
}


def _poll_title(view) -> str:
    plot = view[2]
    if isinstance(plot, dict) and isinstance(plot.get("value"), dict):
        layout = json.loads(plot["value"]["plot"]).get("layout", {})
        return str((layout.get("title") or {}).get("text", ""))
    return ""


def _table_rows(update) -> list[list]:
    value = update.get("value", update) if isinstance(update, dict) else {}
    return [r for r in (value or {}).get("data") or [] if any(str(c) for c in r)]


def _user(name: str, url: str, barrier: threading.Barrier) -> dict:
    """One user: press Start (together with the other user), then watch the job until it ends."""
    cfg = USERS[name]
    client = Client(url, verbose=False)
    args = start_args(client, cfg["spec"], cfg["init"], cfg["finetune"])
    barrier.wait(timeout=30)
    first = client.predict(*args, api_name="/start_training")
    job_id = job_id_of(first[0])
    seen = {"job_id": job_id, "first": plain(first[0]), "statuses": [], "titles": [], "max_rows": 0}
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        view = client.predict(False, api_name="/train_view")
        seen["statuses"].append(plain(view[0]))
        seen["titles"].append(_poll_title(view))
        seen["max_rows"] = max(seen["max_rows"], len(_table_rows(view[3])))
        if not any(w in plain(view[0]) for w in ("is queued", "is starting", "is running", "is stopping")):
            break
        assert time.monotonic() < deadline, f"{name}: the job did not end in time"
        time.sleep(0.3)
    seen["final"] = view
    seen["run"] = client.predict(job_id, api_name="/open_run") if _refresh_and_pick(client, job_id) else None
    return seen


def _refresh_and_pick(client: Client, run_id: str) -> bool:
    """Refresh the run list of this client's page (so that the run is a choice of the picker)."""
    out = client.predict(None, api_name="/refresh_runs")
    return any(choice[1] == run_id for choice in out[1]["choices"])


def _check_run_list(out, problems: list[str]) -> set[str]:
    """Every entry of a run list well formed; returns the run ids it lists."""
    table = out[0]["value"]
    if table["headers"] != RUNS_HEAD:
        problems.append(f"headers {table['headers']}")
    ids = set()
    for row in _table_rows(out[0]):
        if len(row) != len(RUNS_HEAD):
            problems.append(f"row of {len(row)} cells: {row}")
            continue
        run_id, kind, _title, status, created, finished, _error = row
        ids.add(run_id)
        if not RUN_ID.match(str(run_id)):
            problems.append(f"bad id {run_id!r}")
        if kind not in ("finetune", "compare"):
            problems.append(f"{run_id}: kind {kind!r}")
        if status not in STATUSES:
            problems.append(f"{run_id}: status {status!r}")
        if not ISO.match(str(created)):
            problems.append(f"{run_id}: created {created!r}")
        if status in FINISHED and not ISO.match(str(finished)):
            problems.append(f"{run_id}: {status} without a finish time ({finished!r})")
    for picker in out[1:]:
        for label, value in picker["choices"]:
            if value not in ids or not label.endswith(value):
                problems.append(f"picker choice {label!r} -> {value!r} does not match the table")
    return ids


def _reader(url: str, done: threading.Event) -> dict:
    """The third user: reads the run list over and over, and opens each run it finds in turn."""
    client = Client(url, verbose=False)
    problems: list[str] = []
    polls = opened = 0
    seen: set[str] = set()
    started = time.monotonic()
    while True:
        finished = done.is_set()
        out = client.predict(None, api_name="/refresh_runs")
        polls += 1
        ids = _check_run_list(out, problems)
        seen |= ids
        if ids:  # open one listed run per poll, round robin: its files are being written too
            run_id = sorted(ids)[polls % len(ids)]
            summary = client.predict(run_id, api_name="/open_run")[0]
            opened += 1
            text = plain(summary)
            status = re.search(r"Status: \*\*(\w+)\*\*", text)
            if f"Run {run_id}" not in text or not status or status.group(1) not in STATUSES:
                problems.append(f"open {run_id}: {text[:200]!r}")
            if not no_traceback(summary):
                problems.append(f"open {run_id}: traceback")
        if finished or time.monotonic() - started > JOB_TIMEOUT_S * 2:
            break
        time.sleep(0.2)
    return {"polls": polls, "opened": opened, "problems": problems, "ids": seen}


def test_two_users_train_at_once_and_a_third_reads_the_run_list(app):
    url, runs = app
    barrier = threading.Barrier(2)
    done = threading.Event()
    with ThreadPoolExecutor(3) as pool:
        reader = pool.submit(_reader, url, done)
        users = {name: pool.submit(_user, name, url, barrier) for name in USERS}
        try:
            seen = {name: f.result(timeout=JOB_TIMEOUT_S * 2) for name, f in users.items()}
        finally:
            done.set()
        read = reader.result(timeout=60)

    ids = {name: s["job_id"] for name, s in seen.items()}
    assert ids["A"] != ids["B"]
    store = RunStore(runs)
    for name, s in seen.items():
        cfg, own, other = USERS[name], ids[name], ids["B" if name == "A" else "A"]
        # Every status line and chart title this client saw was about its own job.
        assert all(own in line and other not in line for line in s["statuses"]), (name, s["statuses"])
        titles = [t for t in s["titles"] if t]
        assert titles and all(own in t and other not in t for t in titles), (name, titles)
        assert "finished" in s["statuses"][-1], (name, s["statuses"][-1])
        # Its events: exactly its own steps (0 = before training), as its run stored them.
        final = s["final"]
        rows = _table_rows(final[3])
        stored = [e for e in step_events(store.events(own)) if "step" in e]
        assert [int(r[0]) for r in rows] == list(range(cfg["steps"] + 1)), (name, rows)
        assert [int(r[0]) for r in rows] == sorted({int(e["step"]) for e in stored})
        assert s["max_rows"] <= cfg["steps"] + 1
        # Its result: its own strategy; the stored run has its own spec and token.
        result = dict(_table_rows(final[4]))
        assert result["Initialization"].startswith(cfg["init_label"]), (name, result["Initialization"])
        assert s["run"] is not None, f"{name}: its run is not in the run list"
        spec = s["run"][4]["value"]
        assert spec["new_token"] == cfg["spec"]["new_token"] and spec["symbol_id"] == cfg["spec"]["symbol_id"]
        generations = _table_rows(s["run"][3])
        assert generations and all(cfg["spec"]["new_token"] in row[2] for row in generations)
        assert not any(USERS["B" if name == "A" else "A"]["spec"]["new_token"] in str(c)
                       for row in generations for c in row)
        assert no_traceback(s["statuses"]) and no_traceback(final)

    # One job at a time: the later one was queued behind the other, and no training step of one
    # happened between the steps of the other.
    events = {name: store.events(ids[name]) for name in USERS}
    queued = {name: next(e["position"] for e in ev if e.get("status") == "queued") for name, ev in events.items()}
    assert sorted(queued.values()) == [0, 1], queued
    first, second = sorted(USERS, key=lambda n: queued[n])
    step_times = {name: [e["time"] for e in ev if e.get("type") == "step"] for name, ev in events.items()}
    assert step_times[first] and step_times[second]
    assert max(step_times[first]) < min(step_times[second])
    assert "is queued: 1 job ahead" in seen[second]["first"] or \
        any("is queued" in line for line in seen[second]["statuses"]), seen[second]["statuses"][:3]

    # The third user never saw a broken entry, and saw both runs.
    assert not read["problems"], read["problems"][:10]
    assert set(ids.values()) <= read["ids"]
    assert read["polls"] >= 5
    polls = sum(len(s["statuses"]) for s in seen.values())
    figure("several users",
           f"2 clients trained at once (one queued behind the other, {USERS['A']['steps']} and "
           f"{USERS['B']['steps']} steps): {polls} job polls, each saw only its own job, events and result; "
           f"a third client read the run list {read['polls']} times and opened a run {read['opened']} times "
           f"while they wrote: {len(read['problems'])} broken entries")
