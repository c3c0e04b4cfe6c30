"""The shape of `groups/`: imports run one way, without circles, and no module uses another's private names.

The graph is read from the source (every import statement, those inside functions included), so an
import placed in a function to dodge a circle is found like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

GROUPS = Path(__file__).resolve().parents[2] / "groups"

# Who may import whom: a module imports only modules of its own layer or below. Modules not listed
# (entry points such as urls, tasks, admin, middleware, commands) may import any layer.
LAYERS = {
    "groups.models": 0,
    "groups.patterns": 0,
    "groups.audit": 1,
    "groups.access": 2,
    "groups.logins": 2,
    "groups.kafka": 2,
    "groups.lag": 3,
    "groups.reading": 3,
    "groups.share_reading": 3,
    "groups.durability": 3,
    "groups.browse": 3,
    "groups.planning": 3,
    "groups.operations": 4,
    "groups.forms": 5,
    "groups.views": 6,
    "groups.api": 6,
    "groups.context_processors": 6,
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(root: Path) -> dict[str, tuple[Path, ast.Module]]:
    return {
        _module_name(path, root): (path, ast.parse(path.read_text(), str(path))) for path in sorted(root.rglob("*.py"))
    }


def _is_package(modules: dict[str, tuple[Path, ast.Module]], name: str) -> bool:
    return modules[name][0].name == "__init__.py"


def _imports(modules: dict[str, tuple[Path, ast.Module]], name: str) -> list[tuple[str, str, ast.AST]]:
    """(module, imported name or "", node) for every import of a module of the tree, wherever it stands."""
    package = name if _is_package(modules, name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(modules[name][1]):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node) for alias in node.names if alias.name in modules]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    found.append((submodule, "", node))
                elif base in modules:
                    found.append((base, alias.name, node))
    return found


def import_graph(root: Path = GROUPS) -> dict[str, set[str]]:
    modules = _sources(root)
    return {name: {target for target, _, _ in _imports(modules, name) if target != name} for name in modules}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or around a circle (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def _layer(module: str) -> int | None:
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        layer = _layer(module)
        for target in sorted(targets):
            target_layer = _layer(target)
            if layer is not None and target_layer is not None and target_layer > layer:
                problems.append(f"{module} (layer {layer}) imports {target} (layer {target_layer})")
    return problems


def private_uses(root: Path = GROUPS) -> list[str]:
    """Each place a module imports, or reaches through a module it imported, another module's private name."""
    modules = _sources(root)
    problems = []
    for name, (path, tree) in modules.items():
        aliases = {}
        for target, imported, node in _imports(modules, name):
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            private = imported or target.rpartition(".")[2]
            if private.startswith("_") and not private.startswith("__"):
                problems.append(
                    f"{where} imports {imported} from {target}"
                    if imported
                    else f"{where} imports the private module {target}"
                )
            if not imported and isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if target.endswith("." + alias.name):
                        aliases[alias.asname or alias.name] = target
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                problems.append(
                    f"{path.relative_to(root.parent)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}"
                )
    return problems


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "groups"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_no_modules_of_groups_import_each_other_in_a_circle():
    graph = import_graph()
    # The walk sees imports inside functions (the app's start-up imports the tasks in one).
    assert "groups.tasks" in graph["groups.apps"]
    assert "groups.operations.lifecycle" in graph["groups.operations.resets"]
    assert cycles(graph) == []


def test_a_circle_closed_by_an_import_inside_a_function_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "a.py": "from groups import b\n",
            "b.py": "def late():\n    from groups.c import thing\n    return thing\n",
            "c.py": "from . import a\nthing = 1\n",
            "d.py": "import groups.a\n",
        },
    )
    assert cycles(import_graph(root)) == [["groups.a", "groups.b", "groups.c"]]


def test_no_module_of_groups_imports_or_reaches_a_private_name_of_another():
    assert private_uses() == []


def test_a_private_name_imported_or_reached_through_a_module_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "views.py": "from groups.helpers import _render, shown\n",
            "pages.py": "from groups import helpers\n\ndef page():\n    return helpers._render() + helpers.shown()\n",
            "helpers.py": "def _render():\n    return ''\n\ndef shown():\n    return _render()\n",
        },
    )
    assert private_uses(root) == [
        "groups/pages.py:4 uses groups.helpers._render",
        "groups/views.py:1 imports _render from groups.helpers",
    ]


def test_imports_run_one_way_from_views_down_to_models():
    assert upward_imports(import_graph()) == []
