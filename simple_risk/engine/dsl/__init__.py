"""The ruleset language: strict loading, schema, expression compiler and lint (issue #2).

Public API used by the engine, the CLI and account overlays:

* :func:`load_ruleset` / :func:`load_ruleset_text` → a compiled ``model.Ruleset`` or
  :class:`RulesetError` listing every located problem;
* :func:`lint_paths` → :class:`LintResult` (all problems of all files, rule counts);
* :func:`base_env` → the constant part of the evaluation environment (params, lists,
  functions, hidden constants) the engine merges with the bound fact families.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from simple_risk.engine.dsl.checks import CHECKS
from simple_risk.engine.dsl.compiler import Compilation, compile_document
from simple_risk.engine.dsl.problems import LintResult, Problem, RulesetError, sort_problems
from simple_risk.engine.dsl.yamlload import Document, load_document
from simple_risk.engine.functions import EXACT_DIVIDE, FUNCTIONS, Params, exact_divide
from simple_risk.engine.model import Ruleset

__all__ = [
    "LintResult",
    "Problem",
    "RulesetError",
    "analyse_text",
    "base_env",
    "lint_paths",
    "load_ruleset",
    "load_ruleset_text",
]


def analyse_text(
    text: str,
    filename: str,
    *,
    params: Mapping[str, object] | None = None,
    strict: bool = False,
) -> Compilation:
    """Load, compile and lint one ruleset text; every problem is in the result, never raised."""
    try:
        return _analyse(text, filename, params, strict)
    except Exception as exc:  # last resort: a located message instead of a traceback
        message = f"internal error while checking this file: {type(exc).__name__}: {exc}"
        problem = Problem(filename, 1, 1, message, "internal-error", hint="please report it")
        return Compilation(Document(filename, None), problems=[problem])


def _analyse(
    text: str, filename: str, params: Mapping[str, object] | None, strict: bool
) -> Compilation:
    document, problems = load_document(text, filename)
    if document is None:
        return Compilation(Document(filename, None), problems=sort_problems(problems))
    compilation = compile_document(document, params)
    compilation.problems = problems + compilation.problems
    for check in CHECKS.values():
        if check.strict and not strict:
            continue
        compilation.problems += list(check.run(compilation))
    compilation.problems = sort_problems(compilation.problems)
    if any(p.severity == "error" for p in compilation.problems):
        compilation.ruleset = None
    return compilation


def _read(path: Path, shown: str) -> tuple[str | None, Problem | None]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, Problem(shown, 0, 0, f"cannot read file: {reason}", "file")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, Problem(shown, line, column, "the file is not UTF-8 text", "encoding")


def load_ruleset_text(
    text: str, filename: str, *, params: Mapping[str, object] | None = None
) -> Ruleset:
    """Compile a ruleset from text; raises :class:`RulesetError` with every located problem."""
    compilation = analyse_text(text, filename, params=params)
    if compilation.ruleset is None:
        raise RulesetError([p for p in compilation.problems if p.severity == "error"])
    return compilation.ruleset


def load_ruleset(path: str | Path, *, params: Mapping[str, object] | None = None) -> Ruleset:
    """Compile the ruleset file at ``path`` (``params`` override its declared params)."""
    text, problem = _read(Path(path), str(path))
    if problem is not None or text is None:
        raise RulesetError([problem] if problem is not None else [])
    return load_ruleset_text(text, str(path), params=params)


def lint_paths(paths: Iterable[str | Path], *, strict: bool = False) -> LintResult:
    """Lint every file; problems are reported per file in order, paths as given."""
    result = LintResult()
    for raw_path in paths:
        shown = str(raw_path)
        text, problem = _read(Path(raw_path), shown)
        if problem is not None or text is None:
            result.problems += [problem] if problem is not None else []
            continue
        compilation = analyse_text(text, shown, strict=strict)
        result.problems += compilation.problems
        if not any(p.severity == "error" for p in compilation.problems):
            rules = compilation.doc.get(("rules",))
            result.rule_counts[shown] = len(rules) if isinstance(rules, list) else 0
    return result


def base_env(ruleset: Ruleset) -> dict[str, object]:
    """Constant evaluation environment: params, lists, functions and hidden constants.

    The engine evaluates ``expr.evaluate({**base_env(ruleset), "account": ..., ...})``.
    """
    env: dict[str, object] = dict(FUNCTIONS)
    env[EXACT_DIVIDE] = exact_divide
    env["params"] = Params(ruleset.params)
    for name, values in ruleset.lists.items():
        env[name] = tuple(values)
    env.update(ruleset.constants)
    return env
