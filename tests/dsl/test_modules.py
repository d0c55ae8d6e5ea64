"""The rule language's modules: each says what it is for, and their imports form no cycle.

The language is split into small modules with one job each (syntax, resolve, knowns, explain,
macros, scope; compiler, sections, calendar_spec, rules, overlay, compilation). A cycle of
module-level imports between them would make the import order matter, so the graph of those
imports is checked here, read from the source without importing anything.
"""

from __future__ import annotations

import ast
from graphlib import TopologicalSorter

import simple_risk.engine.dsl as dsl
from tests.module_graph import import_graph, package_modules, source_tree

_PACKAGE = "simple_risk.engine.dsl"


def test_the_language_s_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(package_modules(dsl))
    # a submodule's import of its own package's __init__ is implicit and never a cycle
    graph = {
        name: {dep for dep in deps if not name.startswith(f"{dep}.")}
        for name, deps in graph.items()
    }
    order = list(TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order.index(f"{_PACKAGE}.scope") < order.index(f"{_PACKAGE}.expressions")
    assert order.index(f"{_PACKAGE}.compiler") < order.index(f"{_PACKAGE}.overlay")


def test_every_module_of_the_language_says_what_it_is_for() -> None:
    for name, path in package_modules(dsl).items():
        docstring = ast.get_docstring(source_tree(path))
        assert docstring, f"{name} has no module docstring"
