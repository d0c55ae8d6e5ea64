"""The ruleset language: strict loading, schema, expression compiler and lint (issue #2).

Public API used by the engine, the CLI and account overlays:

* :func:`load_ruleset` / :func:`load_ruleset_text` → a compiled ``model.Ruleset`` or
  :class:`RulesetError` listing every located problem; ``load_ruleset(base, overlay=FILE)``
  is the base with an account overlay (``params:``, ``disable:``, ``rules:``) applied;
* :func:`analyse_overlay` → the overlay's :class:`Compilation`, problems located in the
  overlay file (an added rule's mistake points at the overlay, never at the base);
* :func:`lint_paths` → :class:`LintResult` (all problems of all files, rule counts; with
  ``base=`` the files are overlays of that ruleset);
* :func:`base_env` → the constant part of the evaluation environment (params, lists,
  functions, hidden constants) the engine merges with the bound fact families.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path

from simple_risk.engine import episodes
from simple_risk.engine.dsl.checks import CHECKS
from simple_risk.engine.dsl.compilation import Compilation
from simple_risk.engine.dsl.compiler import compile_document
from simple_risk.engine.dsl.overlay import OVERLAY_HINT, compile_overlay
from simple_risk.engine.dsl.problems import LintResult, Problem, RulesetError, sort_problems
from simple_risk.engine.dsl.yamlload import Document, Mark, load_document
from simple_risk.engine.functions import EXACT_DIVIDE, FUNCTIONS, Params, exact_divide
from simple_risk.engine.model import Ruleset

__all__ = [
    "LintResult",
    "Problem",
    "RulesetError",
    "analyse_overlay",
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
    _run_checks(compilation, strict)
    return compilation


def _run_checks(compilation: Compilation, strict: bool) -> None:
    """Add the lint checks' problems; a compilation with any error keeps no ruleset."""
    for check in CHECKS.values():
        if check.strict and not strict:
            continue
        compilation.problems += list(check.run(compilation))
    compilation.problems = sort_problems(compilation.problems)
    if any(p.severity == "error" for p in compilation.problems):
        compilation.ruleset = None


def analyse_overlay(
    base_text: str,
    base_filename: str,
    overlay_text: str,
    overlay_filename: str,
    *,
    params: Mapping[str, object] | None = None,
    strict: bool = False,
) -> Compilation:
    """Check an account overlay against its base ruleset; every problem is returned, never raised.

    The result is the overlay's compilation: ``problems`` are those located in the overlay
    file, ``base`` is the base ruleset analysed on its own (its problems are the base file's,
    reported once however many overlays use it), ``ruleset`` is the merged ruleset or None.
    A base rule that breaks only with the overlay's params is reported at the overlay's
    ``params:``, since that is what the overlay's author must change.
    """
    try:
        return _analyse_overlay(
            base_text, base_filename, overlay_text, overlay_filename, params, strict
        )
    except Exception as exc:  # last resort: a located message instead of a traceback
        message = f"internal error while checking this overlay: {type(exc).__name__}: {exc}"
        problem = Problem(
            overlay_filename, 1, 1, message, "internal-error", hint="please report it"
        )
        return Compilation(Document(overlay_filename, None), problems=[problem])


def _analyse_overlay(
    base_text: str,
    base_filename: str,
    overlay_text: str,
    overlay_filename: str,
    params: Mapping[str, object] | None,
    strict: bool,
) -> Compilation:
    alone = _analyse(base_text, base_filename, params, strict)
    overlay, problems = load_document(overlay_text, overlay_filename)
    problems = [
        dataclasses.replace(p, hint=OVERLAY_HINT) if p.check == "empty-file" else p
        for p in problems
    ]
    if overlay is None or alone.doc.data is None:
        return Compilation(
            overlay or Document(overlay_filename, None),
            problems=sort_problems(problems),
            base=alone,
        )
    compilation = compile_overlay(alone.doc, overlay, params)
    compilation.problems = problems + compilation.problems
    with_overrides = compilation.base
    assert with_overrides is not None
    _run_checks(with_overrides, strict=False)
    seen = {(p.file, p.line, p.column, p.message) for p in alone.problems}
    for problem in with_overrides.problems:
        place = (problem.file, problem.line, problem.column, problem.message)
        if problem.severity != "error" or place in seen:
            continue
        mark = _overlay_param_at(overlay, problem, base_text)
        compilation.problems.append(
            Problem(
                overlay_filename,
                mark.line,
                mark.column,
                f"with these params, {problem.message}"
                f" (at {problem.file}:{problem.line}:{problem.column})",
                problem.check,
                problem.rule_id,
                problem.hint,
            )
        )
    compilation.base = alone
    _run_checks(compilation, strict)
    if with_overrides.ruleset is None:  # the base has errors, with or without the overrides
        compilation.ruleset = None
    return compilation


def _overlay_param_at(overlay: Document, problem: Problem, base_text: str) -> Mark:
    """Where in the overlay a base rule's problem that only its params cause is reported: at
    the param the message quotes the value of (``"90 min" is not a valid duration``), else at
    the one the base's line reads (``params.trade_window_hour``), else at ``params:``."""
    params = overlay.get(("params",))
    names = [str(n) for n in params] if isinstance(params, dict) else []
    line = ""
    lines = base_text.splitlines()
    if 1 <= problem.line <= len(lines):
        line = lines[problem.line - 1]
    quoted = [
        name
        for name in names
        if isinstance(params, dict)
        and isinstance(params[name], str)
        and f'"{params[name]}"' in problem.message
    ]
    read = [name for name in names if f"params.{name}" in line]
    for found in (quoted, read):
        if len(found) == 1:
            return overlay.at(("params", found[0]))
    return overlay.key_at(("params",))


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


def load_ruleset(
    path: str | Path,
    *,
    params: Mapping[str, object] | None = None,
    overlay: str | Path | None = None,
) -> Ruleset:
    """Compile the ruleset file at ``path`` (``params`` override its declared params).

    With ``overlay``, the account overlay file at that path is applied: its params override,
    its ``disable:`` rules are switched off, and its ``rules:`` are compiled in this ruleset's
    scope and appended. Problems of the overlay are located in the overlay file.
    """
    text, problem = _read(Path(path), str(path))
    if problem is not None or text is None:
        raise RulesetError([problem] if problem is not None else [])
    if overlay is None:
        return load_ruleset_text(text, str(path), params=params)
    overlay_text, problem = _read(Path(overlay), str(overlay))
    if problem is not None or overlay_text is None:
        raise RulesetError([problem] if problem is not None else [])
    compilation = analyse_overlay(text, str(path), overlay_text, str(overlay), params=params)
    if compilation.ruleset is None:
        problems = compilation.problems
        if compilation.base is not None:
            problems = compilation.base.problems + problems
        raise RulesetError([p for p in problems if p.severity == "error"])
    return compilation.ruleset


def lint_paths(
    paths: Iterable[str | Path],
    *,
    strict: bool = False,
    base: str | Path | None = None,
    given: Mapping[str, str] | None = None,
) -> LintResult:
    """Lint every file; problems are reported per file in order, paths as given.

    With ``base``, that ruleset is linted first and every path is an account overlay of it:
    each overlay's rule count is that of the merged ruleset (base rules plus added ones).
    A path in ``given`` is not read: its text is given (standard input, an editor's buffer).
    """
    texts = given or {}

    def read(raw: str | Path) -> tuple[str | None, Problem | None]:
        shown = str(raw)
        return (texts[shown], None) if shown in texts else _read(Path(raw), shown)

    result = LintResult()
    base_text: str | None = None
    if base is not None:
        base_shown = str(base)
        base_text, problem = read(base)
        if problem is not None or base_text is None:
            result.problems += [problem] if problem is not None else []
            return result
        _count(result, base_shown, analyse_text(base_text, base_shown, strict=strict))
    for raw_path in paths:
        shown = str(raw_path)
        text, problem = read(raw_path)
        if problem is not None or text is None:
            result.problems += [problem] if problem is not None else []
            continue
        if base is None or base_text is None:
            _count(result, shown, analyse_text(text, shown, strict=strict))
            continue
        compilation = analyse_overlay(base_text, str(base), text, shown, strict=strict)
        result.problems += compilation.problems
        if compilation.ruleset is not None:
            result.rule_counts[shown] = len(compilation.ruleset.rules)
            result.episodes[shown] = _episodes(compilation.ruleset)
    return result


def _count(result: LintResult, shown: str, compilation: Compilation) -> None:
    result.problems += compilation.problems
    if not any(p.severity == "error" for p in compilation.problems):
        rules = compilation.doc.get(("rules",))
        result.rule_counts[shown] = len(rules) if isinstance(rules, list) else 0
        if compilation.ruleset is not None:
            result.episodes[shown] = _episodes(compilation.ruleset)


def _episodes(ruleset: Ruleset) -> list[dict[str, str]]:
    """What each rule's ``refire:`` makes it do, for ``rules lint --format json``."""
    return [
        {"rule": rule.id, "refire": episodes.as_text(rule), "fires": episodes.describe(rule)}
        for rule in ruleset.rules
    ]


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
