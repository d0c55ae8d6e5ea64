"""The store's modules: each says what it is for, they import each other without a cycle, and
only :mod:`simple_risk.store.store` (and the schema set-up) decides where a transaction ends.

:class:`~simple_risk.store.store.Store` opens one transaction per call and hands its session to
a module of query functions (journal, firings, intents, leases, history …). What a crash can
split depends on those boundaries, so a query module that committed, rolled back or began a
transaction of its own would break the store's promises without any single test noticing;
that is checked here, read from the source without importing anything.
"""

from __future__ import annotations

import ast
from graphlib import TopologicalSorter

import simple_risk.store as store_package
from tests.module_graph import import_graph, package_modules, source_tree

_PACKAGE = "simple_risk.store"
# The modules that may open, commit or end a transaction: the Store's one per call, and the
# schema's creation or migration when the store opens.
_OWN_TRANSACTIONS = {f"{_PACKAGE}.store", f"{_PACKAGE}.database"}
_TRANSACTION_CALLS = {"begin", "begin_nested", "commit", "rollback", "connect"}


def test_the_store_s_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(package_modules(store_package))
    # the package's __init__ re-exports the Store; a submodule importing a sibling through the
    # package is how it reaches that sibling, not a dependency on __init__
    graph = {
        name: {dep for dep in deps if dep != _PACKAGE} if name != _PACKAGE else deps
        for name, deps in graph.items()
    }
    order = list(TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order.index(f"{_PACKAGE}.leases") < order.index(f"{_PACKAGE}.intents")
    assert order.index(f"{_PACKAGE}.intents") < order.index(f"{_PACKAGE}.firings")
    assert order.index(f"{_PACKAGE}.firings") < order.index(f"{_PACKAGE}.store")


def test_every_module_of_the_store_says_what_it_is_for() -> None:
    for name, path in package_modules(store_package).items():
        assert ast.get_docstring(source_tree(path)), f"{name} has no module docstring"


def test_only_the_store_and_the_schema_set_up_begin_or_end_a_transaction() -> None:
    for name, path in package_modules(store_package).items():
        if name in _OWN_TRANSACTIONS:
            continue
        calls = {
            node.func.attr
            for node in ast.walk(source_tree(path))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        assert not calls & _TRANSACTION_CALLS, (
            f"{name} calls {sorted(calls & _TRANSACTION_CALLS)}: only the Store decides where a "
            "transaction begins and ends"
        )
