"""The layering of docs/architecture.md, checked on the source: imports only point down."""

from __future__ import annotations

import ast
from pathlib import Path

import gradfree

SRC = Path(gradfree.__file__).parent
FLOOR = {"core": 0, "data": 0, "continual": 0, "rmn": 1, "emns": 1, "wuxing": 1, "baselines": 1,
         "experiments": 2, "distributed": 2, "cli": 3, "__main__": 3}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _violations():
    bad = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        pkg = rel.parts[0].removesuffix(".py")
        if pkg == "__init__":
            continue
        assert pkg in FLOOR, f"{rel}: package {pkg!r} has no floor in docs/architecture.md"
        for mod in _imports(path):
            if mod == "gradfree" and FLOOR[pkg] < 3:
                bad.append(f"{rel} imports the package root")
            if not mod.startswith("gradfree.") or (target := mod.split(".")[1]) == pkg:
                continue
            if FLOOR[target] > FLOOR[pkg] or (FLOOR[target] == FLOOR[pkg] == 1) or \
                    (FLOOR[pkg] == 0 and FLOOR[target] != 0):
                bad.append(f"{rel} ({pkg}, floor {FLOOR[pkg]}) imports {mod} (floor {FLOOR[target]})")
    return bad


def test_imports_only_point_down():
    assert _violations() == []


def test_every_package_is_placed():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(FLOOR)


def test_no_import_cycle_between_packages():
    edges: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        pkg = path.relative_to(SRC).parts[0].removesuffix(".py")
        for mod in _imports(path):
            if mod.startswith("gradfree.") and (target := mod.split(".")[1]) != pkg:
                edges.setdefault(pkg, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(t == goal or (t not in seen and reaches(t, goal, seen | {t}))
                   for t in edges.get(start, ()))

    assert [p for p in edges if reaches(p, p, {p})] == []


def test_every_package_all_names_public_objects_that_exist():
    import importlib

    for pkg in sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        mod = importlib.import_module(f"gradfree.{pkg}")
        names = getattr(mod, "__all__", [])
        assert all(not n.startswith("_") for n in names), (pkg, names)
        assert all(hasattr(mod, n) for n in names), (pkg, [n for n in names if not hasattr(mod, n)])


#: scikit-learn's largest estimators take about 23; more options are grouped by purpose
#: (gradfree.core.groups)
MAX_CONSTRUCTOR_PARAMETERS = 25


def test_no_estimator_takes_more_than_25_constructor_parameters():
    from sklearn.base import BaseEstimator

    from gradfree.core.io import _ensure_registry

    _ensure_registry()  # imports every estimator module
    seen, todo = set(), [BaseEstimator]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("gradfree."):
                seen.add(sub)
    assert len(seen) > 10
    counts = {f"{c.__module__}.{c.__name__}": len(c._get_param_names()) for c in seen}
    assert {name: n for name, n in counts.items() if n > MAX_CONSTRUCTOR_PARAMETERS} == {}
