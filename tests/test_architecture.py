"""The three floors (docs/architecture.md), read from the code's own imports.

Ground floor ``vaxcert`` knows no service; the services stand side by side and never import one
another; the roof ``launch`` alone knows them all. Imports inside functions count too, and so do
module names handed to ``importlib.import_module`` or ``__import__``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
GROUND = "vaxcert"
SERVICES = ("kiosk", "cert_center", "signer", "vrs_stub", "verifier", "app_client")
ROOF = "launch"
PACKAGES = (GROUND, *SERVICES, ROOF)
ALLOWED: dict[str, frozenset[str]] = {
    GROUND: frozenset(),
    **{service: frozenset({GROUND}) for service in SERVICES},
    ROOF: frozenset({GROUND, *SERVICES}),
}


def _imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args:
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else None
            if isinstance(function, ast.Name):
                name = function.id
            first = node.args[0]
            if (
                name in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                yield node.lineno, first.value


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) between the top-level packages, with where each import is."""
    edges: dict[tuple[str, str], list[str]] = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for line, module in _imported_modules(tree):
                target = module.split(".")[0]
                if target in PACKAGES and target != package:
                    where = f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
                    edges.setdefault((package, target), []).append(where)
    return edges


def test_every_import_between_packages_goes_down_a_floor() -> None:
    wrong = [
        where
        for (importer, imported), places in import_edges().items()
        if imported not in ALLOWED[importer]
        for where in places
    ]
    assert wrong == [], "imports against the three floors:\n" + "\n".join(wrong)


def test_the_package_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for importer, imported in import_edges():
        graph[importer].add(imported)
    done: set[str] = set()

    def visit(package: str, path: tuple[str, ...]) -> None:
        assert package not in path, "import cycle: " + " -> ".join((*path, package))
        if package in done:
            return
        for imported in sorted(graph[package]):
            visit(imported, (*path, package))
        done.add(package)

    for package in PACKAGES:
        visit(package, ())


def test_the_rule_can_fail() -> None:
    """The reader sees imports inside functions and by name, so a hidden edge cannot slip by."""
    code = "def f():\n    import kiosk.app\n    importlib.import_module('signer.app')\n"
    assert [module for _, module in _imported_modules(ast.parse(code))] == [
        "kiosk.app",
        "signer.app",
    ]


@pytest.mark.parametrize("package", SERVICES)
def test_each_service_names_its_public_face(package: str) -> None:
    tree = ast.parse((REPO_ROOT / package / "__init__.py").read_text(encoding="utf-8"))
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "__all__" in assigned
