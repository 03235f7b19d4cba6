"""core.quiet.quiet: libraries turned down at the source, never by swapping sys.stderr; thread-safe."""

from __future__ import annotations

import logging
import sys
import threading
import warnings

from transformers.utils import logging as hf_logging

from core.quiet import quiet


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _transformers_records():
    handler = _Records()
    logging.getLogger("transformers").addHandler(handler)  # transformers' root logger does not propagate
    return handler


def test_quiet_silences_a_transformers_warning_and_restores_after():
    logger = hf_logging.get_logger("transformers.test_quiet")
    handler = _transformers_records()
    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_warning()
    try:
        stderr = sys.stderr
        with quiet():
            assert sys.stderr is stderr
            logger.warning("hidden")
            assert hf_logging.get_verbosity() == hf_logging.ERROR
            assert not hf_logging.is_progress_bar_enabled()
        assert sys.stderr is stderr
        logger.warning("shown")
        assert handler.messages == ["shown"]
        assert hf_logging.get_verbosity() == hf_logging.WARNING
        assert hf_logging.is_progress_bar_enabled()
    finally:
        logging.getLogger("transformers").removeHandler(handler)
        hf_logging.set_verbosity(before)


def test_quiet_filters_the_known_noisy_warning_only_inside():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet():
            warnings.warn("model.is_gradient_checkpointing is deprecated", FutureWarning)
            warnings.warn("something else", UserWarning)
        warnings.warn("model.is_gradient_checkpointing is deprecated", FutureWarning)
    assert [str(w.message) for w in caught] == ["something else", "model.is_gradient_checkpointing is deprecated"]


def test_quiet_lowers_the_other_libraries_loggers_and_restores_them():
    peft = logging.getLogger("peft")
    level = peft.level
    peft.setLevel(logging.INFO)
    try:
        with quiet():
            assert not peft.isEnabledFor(logging.WARNING)
            with quiet():  # nested
                pass
            assert not peft.isEnabledFor(logging.WARNING)
        assert peft.level == logging.INFO
    finally:
        peft.setLevel(level)


def test_quiet_from_two_threads_at_once():
    """The first in lowers, the last out restores: one thread leaving never un-quiets the other."""
    before = hf_logging.get_verbosity()
    stderr = sys.stderr
    both_inside, first_left = threading.Barrier(2, timeout=30), threading.Event()
    seen: dict[str, list] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def worker(name: str, leave_first: bool):
        try:
            with quiet():
                both_inside.wait()
                seen[name].append((sys.stderr is stderr, hf_logging.get_verbosity()))
                if leave_first:
                    return
                assert first_left.wait(30)
                seen[name].append((sys.stderr is stderr, hf_logging.get_verbosity()))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            if leave_first:
                first_left.set()

    threads = [threading.Thread(target=worker, args=("a", True)), threading.Thread(target=worker, args=("b", False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert seen["a"] == [(True, hf_logging.ERROR)]
    assert seen["b"] == [(True, hf_logging.ERROR), (True, hf_logging.ERROR)]  # still quiet after "a" left
    assert hf_logging.get_verbosity() == before
    assert sys.stderr is stderr
