"""What the tabs share: the ``Page`` a tab is built on (with what this browser remembers: its open
tab and its last initialization), the error-catching ``handler`` wrapper, ``shown``, the spec
fields ⇄ dict conversion, and settings widgets built from the engine's field descriptions. The
tabs that run jobs share ``glossui.job_panel.JobPanel``.

Handlers take one dict ``{component: value}`` (their ``inputs`` are a set of components) and
return one dict ``{component: update}``; an output a handler does not return is left as it was.
They never let an exception reach Gradio as a stack trace: ``@handler`` turns an ``InputError``
into a message naming each field and its fix, and anything unexpected into a short readable
message (the traceback goes to the server log). A handler that is a generator yields such dicts
as it goes (the last one stays); a failure becomes its last one.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Callable

import gradio as gr

from core.service import LIST_FIELDS, InputError, Service, problems_of
from glossui import render
from glossui import strings as S

log = logging.getLogger(__name__)



def handler(fn=None, *, message: gr.components.Component | None = None):
    """Wrap a handler so that every failure reaches the user as a readable message.

    With ``message`` (the tab's message component, one of the handler's outputs), input problems
    are listed there, inline, and the other outputs are left as they were; without it they appear
    in an error toast. Anything unexpected becomes a short message in a toast; its traceback goes
    to the server log, never to the page. (Inline rather than toasts where we can: a message that
    stays is easier to act on, and Gradio's toast fails axe's nested-interactive rule.)
    """
    if fn is None:
        return lambda f: handler(f, message=message)

    def failed(exc: Exception) -> dict:
        """The message for a failure (input problems inline when there is a message component)."""
        if isinstance(exc, gr.Error):
            raise exc
        if isinstance(exc, InputError):
            problems = problems_of(exc)
            if message is None:
                raise gr.Error(render.problems_toast(problems), title=S.ERROR_TITLE, print_exception=False) from None
            return {message: render.problems_md(problems)}
        log.exception("handler %s failed", fn.__name__, exc_info=exc)
        raise gr.Error(render.plain(S.UNEXPECTED.format(kind=type(exc).__name__)), print_exception=False) from None

    if inspect.isgeneratorfunction(fn):  # a handler that shows where it is before it ends (Gradio streams it)
        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                yield failed(exc)

        return streaming

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            return failed(exc)

    return wrapper


def shown(value):
    """Show a component (hidden while it has nothing to show) with this value."""
    return gr.update(value=value, visible=True)


# -- the spec's text boxes ---------------------------------------------------------------------------
def lines(text: str | None) -> list[str]:
    """One item a line; blank lines and surrounding spaces are ignored."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def spec_from_texts(texts: dict[str, str]) -> dict:
    """The spec dict from the Gloss tab's text boxes, by field name (lists: one item a line); an
    empty description is left out, as a spec file leaves it out."""
    out = {name: lines(value) if name in LIST_FIELDS else (value or "").strip() for name, value in texts.items()}
    if not out.get("description", True):
        del out["description"]
    return out


def spec_to_texts(spec: dict, names) -> dict[str, str]:
    """The text of each box ``names`` lists, by field name, for ``spec``."""
    out = {}
    for name in names:
        value = spec.get(name, [] if name in LIST_FIELDS else "")
        out[name] = "\n".join(value) if isinstance(value, list) else str(value or "")
    return out


# -- settings widgets from the engine's field descriptions ---------------------------------------------
def _n(x) -> str:
    """A limit as a person writes it: 2,147,483,647 and 1e-07 rather than 2.14748e+09."""
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def setting_widget(f: dict, elem_id: str, *, radio: bool = False):
    """A labelled widget for one field description (``{name, kind, default, choices, min, max,
    label, help, advanced}``); ``radio``: a choice as radio buttons rather than a dropdown."""
    rng = S.RANGE_INFO.format(lo=_n(f["min"]), hi=_n(f["max"])) if f.get("min") is not None else ""
    info = rng + (f.get("help") or "")
    common = dict(label=f.get("label") or f["name"].replace("_", " ").capitalize(), info=info or None,
                  elem_id=elem_id)
    kind = f["kind"]
    if kind == "bool":
        return gr.Checkbox(value=bool(f["default"]), **common)
    if kind == "choice":
        return (gr.Radio if radio else gr.Dropdown)(choices=f["choices"], value=f["default"], **common)
    if kind in ("int", "float"):
        return gr.Number(value=f["default"], precision=0 if kind == "int" else None, **common)
    return gr.Textbox(value=str(f["default"] if f["default"] is not None else ""), **common)


def setting_grid(fields: list[dict], elem_id: Callable[[str], str], per_row: int = 4, **kw) -> dict:
    """Widgets for ``fields`` in rows of ``per_row``, by field name."""
    widgets: dict = {}
    for start in range(0, len(fields), per_row):
        with gr.Row():
            for f in fields[start:start + per_row]:
                widgets[f["name"]] = setting_widget(f, elem_id(f["name"]), **kw)
    return widgets


# -- the page ------------------------------------------------------------------------------------------
class Page:
    """What a tab's ``build(page)`` gets: the service, the other tabs' components by name, and
    what several tabs share (this browser's remembered jobs, the run pickers, the job panels).

    A tab may use the components of tabs listed before it in ``glossui.layout.TABS`` directly
    (``page["initialize"]["settings"]``); wiring that needs tabs built after it goes in a
    ``@page.later`` function, run once every tab exists.
    """

    def __init__(self, service: Service, demo: gr.Blocks, default_example: str | None = None) -> None:
        self.service = service
        self.demo = demo
        self.default_example = default_example
        self.tabs: dict[str, dict] = {}
        # This browser's own jobs, kept in its local storage: a reload reattaches to them.
        self.remembered = gr.BrowserState({}, storage_key="glosslab-jobs")
        # The tab open last and the last initialization's results: a reload shows them again.
        self.open_tab = gr.BrowserState("", storage_key="glosslab-tab")
        self.last_init = gr.BrowserState(None, storage_key="glosslab-init")
        self.run_pickers: list = []       # pickers of trained models (Generate, Export); the Runs tab fills them
        self.run_refreshers: list = []    # their Refresh buttons
        self.job_panels: list = []        # the tabs' ``glossui.job_panel.JobPanel``s
        self.tab_items: dict[str, gr.Tab] = {}  # each tab by id (the layout fills it as it builds them)
        self._later: list[Callable[[], None]] = []

    def add(self, tab_id: str, components: dict) -> dict:
        """Publish a tab's components by name (for other tabs and for tests)."""
        self.tabs[tab_id] = components
        return components

    def __getitem__(self, tab_id: str) -> dict:
        return self.tabs[tab_id]

    def later(self, fn: Callable[[], None]) -> Callable[[], None]:
        self._later.append(fn)
        return fn

    def finish(self) -> None:
        for fn in self._later:
            fn()
        self._later.clear()

    def add_run_picker(self, picker, refresh) -> None:
        """A dropdown of trained models that the run list fills, and the button that refreshes it."""
        self.run_pickers.append(picker)
        self.run_refreshers.append(refresh)

    def fn(self, api_name: str) -> Callable:
        """The handler wired under ``api_name`` (for tests and scripts)."""
        return next(f.fn for f in self.demo.fns.values() if f.api_name == api_name)

    # -- the values other tabs' handlers need, read by field name ---------------------------------
    @property
    def spec_fields(self) -> dict:
        """The Gloss tab's text boxes, by spec field name."""
        return self["gloss"]["fields"]

    def spec_of(self, values: dict) -> dict:
        return spec_from_texts({name: values[box] for name, box in self.spec_fields.items()})

    def settings_of(self, tab_id: str, values: dict) -> dict:
        """A tab's settings (``page[tab_id]["settings"]``) by field name."""
        return {name: values[w] for name, w in self[tab_id]["settings"].items()}

    def inputs(self, *groups: dict) -> set:
        """The components of several name → component dicts, as an event's input set."""
        return {c for group in groups for c in group.values()}

    def settings_update(self, tab_id: str, values: dict | None, skip: tuple[str, ...] = ()) -> dict:
        """Updates setting a tab's settings widgets to ``values`` (by field name; others left alone)."""
        widgets = self[tab_id]["settings"]
        return {widgets[name]: value for name, value in (values or {}).items() if name in widgets and name not in skip}

    def wire_tabs(self, strip: gr.Tabs, tabs: dict[str, gr.Tab]) -> None:
        """Remember the tab this browser opens; a reload opens it again."""
        for tab_id, tab in tabs.items():
            tab.select(self._opener(tab_id), None, [self.open_tab], show_progress="hidden", queue=False,
                       api_name=f"open_{tab_id}")

        def reopen(values: dict) -> dict:
            tab_id = values[self.open_tab]
            return {strip: gr.Tabs(selected=tab_id) if tab_id in tabs else gr.skip()}

        self.demo.load(reopen, {self.open_tab}, [strip], show_progress="hidden", api_name="reopen_tab")

    def _opener(self, tab_id: str) -> Callable[[], dict]:
        def opened() -> dict:
            return {self.open_tab: tab_id}

        opened.__name__ = f"open_{tab_id}"
        return opened
