"""Checking what the names of an expression mean, and rewriting it for exact evaluation.

Every name is checked against the fact namespace (:mod:`simple_risk.engine.namespace`), the
ruleset's params, lists, macros, sessions and ``derive:`` facts; an unknown one gets a
did-you-mean and its position in the YAML file. A fact family must be bound where the rule
reads it (its triggers, ``each:``, a lockout's ``while:``), and functions and fact methods
must get the arguments they take. While checking, the tree is rewritten so it stays exact:
float literals and duration arguments become hidden constants of the ruleset's
:class:`~simple_risk.engine.dsl.scope.ConstantPool`, and ``a / b`` becomes an exact division.
Kept apart from parsing (:mod:`simple_risk.engine.dsl.syntax`) and from the ``known(...)``
analysis (:mod:`simple_risk.engine.dsl.knowns`): it is the one step that knows the namespace.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from simple_risk.engine import namespace
from simple_risk.engine.dsl.durations import (
    DURATION_HINT,
    format_duration,
    invalid_duration,
    parse_duration,
)
from simple_risk.engine.dsl.problems import Problem, did_you_mean
from simple_risk.engine.dsl.scope import Locator, Scope, family_attr
from simple_risk.engine.facts.windows import DEFAULT_RETENTION
from simple_risk.engine.functions import EXACT_DIVIDE

#: Argument counts of the bare-name functions: (min positional, max positional, keywords).
_FUNCTION_ARITY: dict[str, tuple[int, int | None, frozenset[str]]] = {
    "known": (1, 1, frozenset()),
    "lookup": (2, 3, frozenset()),
    "round_to_tick": (2, 3, frozenset({"mode"})),
    "abs": (1, 1, frozenset()),
    "min": (1, None, frozenset()),
    "max": (1, None, frozenset()),
}


#: the fact naming the item a per-item derived fact answers for
_ITEM_IDENTITY = {"position": "position.contract_id", "symbol": "symbol.root"}


class Resolver:
    """Checks every name against the namespace and rewrites the tree for exact evaluation."""

    def __init__(self, scope: Scope, locator: Locator) -> None:
        self.scope = scope
        self.locator = locator
        self.problems: list[Problem] = []
        #: dotted fact and param names read (``CompiledExpression.names``)
        self.names: set[str] = set()
        self.lists_used: set[str] = set()

    def report(self, node: ast.AST, message: str, check: str, hint: str | None = None) -> None:
        macro = getattr(node, "_macro_name", None)
        if macro is not None:
            message = f'{message} (in macro "{macro}")'
        self.problems.append(self.scope.problem(self.locator.mark(node), message, check, hint))

    def known_names(self) -> list[str]:
        return [
            *namespace.FAMILIES,
            *namespace.FUNCTIONS,
            "params",
            *self.scope.lists,
            *self.scope.macros,
            "True",
            "False",
            "None",
        ]

    def visit(self, node: ast.expr) -> ast.expr:
        """Check ``node`` and return its rewritten form."""
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, called=False)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = self.visit(node.left), self.visit(node.right)
            divide = ast.Call(ast.Name(EXACT_DIVIDE, ast.Load()), [left, right], [])
            return ast.copy_location(divide, node)
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                setattr(node, name, self.visit(value))
            elif isinstance(value, list):
                setattr(
                    node, name, [self.visit(v) if isinstance(v, ast.expr) else v for v in value]
                )
        return node

    def constant(self, node: ast.Constant) -> ast.expr:
        if isinstance(node.value, float):
            text = getattr(node, "_literal_text", None) or repr(node.value)
            try:
                exact = Decimal(text.replace("_", ""))
            except InvalidOperation:
                exact = Decimal(repr(node.value))
            return self.hidden(exact, node)
        return node

    def hidden(self, value: object, where: ast.AST) -> ast.expr:
        return ast.copy_location(ast.Name(self.scope.pool.name_for(value), ast.Load()), where)

    def name(self, node: ast.Name) -> ast.expr:
        name = node.id
        if name in ("True", "False", "None"):
            return node
        if name in self.scope.lists:
            self.lists_used.add(name)
            return node
        if name in self.scope.macros:
            # only reachable for a cyclic macro, reported by the macro-cycle check
            return ast.copy_location(ast.Constant(False), node)
        if name == "params":
            self.report(node, "params is a namespace; name one", "unknown-name", "params.NAME")
            return node
        if name in namespace.FAMILIES:
            members = namespace.family_members(name)
            self.report(
                node,
                f'"{name}" is a fact family, not a value',
                "unknown-name",
                f"use {name}.<fact>, e.g. {name}.{members[0]}" if members else None,
            )
            return node
        if name in namespace.FUNCTIONS:
            self.report(node, f'function "{name}" must be called', "unknown-name")
            return node
        if getattr(node, "_macro_name", None) is None:
            hint = did_you_mean(name, self.known_names())
            if name in self.scope.derived or name in self.scope.broken_derived:
                hint = f"a derived fact is read as derived.{name}"
            self.report(node, f'unknown name "{name}"', "unknown-name", hint)
        return node

    def family_member(self, node: ast.Attribute, called: bool) -> ast.expr:
        assert isinstance(node.value, ast.Name)
        family, attr = node.value.id, node.attr
        dotted = f"{family}.{attr}"
        fact = namespace.FACTS.get(dotted)
        method = namespace.METHODS.get(dotted)
        if fact is None and method is None:
            if getattr(node, "_macro_name", None) is None:
                members = [f"{family}.{m}" for m in namespace.family_members(family)]
                hint = did_you_mean(dotted, members)
                if hint is None:
                    hint = f"see simple-risk rules facts for the {family}.* names"
                self.report(node, f'unknown fact "{dotted}"', "unknown-fact", hint)
            return node
        if method is not None and not called:
            self.report(
                node,
                f'"{dotted}" is a method; call it',
                "unknown-fact",
                f"{dotted}({', '.join(p.rstrip('=') for p in method.params)})",
            )
            return node
        if fact is not None and called:
            self.report(node, f'"{dotted}" is a fact, not a method', "unknown-fact")
            return node
        self.names.add(dotted)
        self.check_binding(node, family, dotted)
        return node

    def check_binding(self, node: ast.AST, family: str, dotted: str) -> None:
        if self.scope.is_macro:
            return
        spec = namespace.FAMILIES[family]
        if spec.lock_only:
            if not self.scope.in_lock:
                self.report(
                    node,
                    f'"{dotted}" exists only inside a lockout\'s while:',
                    "unbound-family",
                )
            return
        if self.scope.lock_only:
            if family == "symbol" and self.scope.lock_symbol:
                return  # the locked symbol's
            if family == "symbol":
                self.report(
                    node,
                    f'"{dotted}" is not bound in an account lockout\'s while: it locks no symbol',
                    "unbound-family",
                    "lock the symbol (scope: symbol) to read its facts as symbol.*, or use "
                    "account-level facts and lock.*",
                )
            elif spec.bound_by_triggers is not None:
                self.report(
                    node,
                    f'"{dotted}" is not bound in a lockout\'s while:',
                    "unbound-family",
                    "while: is re-checked after the firing; use account-level facts and lock.*"
                    + (", and symbol.* (the locked symbol's)" if self.scope.lock_symbol else ""),
                )
            return
        if not namespace.family_is_bound(family, self.scope.triggers, self.scope.each):
            triggers = ", ".join(sorted(self.scope.triggers)) or "none"
            binders = sorted(spec.bound_by_triggers or ())
            hint = f"{family}.* is bound when every trigger is one of {', '.join(binders)}"
            if spec.iterable:
                hint += f", or with each: {family}"
            self.report(
                node,
                f'"{dotted}" is not bound for triggers [{triggers}]',
                "unbound-family",
                hint,
            )

    def derived_member(self, node: ast.Attribute, called: bool) -> ast.expr:
        """``derived.NAME``: a fact of the ruleset's ``derive:``, bound like its item."""
        name = node.attr
        dotted = f"derived.{name}"
        info = self.scope.derived.get(name)
        if info is None and name in self.scope.broken_derived:
            line = self.scope.broken_derived[name]
            self.report(
                node,
                f'derived fact "{dotted}" has an error of its own (line {line})',
                "unknown-fact",
                "fix the derived fact first; this use is checked once it compiles",
            )
            return node
        if info is None:
            declared_names = [*self.scope.derived, *self.scope.broken_derived]
            hint = did_you_mean(dotted, [f"derived.{known}" for known in declared_names])
            if hint is None:
                declared = ", ".join(sorted(self.scope.derived))
                hint = f"declared: {declared}" if declared else "declare it under derive:"
            self.report(node, f'unknown derived fact "{dotted}"', "unknown-fact", hint)
            return node
        if called:
            self.report(node, f'"{dotted}" is a fact, not a method', "unknown-fact")
            return node
        self.names.add(dotted)
        if info.each is not None:
            # it is the bound item's value: the expression reads that item (its episodes,
            # its reconcile iteration and its trace are the item's, as for position.*)
            self.names.add(_ITEM_IDENTITY[info.each])
        if info.each is None or self.scope.is_macro:
            return node
        if self.scope.in_lock or self.scope.lock_only:
            if info.each == "symbol" and self.scope.lock_symbol:
                return node  # the locked symbol's, as symbol.* is
            self.report(
                node,
                f'"{dotted}" is kept per {info.each}: not bound in a lockout\'s while:',
                "unbound-family",
                "a symbol lockout's while: reads the locked symbol's facts (symbol.*, and "
                "derived facts kept each: symbol); use account-level facts and lock.*"
                if info.each == "symbol" or not self.scope.lock_symbol
                else "a symbol lockout's while: reads the locked symbol's facts, not a "
                "position's: keep the derived fact each: symbol",
            )
        elif not namespace.family_is_bound(info.each, self.scope.triggers, self.scope.each):
            triggers = ", ".join(sorted(self.scope.triggers)) or "none"
            self.report(
                node,
                f'"{dotted}" is kept per {info.each}, which is not bound for triggers [{triggers}]',
                "unbound-family",
                f"use each: {info.each}, or triggers that bind {info.each}.*",
            )
        return node

    def attribute(self, node: ast.Attribute, called: bool) -> ast.expr:
        base = node.value
        if isinstance(base, ast.Name) and base.id == "derived":
            return self.derived_member(node, called)
        if isinstance(base, ast.Name) and base.id in namespace.FAMILIES:
            return self.family_member(node, called)
        if isinstance(base, ast.Name) and base.id == "params":
            self.names.add(f"params.{node.attr}")
            if node.attr not in self.scope.params:
                hint = did_you_mean(node.attr, self.scope.params)
                self.report(node, f'unknown param "{node.attr}"', "unknown-param", hint)
            elif called:
                self.report(node, f'"params.{node.attr}" is not a function', "unknown-name")
            return node
        if isinstance(base, ast.Name) and base.id in self.scope.lists:
            self.report(node, f'list "{base.id}" has no attributes', "unknown-name")
            return node
        if isinstance(base, ast.Name) and getattr(base, "_macro_name", None) is None:
            self.visit(base)
            return node
        self.report(
            node,
            f'attribute ".{node.attr}" is only available on fact families and params',
            "forbidden-syntax",
        )
        return node

    def call(self, node: ast.Call) -> ast.expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id in namespace.FUNCTIONS:
            self.check_function_args(node, func.id)
            node.args = [self.visit(a) for a in node.args]
            for keyword in node.keywords:
                keyword.value = self.visit(keyword.value)
            return node
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            pair = family_attr(func)
            assert pair is not None
            method = namespace.METHODS.get(f"{pair[0]}.{pair[1]}")
            self.attribute(func, called=True)
            if method is not None:
                self.method_args(node, method)
            else:
                node.args = [self.visit(a) for a in node.args]
            return node
        if isinstance(func, ast.Name):
            if getattr(func, "_macro_name", None) is None:
                hint = did_you_mean(func.id, namespace.FUNCTIONS)
                self.report(func, f'unknown function "{func.id}"', "unknown-name", hint)
            return node
        self.report(
            node, "only the declared functions and fact methods can be called", "forbidden-syntax"
        )
        return node

    def check_function_args(self, node: ast.Call, name: str) -> None:
        low, high, keywords = _FUNCTION_ARITY[name]
        count = len(node.args)
        signature = namespace.FUNCTIONS[name].signature
        if count < low or (high is not None and count > high):
            self.report(
                node,
                f"{name}() takes {_arity_words(low, high)}, got {count}",
                "bad-arguments",
                signature,
            )
        for keyword in node.keywords:
            if keyword.arg not in keywords:
                self.report(
                    keyword.value,
                    f'{name}() has no argument "{keyword.arg}"',
                    "bad-arguments",
                    signature,
                )

    def method_args(self, node: ast.Call, method: namespace.Method) -> None:
        positional = [p for p in method.params if not p.endswith("=")]
        keyword_only = [p.rstrip("=") for p in method.params if p.endswith("=")]
        usage = f"{method.name}({', '.join(positional + [k + '=…' for k in keyword_only])})"
        if node.args and not positional:
            self.report(
                node,
                f"{method.name}() takes only keyword arguments",
                "bad-arguments",
                usage,
            )
            return
        if len(node.args) != len(positional):
            self.report(
                node,
                f"{method.name}() takes {len(positional)} positional "
                f"argument(s), got {len(node.args)}",
                "bad-arguments",
                usage,
            )
            return
        given = {k.arg for k in node.keywords}
        for keyword in node.keywords:
            if keyword.arg not in keyword_only:
                self.report(
                    keyword.value,
                    f'{method.name}() has no argument "{keyword.arg}"',
                    "bad-arguments",
                    usage,
                )
        for missing in sorted(set(keyword_only) - given):
            self.report(node, f"{method.name}() needs {missing}=…", "bad-arguments", usage)
        values: list[tuple[str, ast.expr, int | None]] = [
            (p, a, i) for i, (p, a) in enumerate(zip(positional, node.args, strict=True))
        ]
        values += [(k.arg or "", k.value, None) for k in node.keywords]
        for param, arg, index in values:
            if param in method.duration_args:
                replacement = self.duration_arg(arg, method)
            elif param == "name" and method.family == "session":
                replacement = self.session_arg(arg, method)
            else:
                replacement = self.visit(arg)
            if index is not None:
                node.args[index] = replacement
            else:
                for keyword in node.keywords:
                    if keyword.value is arg:
                        keyword.value = replacement

    def duration_arg(self, arg: ast.expr, method: namespace.Method) -> ast.expr:
        text: object = None
        if isinstance(arg, ast.Constant):
            text = arg.value
            try:
                duration = parse_duration(text)
            except ValueError:
                message, hint = invalid_duration(text)
                self.report(arg, message, "bad-duration", hint)
                return arg
        elif (pair := family_attr(arg)) is not None and pair[0] == "params":
            # a duration or a number of seconds, as a rule's for: and a derived fact's within:
            # read a param (param_durations imports the compiler: so here, late)
            from simple_risk.engine.dsl.param_durations import Misfit, resolve

            name = pair[1]
            self.names.add(f"params.{name}")
            resolved = resolve(self.scope.params, f"params.{name}", "within=", "a window")
            if isinstance(resolved, Misfit):
                self.report(arg, resolved.message, resolved.check, resolved.hint)
                return arg
            text, duration = self.scope.params[name], resolved
        else:
            self.report(
                arg,
                f'{method.name}() needs a duration literal such as "60s"',
                "bad-duration",
                DURATION_HINT,
            )
            return arg
        if duration <= timedelta(0):
            self.report(
                arg,
                f'{method.name}() over a window of "{text}" always sees nothing',
                "bad-duration",
                "give a positive duration, e.g. 60s",
            )
            return arg
        if duration > DEFAULT_RETENTION:
            kept = format_duration(DEFAULT_RETENTION)
            self.report(
                arg,
                f"{method.name}() sees the fills of the last {DEFAULT_RETENTION.days} days only:"
                f' a window of "{text}" would miss the older ones',
                "bad-duration",
                f"use a window of {kept} or less, week.* for the trading week, or a derived count"
                f" (derive: {{NAME: {{trigger: [trade], count: ..., within: {text}}}}})",
            )
            return arg
        return self.hidden(duration, arg)

    def session_arg(self, arg: ast.expr, method: namespace.Method) -> ast.expr:
        if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
            self.report(
                arg, f'{method.name}() needs a session name such as "rth"', "unknown-session"
            )
            return arg
        if arg.value not in self.scope.sessions:
            hint = did_you_mean(arg.value, self.scope.sessions)
            if hint is None:
                listed = ", ".join(sorted(self.scope.sessions)) or "none"
                hint = f"calendar.sessions defines: {listed}"
            self.report(arg, f'unknown session "{arg.value}"', "unknown-session", hint)
        return arg


def _arity_words(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low} argument(s)"
    if low == high:
        return f"{low} argument(s)"
    return f"{low} to {high} arguments"
