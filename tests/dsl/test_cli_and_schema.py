"""``simple-risk rules schema|facts|lint``: the shipped schema and docs match the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from jsonschema import Draft202012Validator

from simple_risk import resources
from simple_risk.cli import (
    cli,
    commands,  # noqa: F401  (registers the rules group)
)
from simple_risk.engine.dsl.facts_doc import render_facts_markdown
from simple_risk.engine.dsl.schema import build_schema, json_view, schema_text
from simple_risk.engine.dsl.yamlload import load_document

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_schema_file_is_the_schema_the_code_builds() -> None:
    # after a deliberate change: .venv/bin/python -c "from simple_risk.engine.dsl.schema import
    # schema_text; open('schemas/ruleset.schema.json', 'w').write(schema_text())"
    assert resources.schema_path().read_text(encoding="utf-8") == schema_text()


def test_the_schema_is_valid_draft_2020_12_and_closed_everywhere() -> None:
    schema = build_schema()
    Draft202012Validator.check_schema(schema)

    def objects(node: object) -> list[dict[str, object]]:
        found: list[dict[str, object]] = []
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                found.append(node)
            for value in node.values():
                found += objects(value)
        elif isinstance(node, list):
            for value in node:
                found += objects(value)
        return found

    assert all(obj.get("additionalProperties") is False for obj in objects(schema))


def test_the_default_ruleset_validates_against_the_schema() -> None:
    doc, problems = load_document(resources.default_ruleset_path().read_text(), "topstep.yaml")
    assert doc is not None and not problems
    Draft202012Validator(build_schema()).validate(json_view(doc.data))


def test_rules_schema_prints_the_schema() -> None:
    result = CliRunner().invoke(cli, ["rules", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == build_schema()


def test_rules_facts_prints_the_checked_in_reference() -> None:
    result = CliRunner().invoke(cli, ["rules", "facts"])
    assert result.exit_code == 0
    assert result.output == render_facts_markdown()
    assert (REPO / "docs" / "facts.md").read_text(encoding="utf-8") == result.output
    assert "`position.unrealized_pnl` | money | yes |" in result.output


def test_lint_without_files_is_a_usage_error() -> None:
    assert CliRunner().invoke(cli, ["rules", "lint"]).exit_code == 2
    assert CliRunner().invoke(cli, ["rules", "lint", "/no/such/file.yaml"]).exit_code == 2
    assert CliRunner().invoke(cli, ["rules", "lint", "--format", "xml", "x"]).exit_code == 2


def test_a_file_that_is_not_a_ruleset_is_quoted_short(tmp_path: Path) -> None:
    """Linting the wrong file (a password file, a log) says what it is, not the whole file."""
    wrong = tmp_path / "passwd"
    wrong.write_text("\n".join(f"user{n}:x:{n}:{n}::/home/user{n}:/bin/sh" for n in range(200)))
    result = CliRunner().invoke(cli, ["rules", "lint", str(wrong)])
    assert result.exit_code == 1
    (problem,) = [line for line in result.output.splitlines() if ": error:" in line]
    assert 'got a string ("user0:x:0:0::/home/user0:/bin/sh user1:x:1:1::/home/user1:/…")' in (
        problem
    )
    assert len(problem) < len(str(wrong)) + 150


def test_lint_of_the_default_ruleset_succeeds() -> None:
    path = str(resources.default_ruleset_path())
    result = CliRunner().invoke(cli, ["rules", "lint", path])
    assert result.exit_code == 0
    assert re.fullmatch(
        rf"SUCCESS: [0-9]+ rules in {re.escape(path)}\nno problems in 1 file\n", result.output
    )


def test_lint_json_output_is_for_editors_and_ci(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ruleset: x\nrules: 5\n")
    result = CliRunner().invoke(cli, ["rules", "lint", "--format", "json", str(bad)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    (problem,) = report["files"][0]["problems"]
    assert (problem["line"], problem["column"], problem["check"]) == (2, 8, "wrong-type")
