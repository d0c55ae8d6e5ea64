"""Reading rule text as one expression: parsing, the syntax whitelist and syntax mistakes.

The first step of checking an expression (:mod:`simple_risk.engine.dsl.expressions`): the text
is parsed once with ``ast.parse(mode="eval")`` and every node is checked against a whitelist,
so a rule can never run more than arithmetic, comparisons and the declared functions. A text
that does not parse gets one located problem that says what the author most likely meant
(``=`` for ``==``, ``;`` for ``and``, a line break a YAML block kept) rather than Python's
message alone. Kept apart because it is about the text as written; what the names in it mean
is :mod:`simple_risk.engine.dsl.resolve`'s job.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator

from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.scope import Locator, Scope

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.FloorDiv,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.IfExp,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Call,
    ast.keyword,
    ast.List,
    ast.Tuple,
)

_NODE_WORDS: dict[type[ast.AST], str] = {
    ast.Pow: "the ** operator",
    ast.Subscript: "indexing with [...] (use lookup(map, key, default))",
    ast.Lambda: "a lambda",
    ast.NamedExpr: "assignment with :=",
    ast.Dict: "a map literal",
    ast.Set: "a set literal",
    ast.ListComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.JoinedStr: "an f-string",
    ast.Starred: "* unpacking",
    ast.Store: "assignment",
    ast.Is: "`is` (use known(x) or ==)",
    ast.IsNot: "`is not` (use known(x) or !=)",
    ast.BitAnd: "the & operator (use and)",
    ast.BitOr: "the | operator (use or)",
    ast.BitXor: "the ^ operator",
    ast.Invert: "the ~ operator",
    ast.LShift: "the << operator",
    ast.RShift: "the >> operator",
    ast.MatMult: "the @ operator",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "a slice",
}


def parse(source: str, locator: Locator, scope: Scope) -> tuple[ast.expr | None, list[Problem]]:
    """Parse and whitelist-check one expression; located problems instead of exceptions."""
    if not source.strip():
        mark = locator.fallback
        return None, [scope.problem(mark, "empty expression", "expression-syntax")]
    text = source.strip()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        return None, [_syntax_problem(text, exc, locator, scope)]
    except (ValueError, RecursionError, MemoryError) as exc:
        mark = locator.fallback
        return None, [scope.problem(mark, f"cannot parse expression: {exc}", "expression-syntax")]
    problems = [
        scope.problem(locator.mark(where), message, "forbidden-syntax", hint)
        for where, message, hint in _forbidden(tree, tree)
    ]
    if problems:
        return None, problems
    _attach_text(tree, text)
    return tree.body, []


def _forbidden(node: ast.AST, parent: ast.AST) -> Iterator[tuple[ast.AST, str, str | None]]:
    """Outermost nodes outside the whitelist (their insides are not reported again)."""
    where = node if hasattr(node, "lineno") else parent
    if not isinstance(node, _ALLOWED_NODES):
        word = _NODE_WORDS.get(type(node), type(node).__name__)
        yield where, f"{word} is not allowed in rule expressions", None
        return
    if isinstance(node, ast.Constant) and not isinstance(
        node.value, bool | int | float | str | type(None)
    ):
        yield where, f"the literal {ast.unparse(node)} is not allowed", "use numbers and strings"
        return
    for child in ast.iter_child_nodes(node):
        yield from _forbidden(child, where)


def _attach_text(tree: ast.AST, text: str) -> None:
    """Remember each float literal's source text so it becomes an exact Decimal."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            segment = ast.get_source_segment(text, node)
            node._literal_text = segment  # type: ignore[attr-defined]


#: a lone ``=`` (not part of ==, <=, >=, !=) outside string quotes, for the assignment hint
_SINGLE_EQUALS = re.compile(r"""(?<![=<>!])=(?!=)(?=(?:[^"']|"[^"]*"|'[^']*')*$)""")


def _syntax_problem(text: str, exc: SyntaxError, locator: Locator, scope: Scope) -> Problem:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        module = None
    if module is not None and len(module.body) > 1:
        second = module.body[1]
        return scope.problem(
            locator.position(second.lineno, second.col_offset),
            "only one expression is allowed; `;` starts a second statement",
            "multiple-statements",
            "combine conditions with and / or",
        )
    if (
        module is not None
        and module.body
        and isinstance(module.body[0], ast.Assign | ast.AugAssign | ast.AnnAssign)
    ):
        stmt = module.body[0]
        return scope.problem(
            locator.position(stmt.lineno, stmt.col_offset),
            "assignment is not allowed in a rule expression",
            "assignment",
            "use == to compare",
        )
    if module is not None and module.body and not isinstance(module.body[0], ast.Expr):
        other = module.body[0]
        return scope.problem(
            locator.position(other.lineno, other.col_offset),
            "a statement is not allowed; write one expression",
            "forbidden-syntax",
        )
    single_equals = _SINGLE_EQUALS.search(text)
    if single_equals is not None and text.count("\n") == 0:
        return scope.problem(
            locator.position(1, single_equals.start()),
            "assignment is not allowed in a rule expression",
            "assignment",
            "use == to compare",
        )
    line, column = _syntax_place(text, exc)
    message = (exc.msg or "invalid syntax").split("\n")[0]
    hint = _line_break_hint(locator) if "\n" in text and _parses(" ".join(text.split())) else None
    typographic = _TYPOGRAPHIC.search(text)
    if typographic is not None:
        # pasted from a document or a word processor: the ASCII the language reads
        line = text.count("\n", 0, typographic.start()) + 1
        column = typographic.start() - (text.rfind("\n", 0, typographic.start()) + 1)
        char = typographic.group()
        hint = f"write {_ASCII[char]} instead of {char}"
    return scope.problem(
        locator.position(line, column),
        f"invalid expression: {message}",
        "expression-syntax",
        hint,
    )


#: characters a word processor or a document puts where the language wants ASCII
_ASCII = {
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u2212": "- (ASCII minus)",
    "\u2013": "- (ASCII minus)",
    "\u201c": '"',
    "\u201d": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u00a0": "a plain space",
}
_TYPOGRAPHIC = re.compile("[" + "".join(_ASCII) + "]")


def _parses(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _syntax_place(text: str, exc: SyntaxError) -> tuple[int, int]:
    """The line (1-based) and column (0-based) of the text that causes a syntax error.

    Python points at the end of a line when the next one cannot continue it, and at column 0
    when the text ends too early; the author has to change the next line, or the end.
    """
    lines = text.split("\n")
    line = min(max(exc.lineno or 1, 1), len(lines))
    if not exc.offset:
        return len(lines), len(lines[-1].rstrip())
    column = exc.offset - 1
    if line < len(lines) and column >= len(lines[line - 1].rstrip()):
        line += 1
    indent = len(lines[line - 1]) - len(lines[line - 1].lstrip())
    return line, column if line == (exc.lineno or 1) and column > indent else indent


def _line_break_hint(locator: Locator) -> str:
    """Why an expression written on several YAML lines still has a line break in it (given
    only when the expression parses with its lines joined: the break is the mistake)."""
    style = locator.span.style if locator.span is not None else None
    if style == ">":
        return (
            "a line of a >- block indented deeper than its first line, or after an empty line,"
            " keeps its line break; indent every line alike, with no empty line between"
        )
    if style == "|":
        return "a | block keeps every line break; write the expression in a >- block"
    return "an empty line inside the value keeps a line break; remove it"
