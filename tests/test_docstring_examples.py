"""Every class and function a package exports has a runnable example (``>>>``) in its docstring.

The examples themselves run as doctests in CI (``pytest --doctest-modules src/gradfree``); this test
keeps a new public name from arriving without one.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import gradfree

#: exported names that need no example, each with the reason
NO_EXAMPLE = {
    "gradfree.data.DatasetNotFoundError": "an exception users catch, never call; load_mnist shows it",
    "gradfree.wuxing.WuxingDivergenceError": "an exception users catch, never call",
}


def _packages() -> list[str]:
    subs = [m.name for m in pkgutil.walk_packages(gradfree.__path__, "gradfree.") if m.ispkg]
    return ["gradfree", *sorted(subs)]


def _exported_callables():
    for pkg in _packages():
        module = importlib.import_module(pkg)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):  # constants (dicts, tuples) have no doc
                yield f"{pkg}.{name}", obj


def _has_example(obj) -> bool:
    """Its own docstring holds an example (``inspect.getdoc`` would fall back to a base class's)."""
    return ">>>" in (obj.__doc__ or "")


def test_every_exported_class_and_function_has_an_example():
    missing = [name for name, obj in _exported_callables()
               if name not in NO_EXAMPLE and not _has_example(obj)]
    assert not missing, f"no '>>>' example in the docstring of: {', '.join(missing)}"


def test_the_allow_list_names_only_exported_names_without_examples():
    exported = dict(_exported_callables())
    stale = [name for name in NO_EXAMPLE if name not in exported or _has_example(exported[name])]
    assert not stale, f"remove from NO_EXAMPLE (gone, or now with an example): {', '.join(stale)}"
