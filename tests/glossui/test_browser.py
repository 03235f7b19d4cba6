"""The page in a real browser: Debian's Chromium driven by Playwright, the app on the tiny model.

The app runs in a subprocess (``app.py --tiny``) on a free port with a temporary run store.
Screenshots of each step are saved under the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.spec.gloss import GlossSpec, builtin_examples

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's Chromium at /usr/bin/chromium "
                       "(`make browser` installs it)"),
]
HOSTILE = "<b>bold</b><script>window.__pwned = 1</script>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(runs: Path, log: Path, extra: list[str] | None = None, env: dict | None = None,
              tiny: bool = True):
    """Start ``app.py`` (``--tiny`` unless told otherwise) and wait until it answers; returns (process, url)."""
    port = free_port()
    environment = os.environ | {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"} | (env or {})
    environment.pop("GLOSSLAB_TINY", None)
    args = [sys.executable, "app.py", "--port", str(port), "--runs", str(runs), *(["--tiny"] if tiny else []),
            *(extra or [])]
    proc = subprocess.Popen(args, cwd=ROOT, env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status in (200, 401):
                    return proc, url
        except OSError as exc:
            if getattr(exc, "code", None) == 401:
                return proc, url
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the app did not start in time:\n{log.read_text()[-3000:]}")


def stop_app(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(url, runs folder) of an app on the tiny model, shared by this module's tests."""
    folder = tmp_path_factory.mktemp("app")
    proc, url = start_app(folder / "runs", folder / "app.log")
    yield url, folder / "runs"
    stop_app(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                              "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser, app, tmp_path):
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    pg.goto(app[0])
    wait_ready(pg)
    yield pg
    context.close()


def wait_ready(pg) -> None:
    """Wait until the page has run its load events (the Gloss tab says what it loaded)."""
    pg.get_by_role("tab", name="1. Gloss").wait_for()
    pg.wait_for_function("() => { const s = document.querySelector('#spec-status');"
                         " return s && s.innerText.includes('Loaded'); }")
    pg.wait_for_timeout(300)


def shot(pg, tmp_path: Path, name: str) -> None:
    pg.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def open_tab(pg, name: str) -> None:
    pg.get_by_role("tab", name=name).click()
    pg.wait_for_timeout(300)


def field(pg, name: str):
    return pg.locator(f"#spec-{name} textarea, #spec-{name} input").first


def choose(pg, elem_id: str, option: str) -> None:
    """Pick ``option`` in a Gradio dropdown."""
    pg.locator(f"#{elem_id} input").click()
    pg.get_by_role("option", name=option, exact=True).click()
    pg.wait_for_timeout(300)


def example_name() -> str | None:
    examples = builtin_examples()
    return "wool_shop" if "wool_shop" in examples else next(iter(examples), None)


def example_spec() -> dict:
    """The spec the tests load: the wool shop example (or, without examples, the tests' tiny spec)."""
    from tests.conftest import tiny_spec_dict

    name = example_name()
    if name:
        return GlossSpec.load(builtin_examples()[name]).to_dict()
    return GlossSpec.from_dict(tiny_spec_dict()).to_dict()


def load_spec(pg, tmp_path: Path) -> dict:
    """Load the test spec into the Gloss tab: the built-in example from the dropdown, else an upload."""
    name = example_name()
    if name:
        load_example(pg, name)
    else:
        upload(pg, spec_file(tmp_path))
        pg.wait_for_function("() => document.querySelector('#spec-status').innerText.includes('uploaded')")
    return example_spec()


def load_example(pg, name: str) -> None:
    open_tab(pg, "1. Gloss")
    choose(pg, "example", name)
    pg.locator("#load-example").click()
    pg.wait_for_function("n => document.querySelector('#spec-status').innerText.includes(n)", arg=name)


def table_rows(pg, elem_id: str) -> list[list[str]]:
    """The body cells of a gr.Dataframe, as text (its rows are ARIA rows of grid cells)."""
    return pg.evaluate(
        """id => [...document.querySelectorAll(`#${id} [role=row][data-index]`)].map(
               row => [...row.querySelectorAll('[role=gridcell]')].map(c => c.innerText.trim()))""", elem_id)


def table_headers(pg, elem_id: str) -> list[str]:
    return pg.evaluate(
        "id => [...document.querySelectorAll(`#${id} [role=columnheader]`)].map(c => c.innerText.trim())", elem_id)


def plot_points(pg, elem_id: str) -> int:
    """How many points the plotly chart in ``elem_id`` draws (all traces)."""
    return pg.evaluate(
        """id => { const el = document.querySelector(`#${id} .js-plotly-plot`);
                   if (!el || !el.data) return 0;
                   return el.data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0); }""", elem_id)


def spec_file(tmp_path: Path, **changes) -> Path:
    """A spec file: the test spec with ``changes``."""
    data = example_spec() | changes
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def upload(pg, path: Path) -> None:
    open_tab(pg, "1. Gloss")
    with pg.expect_file_chooser() as chooser:
        pg.locator("#upload-spec").click()
    chooser.value.set_files(str(path))


def test_bad_input_is_reported_inline_and_the_page_keeps_working(page, tmp_path):
    pg = page
    bad = tmp_path / "broken.json"
    bad.write_text('{"symbol_id": "29111", "glosses": ["wool shop"', encoding="utf-8")
    upload(pg, bad)
    status = pg.locator("#spec-status")
    status.get_by_text("spec file", exact=False).wait_for()
    assert "not valid JSON" in status.inner_text()

    # An empty gloss and a prompt without its placeholder: each problem names its field and fix.
    load_spec(pg, tmp_path)
    field(pg, "glosses").fill("   ")
    field(pg, "generation_prompts").fill("no placeholder here")
    field(pg, "positive_contexts").fill("only one\n\nand tw")       # the counter follows the typing
    field(pg, "positive_contexts").press_sequentially("o")
    pg.wait_for_function("() => document.querySelector('#spec-positive_contexts').innerText"
                         ".includes('2 items (needs 3 to')")
    pg.locator("#check-spec").click()
    pg.wait_for_function("() => document.querySelector('#spec-status').innerText.includes('problem')")
    text = status.inner_text()
    assert "Gloss or glosses (glosses)" in text and "Generation prompts (generation_prompts, item 1)" in text
    assert "{placeholder}" in text and "Positive contexts (positive_contexts): has 2 items, needs at least 3" in text
    body = pg.locator("body").inner_text()
    assert "Traceback" not in body and 'File "' not in body
    shot(pg, tmp_path, "01-problems")

    # A model folder that is not there: the Model tab says so, naming the field and the fix.
    open_tab(pg, "2. Model")
    pg.locator("#model-name textarea, #model-name input").first.fill(str(tmp_path / "no-such-model"))
    pg.locator("#model-load").click()
    pg.wait_for_function("() => document.querySelector('#model-status').innerText.includes('Could not load')")
    text = status_text(pg, "model-status")
    assert "model" in text and "does not exist" in text and "Hugging Face id" in text
    shot(pg, tmp_path, "01-model-problem")
    pg.locator("#model-name textarea, #model-name input").first.fill("")
    pg.locator("#model-load").click()
    pg.wait_for_function("() => document.querySelector('#model-status').innerText.includes('Ready')")

    # A valid action afterwards still works.
    load_spec(pg, tmp_path)
    pg.locator("#check-spec").click()
    pg.wait_for_function("() => document.querySelector('#spec-status').innerText.includes('valid')")


def test_user_text_is_shown_literally_in_tables_and_charts(page, tmp_path):
    pg = page
    base = GlossSpec.from_dict(example_spec())
    prompts = [f"{HOSTILE} {{placeholder}} sells"] + base.generation_prompts[1:]
    tests = [f"{HOSTILE} {base.testing_positive_contexts[0]}"] + base.testing_positive_contexts[1:]
    upload(pg, spec_file(tmp_path, generation_prompts=prompts, testing_positive_contexts=tests))
    pg.wait_for_function("() => document.querySelector('#spec-status').innerText.includes('uploaded')")
    assert HOSTILE in field(pg, "testing_positive_contexts").input_value()
    open_tab(pg, "3. Initialize")
    pg.locator("#init-run").click()
    pg.locator("#init-ranks").wait_for(state="visible")
    ranks = table_rows(pg, "init-ranks")
    assert ranks[0][0] == tests[0]
    gens = table_rows(pg, "init-generations")
    assert gens[0][0] == prompts[0]
    # Nothing the user typed became markup: no <b> and no script ran.
    assert pg.locator("#init-ranks b, #init-generations b, #init-ranks script").count() == 0
    assert pg.evaluate("() => window.__pwned") is None
    assert not pg.dialogs
    shot(pg, tmp_path, "02-hostile-initialize")


def fill_number(pg, elem_id: str, value) -> None:
    box = pg.locator(f"#{elem_id} input")
    box.fill(str(value))
    box.press("Tab")


def status_text(pg, elem_id: str) -> str:
    return pg.locator(f"#{elem_id}").inner_text()


def test_the_whole_flow(page, app, tmp_path):
    """Load the example, initialize, train with a live chart, reload and find the job, stop it,
    open the run, see the generations side by side, download the spec and compare it."""
    pg = page
    spec = load_spec(pg, tmp_path)
    assert field(pg, "positive_contexts").input_value().splitlines() == spec["positive_contexts"]
    assert "item" in pg.locator("#spec-positive_contexts").inner_text()   # the counter

    # Download the spec as JSON: the same spec as the file it came from.
    pg.locator("#download-spec").click()
    link = pg.locator("#spec-file a").first
    link.wait_for()
    with pg.expect_download() as download:
        link.click()
    saved = tmp_path / "downloaded.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text(encoding="utf-8")) == spec
    shot(pg, tmp_path, "10-gloss")

    # Initialize with `average`: the rank table lists every testing context.
    open_tab(pg, "3. Initialize")
    pg.locator("#init-run").click()
    pg.locator("#init-ranks").wait_for(state="visible")
    ranks = table_rows(pg, "init-ranks")   # the rows drawn so far (a long table draws more as it scrolls)
    expected = spec["testing_positive_contexts"] + spec["testing_negative_contexts"]
    assert len(ranks) >= min(len(expected), 10) and [r[0] for r in ranks] == expected[:len(ranks)]
    assert all(int(r[2]) >= 1 for r in ranks)
    assert "Initialized" in status_text(pg, "init-message")
    shot(pg, tmp_path, "11-initialize")

    # Train long enough to watch: one sentence a step, validation every step.
    open_tab(pg, "4. Train")
    for elem_id, value in (("ft-epochs", 200), ("ft-batch_size", 1), ("ft-grad_accum", 1)):
        fill_number(pg, elem_id, value)
    pg.locator("#train-start").click()
    pg.wait_for_function("() => document.querySelector('#train-status').innerText.includes('is running: epoch')",
                         timeout=120_000)
    first = plot_points(pg, "train-plot")
    pg.wait_for_function(f"() => {{ const el = document.querySelector('#train-plot .js-plotly-plot');"
                         f" return el && el.data && el.data.reduce((n, t) => n + t.x.length, 0) > {first} + 3; }}",
                         timeout=60_000)
    assert plot_points(pg, "train-plot") > first
    # The run's id as the status line names it (whatever words come before it).
    job_id = re.search(r"\d{8}-\d{6}-finetune-[0-9a-f]+", status_text(pg, "train-status")).group(0)
    shot(pg, tmp_path, "12-training")

    # Reload: the page finds the running job again.
    pg.reload()
    wait_ready(pg)
    open_tab(pg, "4. Train")
    pg.wait_for_function("id => document.querySelector('#train-status').innerText.includes(id)", arg=job_id)
    assert "is running" in status_text(pg, "train-status") or "is stopping" in status_text(pg, "train-status")
    pg.wait_for_function("() => { const el = document.querySelector('#train-plot .js-plotly-plot');"
                         " return el && el.data && el.data.length >= 2; }")

    # Stop: cooperative, the job keeps what it had.
    pg.locator("#train-stop").click()
    pg.wait_for_function("() => document.querySelector('#train-status').innerText.includes('was stopped')",
                         timeout=120_000)
    shot(pg, tmp_path, "13-stopped")

    # Runs: the stopped run, opened as it was.
    open_tab(pg, "8. Runs")
    pg.locator("#runs-refresh").click()
    pg.wait_for_function("id => document.querySelector('#runs-table').innerText.includes(id)", arg=job_id)
    choose_containing(pg, "runs-pick", job_id)
    pg.locator("#runs-open").click()
    pg.wait_for_function("() => document.querySelector('#runs-summary').innerText.includes('stopped')")
    pg.locator("#runs-generations").wait_for(state="visible")
    shot(pg, tmp_path, "14-run")

    # Generate: every prompt with the gloss and with the token, before and after.
    open_tab(pg, "7. Generate")
    choose_containing(pg, "generate-pick", job_id)
    pg.locator("#generate-table").wait_for(state="visible")
    headers = table_headers(pg, "generate-table")
    for h in ("With the gloss (before)", "With the token (before)", "With the gloss (after)", "With the token (after)"):
        assert h in headers
    rows = table_rows(pg, "generate-table")
    prompts = spec["generation_prompts"]
    assert len(rows) >= min(len(prompts), 3) and [r[0] for r in rows] == prompts[:len(rows)]
    first_gloss = spec["glosses"][0]
    assert first_gloss in rows[0][1] and spec["new_token"] in rows[0][2]
    shot(pg, tmp_path, "15-generate")
    body = pg.locator("body").inner_text()
    assert "Traceback" not in body
    assert not pg.dialogs


def choose_containing(pg, elem_id: str, text: str) -> None:
    """Pick the first option of a dropdown whose label contains ``text``."""
    pg.locator(f"#{elem_id} input").click()
    pg.get_by_role("option").filter(has_text=text).first.click()
    pg.wait_for_timeout(300)
