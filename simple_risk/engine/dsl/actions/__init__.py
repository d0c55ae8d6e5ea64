"""The closed action vocabulary: one module per action, found here by name.

``ACTIONS`` maps each action name to its :class:`ActionDef`; the compiler, the JSON Schema and
the docs all read it, so an action is added by adding one module to this package.
"""

from __future__ import annotations

import importlib
import pkgutil

from simple_risk.engine.dsl.actions.base import ActionContext, ActionDef


def _discover() -> dict[str, ActionDef]:
    found: dict[str, ActionDef] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        action = getattr(module, "ACTION", None)
        if isinstance(action, ActionDef):
            found[action.name] = action
    return found


ACTIONS: dict[str, ActionDef] = _discover()

__all__ = ["ACTIONS", "ActionContext", "ActionDef"]
