"""docs/rule-language.md shows only what ships and is tested.

Every YAML example of the guide names the shipped ruleset it comes from (``# from PATH``) and
must appear in it verbatim; that ruleset must have a rule-test file under tests/rules/examples
(which ``test_rule_book`` runs with coverage), so an example cannot drift from a rule that is
linted and tested.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "rule-language.md"
_BLOCK = re.compile(r"```yaml\n# from (?P<path>\S+)\n(?P<body>.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str]]:
    return [(m["path"], m["body"]) for m in _BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))]


def test_every_yaml_block_of_the_guide_names_its_shipped_ruleset() -> None:
    blocks = GUIDE.read_text(encoding="utf-8").count("```yaml")
    assert blocks == len(examples()) >= 7


def test_every_example_is_verbatim_in_a_shipped_ruleset_that_has_a_rule_test() -> None:
    for path, body in examples():
        shipped = REPO / path
        assert body in shipped.read_text(encoding="utf-8"), f"{path} no longer holds:\n{body}"
        test_file = REPO / "tests" / "rules" / "examples" / f"{shipped.stem}.test.yaml"
        assert test_file.is_file(), f"{path} has no rule test {test_file.name}"


def test_the_guide_covers_each_part_of_a_rule() -> None:
    headings = re.findall(r"^## (.+)$", GUIDE.read_text(encoding="utf-8"), re.MULTILINE)
    parts = (
        "Triggers",
        "`each:`",
        "Episodes and `refire:`",
        "Windows",
        "Lockouts",
        "Actions",
        "Derived facts",
    )
    for part in parts:
        assert part in headings
