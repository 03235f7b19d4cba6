"""``quiet()``: no progress bars, info messages or known-noisy warnings from the ML libraries.

No stream is ever redirected: models load and train in worker threads, and swapping ``sys.stderr``
there would silence the whole process (the CLI's bars, every other thread) for as long. Libraries
are turned down at the source instead: logger levels, transformers' and huggingface_hub's bar
switches, a warning filter, and the raw tqdm bar of transformers' GGUF loader. Those settings are
process-wide, so entries are counted under a lock: the first in lowers them, the last out restores.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import threading
import warnings

_LOGGERS = ("peft", "bitsandbytes", "huggingface_hub")  # transformers' own is set through its API
_IGNORED = ((r".*is_gradient_checkpointing.*", FutureWarning),  # PEFT reading a deprecated property
            # PEFT saving a checkpoint of a model loaded from a folder it cannot find again
            (r"Could not find a config file in .*", UserWarning))
_lock = threading.Lock()
_depth = 0
_undo: list = []  # restores what the outermost entry changed, run in reverse order


def _lower() -> None:
    from huggingface_hub import utils as hub
    from transformers.utils import logging as hf_log

    level, bars, hub_off = hf_log.get_verbosity(), hf_log.is_progress_bar_enabled(), hub.are_progress_bars_disabled()
    _undo.append(lambda: hub.disable_progress_bars() if hub_off else hub.enable_progress_bars())
    _undo.append(lambda: (hf_log.set_verbosity(level), bars and hf_log.enable_progress_bar()))
    hf_log.set_verbosity_error()
    hf_log.disable_progress_bar()  # transformers' bars and huggingface_hub's
    for logger in map(logging.getLogger, _LOGGERS):
        _undo.append(functools.partial(logger.setLevel, logger.level))
        logger.setLevel(max(logger.level, logging.ERROR))
    with contextlib.suppress(ImportError, AttributeError):  # converting a GGUF file: a plain tqdm bar
        gguf = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
        _undo.append(functools.partial(setattr, gguf, "tqdm", gguf.tqdm))
        gguf.tqdm = functools.partial(gguf.tqdm, disable=True)
    for message, category in _IGNORED:
        warnings.filterwarnings("ignore", message=message, category=category)
        _undo.append(functools.partial(_drop_filter, warnings.filters[0]))


def _drop_filter(entry) -> None:
    if entry in warnings.filters:
        warnings.filters.remove(entry)
        getattr(warnings, "_filters_mutated", lambda: None)()


@contextlib.contextmanager
def quiet():
    """Silence transformers, peft, bitsandbytes and huggingface_hub in the block (thread-safe, nestable)."""
    global _depth
    with _lock:
        if _depth == 0:
            _lower()  # imports first, so a failure there changes nothing
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            while _depth == 0 and _undo:
                with contextlib.suppress(Exception):
                    _undo.pop()()
