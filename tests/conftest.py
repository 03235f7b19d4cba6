"""Shared fixtures: a tiny random Llama (fast, exact math) and a spec that is valid for its tokenizer."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# The initialization's passes in float32 on every machine, so that exact comparisons hold whether
# or not the CPU multiplies bfloat16 natively (tests of "auto" itself unset it).
os.environ.setdefault("GLOSSLAB_AUTO_PRECISION", "model")

pytest_plugins = ["tests.order"]

TOKEN = "[BLISS_29111]"


def tiny_spec_dict() -> dict:
    """A small but complete spec; every target word is a single token of the tiny tokenizer."""
    return {
        "symbol_id": "29111",
        "glosses": ["wool shop", "yarn shop"],
        "new_token": TOKEN,
        "target_tokens": ["wool", "yarn"],
        "positive_contexts": [
            "She needed more yarn, so she went to the",
            "Grandma buys her knitting supplies at the",
            "The knitting club meets every week at the",
            "He asked for balls of merino at the",
            "They sell needles and skeins at the",
        ],
        "negative_contexts": [
            "He brushes his",
            "The weather was cold, so they stayed at",
            "My friend plays the",
        ],
        "validation_contexts": ["To find soft yarn for a scarf, visit the", "Knitters love the local"],
        "testing_positive_contexts": ["I bought three skeins at the", "For new knitting needles, try the"],
        "testing_negative_contexts": ["We walked to the park after", "She likes to read books in the"],
        "fine_tuning_sentences": [
            f"She bought yarn at the {TOKEN} on the corner.",
            f"The {TOKEN} sells wool in many colours.",
            f"Grandma goes to the {TOKEN} every week.",
            f"The {TOKEN} had soft merino on sale.",
        ],
        "validation_sentences": [f"My aunt works at the {TOKEN} in town."],
        "generation_prompts": ["At the {placeholder} you can buy", "My favourite place is the {placeholder} because"],
        "notes": "test spec",
    }


# How much of a built-in spec a test on the default model keeps (``short``): enough sentences and
# contexts for the research's effects to show, few enough that a fine-tuning epoch takes seconds.
SHORT = {"positive_contexts": 16, "negative_contexts": 10, "validation_contexts": 4, "testing_positive_contexts": 5,
         "testing_negative_contexts": 5, "fine_tuning_sentences": 20, "validation_sentences": 6,
         "generation_prompts": 2}


def short(spec: dict, **keep: int) -> dict:
    """``spec`` (a spec's dict) with each list of ``SHORT`` (or ``keep``) cut to its first items: the
    same symbol and the same material, less of it."""
    counts = SHORT | keep
    return {k: v[:counts[k]] if k in counts and isinstance(v, list) else v for k, v in spec.items()}


@pytest.fixture
def spec_dict() -> dict:
    return tiny_spec_dict()


@pytest.fixture
def tiny_spec():
    from core.spec.gloss import GlossSpec

    return GlossSpec.from_dict(tiny_spec_dict())


@pytest.fixture
def tiny():
    """(model, tokenizer): a fresh tiny random Llama, untied, with a small BPE tokenizer."""
    from core.model.tiny import tiny_model

    return tiny_model()


@pytest.fixture(scope="session")
def default_model():
    """The embedded default model (SmolLM2-135M-Instruct), loaded once per test session."""
    from core.model.loading import load_model

    return load_model(None)


def pytest_sessionfinish(session):
    """A test worker (pytest-xdist) hands its reliability figures to the controller."""
    from tests import reliability

    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["reliability"] = reliability.export()


def pytest_testnodedown(node, error):
    """The controller adds a finished worker's reliability figures to its own."""
    from tests import reliability

    data = getattr(node, "workeroutput", {}).get("reliability")
    if data:
        reliability.merge(data)


def pytest_terminal_summary(terminalreporter):
    """Print the reliability figures the tests recorded (and write .reports/reliability.json)."""
    from tests import reliability

    path = reliability.write()
    if path is not None:
        terminalreporter.section("reliability figures")
        for line in reliability.summary():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(written to {path.relative_to(path.parent.parent)})")
