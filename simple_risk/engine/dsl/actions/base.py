"""What an action module declares and what the ruleset compiler offers it.

Every module in this package defines ``ACTION = ActionDef(...)``: its name, a JSON Schema of
its arguments (which also goes into ``schemas/ruleset.schema.json``), whether it may be written
as a bare string (``- flatten``), and one ``compile`` function turning validated YAML arguments
into ``ActionSpec.args``. The registry in ``__init__`` finds them, so adding an action never
touches a central if/elif.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from simple_risk.engine.model import CompiledExpression, MessageTemplate

Path = tuple[object, ...]


class ActionContext(Protocol):
    """The compiler services an action's ``compile`` may use; every path is into the YAML."""

    @property
    def sessions(self) -> frozenset[str]: ...

    def binds(self, family: str) -> bool:
        """Whether the rule's triggers / ``each:`` bind ``family`` (e.g. "position")."""
        ...

    def expression(self, path: Path, role: str) -> CompiledExpression | None:
        """Compile the expression (or number/string literal) at ``path`` in the rule's scope."""
        ...

    def lock_expression(self, path: Path, symbol: bool) -> CompiledExpression | None:
        """Compile a lockout ``while:`` (account-level facts, params, lists and ``lock.*``;
        with ``symbol``, a symbol lockout's, also the locked symbol's facts ``symbol.*``)."""
        ...

    def template(self, path: Path, role: str) -> MessageTemplate | None:
        """Compile the message template at ``path``."""
        ...

    def duration(self, path: Path) -> timedelta | None:
        """Parse the duration at ``path`` (reports ``bad-duration`` itself)."""
        ...

    def error(self, path: Path, message: str, check: str, hint: str | None = None) -> None:
        """Report a located problem for this action."""
        ...


Compile = Callable[[ActionContext, Mapping[str, object], Path], dict[str, object]]


@dataclass(frozen=True, slots=True)
class ActionDef:
    """One entry of the closed action vocabulary (docs/architecture.md §3)."""

    name: str
    summary: str
    #: JSON Schema (2020-12) of the argument mapping
    args_schema: Mapping[str, object]
    compile: Compile
    #: may be written as a bare string, ``- flatten``
    bare: bool = False
    example: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)


DURATION_REF = {"$ref": "#/$defs/duration"}
EXPRESSION_REF = {"$ref": "#/$defs/expression"}
NUMBER_OR_EXPRESSION = {"anyOf": [{"type": "number"}, {"$ref": "#/$defs/expression"}]}
#: the literal values of a ``side:`` argument (anything else is an expression giving one)
SIDES = ("buy", "sell")
SCOPE = {"enum": ["account", "symbol"], "description": "what the action applies to"}


def no_args_schema() -> dict[str, object]:
    return {"type": "object", "additionalProperties": False, "properties": {}}
