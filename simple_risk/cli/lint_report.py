"""How ``rules lint`` prints its result: text for people, JSON for editors, GitHub annotations.

Text is one line per problem in the compiler convention
``FILE:LINE:COL: error: rule "ID": MESSAGE; HINT (check-id)`` (``warning:`` for a warning), so
editors' and CI's ``file:line:col: severity: message`` matchers (gcc's, for one) pick it up
without configuration, then ``SUCCESS: N rules in FILE`` for each file that compiled and a
summary line (``2 errors, 1 warning in 3 files``). ``github`` prints workflow commands
(``::error file=F,line=L,col=C,title=CHECK::MESSAGE``) that GitHub Actions shows on the pull
request's diff. All three carry the same facts: severity, check id, rule, message and hint.
"""

from __future__ import annotations

import json

from simple_risk.engine.dsl.problems import LintResult, Problem


def problem_line(problem: Problem) -> str:
    """``FILE:LINE:COL: error: rule "ID": MESSAGE; HINT (check-id)``."""
    return f"{problem.file}:{problem.line}:{problem.column}: {problem.severity}: {_text(problem)}"


def _text(problem: Problem, check: bool = True) -> str:
    rule = f'rule "{problem.rule_id}": ' if problem.rule_id is not None else ""
    hint = f"; {problem.hint}" if problem.hint else ""
    return f"{rule}{problem.message}{hint}" + (f" ({problem.check})" if check else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(result: LintResult, files: list[str]) -> str:
    """``2 errors, 1 warning in 3 files``, or ``no problems in 3 files``."""
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    where = f"in {_plural(len(files), 'file')}"
    if not result.problems:
        return f"no problems {where}"
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} {where}"


def _success(result: LintResult, file: str, base: str | None) -> str | None:
    if file not in result.rule_counts:
        return None
    count = result.rule_counts[file]
    over = f" over {base}" if base is not None and file != base else ""
    return f"SUCCESS: {_plural(count, 'rule')} in {file}{over}"


def text_report(result: LintResult, files: list[str], base: str | None = None) -> str:
    lines: list[str] = []
    for file in files:
        lines += [problem_line(p) for p in result.problems if p.file == file]
        success = _success(result, file, base)
        if success is not None:
            lines.append(success)
    lines.append(summary_line(result, files))
    return "\n".join(lines)


def json_report(result: LintResult, files: list[str], base: str | None = None) -> str:
    errors = len(result.errors)
    report = {
        "ok": result.ok,
        "summary": {
            "errors": errors,
            "warnings": len(result.problems) - errors,
            "files": len(files),
        },
        "files": [
            {
                "file": file,
                "ok": file in result.rule_counts,
                "rules": result.rule_counts.get(file),
                **({"base": base} if base is not None and file != base else {}),
                "problems": [p.as_json() for p in result.problems if p.file == file],
                "episodes": result.episodes.get(file, []),
            }
            for file in files
        ],
    }
    return json.dumps(report, indent=2, ensure_ascii=False)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(problem: Problem) -> str:
    """One GitHub Actions workflow command; a problem without a line names only the file."""
    properties = [f"file={_escape_property(problem.file)}"]
    if problem.line > 0:
        properties += [f"line={problem.line}", f"col={problem.column}"]
    properties.append(f"title={_escape_property(problem.check)}")
    message = _escape_data(_text(problem, check=False))
    return f"::{problem.severity} {','.join(properties)}::{message}"


def github_report(result: LintResult, files: list[str], base: str | None = None) -> str:
    lines = [annotation(p) for file in files for p in result.problems if p.file == file]
    lines.append(summary_line(result, files))
    return "\n".join(lines)


REPORTS = {"text": text_report, "json": json_report, "github": github_report}
