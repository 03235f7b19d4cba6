"""The shape of the house: imports point down, no cycle, small files, rooms that say what they own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each room of core/ with the rooms it may import (besides itself and the helpers below).
FLOORS = ["spec", "model", "embedding", "authoring", "train", "experiment", "report", "execution", "runs"]
HELPERS = {"core.atomic", "core.quiet", "core.jsonsafe"}


def _modules() -> dict[str, Path]:
    files = [p for d in ("core", "glossui") for p in (ROOT / d).rglob("*.py")]
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in files}


def _imports(path: Path, known: set[str]) -> set[str]:
    """Our modules that ``path`` imports, at the top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in ("core", "glossui")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in ("core", "glossui"):
                continue
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            found |= subs if subs else {node.module}
            if len(subs) < len(node.names):
                found.add(node.module)
    return {m for m in found if m in known}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(p, set(mods)) - {m} for m, p in mods.items()}


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in graph[m]:
            if state.get(n) == 1:
                cycles.append(" -> ".join(path[path.index(n):] + [m, n]) if n in path else f"{m} -> {n}")
            elif n not in state:
                visit(n, path + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])
    assert cycles == []


def _room(module: str) -> str | None:
    """The room of core/ a module belongs to (``core.spec.gloss`` → ``spec``), else None."""
    parts = module.split(".")
    if parts[0] == "core" and len(parts) > 1 and (len(parts) > 2 or parts[1] in FLOORS):
        return parts[1]
    return None


def test_imports_in_core_point_down():
    wrong = []
    for m, deps in _graph().items():
        room = _room(m)
        if room not in FLOORS:
            continue
        allowed = set(FLOORS[: FLOORS.index(room) + 1])
        for d in deps:
            if d in HELPERS:
                continue
            if d.startswith("glossui") or d == "core" or d.startswith(("core.service", "core.cli")) \
                    or _room(d) not in allowed:
                wrong.append(f"{m} imports {d}")
    assert wrong == []


def test_helpers_import_nothing_of_ours():
    graph = _graph()
    assert {m: graph[m] for m in HELPERS if graph[m]} == {}


def test_files_are_small():
    long = [str(p.relative_to(ROOT)) for p in _modules().values() if len(p.read_text().splitlines()) > 500]
    assert long == []


def test_every_room_says_what_it_owns_and_may_import():
    for room in FLOORS + ["service", "cli"]:
        doc = ast.get_docstring(ast.parse((ROOT / "core" / room / "__init__.py").read_text())) or ""
        assert "Owns:" in doc and "May import:" in doc, room


def test_no_importlib_for_our_own_modules_and_no_gradio_in_core():
    for m, p in _modules().items():
        text = p.read_text()
        assert "importlib.import_module(\"core" not in text and "import_module('core" not in text, m
        if m.startswith("core"):
            assert "import gradio" not in text and "from gradio" not in text, m


def test_every_core_module_has_its_test_file():
    missing = []
    for path in (ROOT / "core").rglob("*.py"):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        rel = path.relative_to(ROOT)
        expected = ROOT / "tests" / rel.parent / f"test_{path.name}"
        if not expected.is_file():
            missing.append(str(rel))
    assert missing == []


# -- the second house: one place per strategy, small functions, rooms that list what they own ------------

def _strategy_names() -> set[str]:
    from core.embedding.strategies import STRATEGIES

    return set(STRATEGIES)


def _declarations(tree: ast.AST) -> set[int]:
    """ids of the string constants that declare settings or choices: inside ``setting(...)``,
    ``Literal[...]`` or ``choices_of(...)``."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        declared = (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in
                    ("setting", "choices_of")) or \
                   (isinstance(node, ast.Subscript) and getattr(node.value, "id", getattr(node.value, "attr", "")) ==
                    "Literal")
        if declared:
            inside |= {id(n) for n in ast.walk(node) if isinstance(n, ast.Constant)}
    return inside


def test_no_strategy_is_named_outside_its_own_module():
    from core.spec.fields import SPEC_FIELDS

    # A strategy named like a spec field (``description`` starts from the spec's ``description``):
    # the field's name is written everywhere a spec is read, so that name cannot be told apart.
    names = _strategy_names() - set(SPEC_FIELDS)
    found = []
    for m, p in _modules().items():
        if m.startswith("core.embedding.strategies.") and m.rsplit(".", 1)[1] in names:
            continue  # a strategy's own module
        tree = ast.parse(p.read_text())
        declared = _declarations(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in declared:
                found.append(f"{m}:{node.lineno} {node.value!r}")
    assert found == []


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, node.end_lineno - node.lineno + 1


def test_functions_are_short_and_tab_builders_shorter():
    long = []
    for m, p in _modules().items():
        limit = 60 if m.startswith("glossui.tabs") else 80
        long += [f"{m}:{line} {name} ({n} lines)" for name, line, n in _functions(p) if n > limit]
    assert long == []


def _listed(package: Path) -> tuple[str, set[str]]:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    return doc, set(re.findall(r"``(\w+)``", doc)) | set(re.findall(r"^\s+(\w+)/", doc, re.M))


def test_every_package_lists_every_module_it_owns():
    missing = []
    for init in sorted((ROOT / "core").rglob("__init__.py")) + sorted((ROOT / "glossui").rglob("__init__.py")):
        package = init.parent
        doc, listed = _listed(package)
        own = [p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")]
        own += [d.name for d in package.iterdir() if (d / "__init__.py").is_file()]
        missing += [f"{package.relative_to(ROOT)}/{name}" for name in own if name not in listed and name not in doc]
    assert missing == []


def test_core_has_few_top_level_modules_and_no_service_mixins():
    top = [p.name for p in (ROOT / "core").glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(top) <= 6, top
    assert not any(name.startswith("service") for name in top)
    service = ast.parse((ROOT / "core" / "service" / "__init__.py").read_text())
    classes = [n for n in ast.walk(service) if isinstance(n, ast.ClassDef) and n.name == "Service"]
    assert len(classes) == 1 and classes[0].bases == []  # composed of parts, not mixed in


def test_the_page_reaches_the_engine_only_through_the_service():
    graph = _graph()
    wrong = [f"{m} imports {d}" for m, deps in graph.items() if m.startswith("glossui")
             for d in deps if d.startswith("core") and d != "core.service"]
    assert wrong == []


def test_the_readme_layout_names_every_room_and_module():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Project layout")
    section = readme[start:readme.index("\n## ", start + 1)]
    missing = []
    for m in _modules():
        parts = m.split(".")
        if parts[-1] in ("__init__", "__main__"):
            continue
        if parts[-1] not in section:
            missing.append(m)
    assert missing == []
