"""Accessibility: axe-core (bundled by axe-playwright-python) on every tab, in Chromium.

No violation of impact "serious" or "critical" is allowed. Each tab is scanned as a user sees it
after using it: Initialize with its results, Train after a short training (chart and tables),
Vocabulary after an initialization of two symbols (table and heatmap), Runs with a run open,
Generate with a run's generations, Export with an adapter to download.
"""

from __future__ import annotations

import pytest

from tests.glossui.test_browser import (app, browser, choose_containing, fill_number, load_spec,  # noqa: F401
                                   open_tab, page, shot)

TABS = ["1. Gloss", "2. Model", "3. Initialize", "4. Train", "5. Compare", "6. Vocabulary", "7. Generate", "8. Runs",
        "9. Export"]
pytestmark = pytest.mark.browser


def serious(results: dict) -> list[str]:
    out = []
    for v in results["violations"]:
        if v.get("impact") in ("serious", "critical"):
            nodes = "; ".join(str(n.get("target")) for n in v["nodes"][:5])
            out.append(f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} nodes: {nodes})")
    return out


def fill_tab(pg, tab: str) -> None:
    """Put the tab in the state a user sees after using it (results shown), before scanning."""
    if tab == "3. Initialize":
        pg.locator("#init-run").click()
        pg.locator("#init-ranks").wait_for(state="visible")
    elif tab == "4. Train":
        for elem_id, value in (("ft-epochs", 2), ("ft-batch_size", 2), ("ft-grad_accum", 1)):
            fill_number(pg, elem_id, value)
        pg.locator("#train-start").click()
        pg.wait_for_function("() => document.querySelector('#train-status').innerText.includes('finished')",
                             timeout=180_000)
        pg.locator("#train-result").wait_for(state="visible")
    elif tab == "6. Vocabulary":
        from tests.glossui.test_vocab_browser import run_init_only

        run_init_only(pg)
    elif tab == "7. Generate":
        pg.locator("#generate-refresh").click()
        choose_containing(pg, "generate-pick", "done")
        pg.locator("#generate-table").wait_for(state="visible")
    elif tab == "8. Runs":
        pg.locator("#runs-refresh").click()
        choose_containing(pg, "runs-pick", "done")
        pg.locator("#runs-open").click()
        pg.locator("#runs-result").wait_for(state="visible")
    elif tab == "9. Export":
        pg.locator("#export-refresh").click()
        choose_containing(pg, "export-pick", "done")
        pg.locator("#export-adapter").click()
        pg.locator("#export-file").wait_for(state="visible")


def test_no_serious_or_critical_violations_on_any_tab(page, tmp_path):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    pg = page
    load_spec(pg, tmp_path)
    found: dict[str, list[str]] = {}
    for tab in TABS:
        open_tab(pg, tab)
        fill_tab(pg, tab)
        pg.wait_for_timeout(300)
        problems = serious(axe.run(pg).response)
        if problems:
            found[tab] = problems
        shot(pg, tmp_path, f"a11y-{tab.split('. ')[1].lower()}")
    assert not found, "\n".join(f"{tab}: {p}" for tab, problems in found.items() for p in problems)


def test_every_control_is_reachable_by_keyboard(page):
    """Tab through the Gloss tab: each spec field and button gets focus in turn."""
    pg = page
    seen: set[str] = set()
    pg.locator("#example input").focus()
    for _ in range(80):
        pg.keyboard.press("Tab")
        ident = pg.evaluate("""() => { const a = document.activeElement;
                                       const box = a && a.closest('[id]'); return box ? box.id : ''; }""")
        seen.add(ident)
    wanted = {"load-example", "upload-spec", "spec-symbol_id", "spec-glosses", "spec-positive_contexts",
              "spec-generation_prompts", "check-spec", "download-spec"}
    assert wanted <= seen, wanted - seen
