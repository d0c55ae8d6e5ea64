"""The strict YAML loader every ruleset goes through (docs/architecture.md §3, "Engine decisions").

Why not ``yaml.safe_load``: YAML 1.1 reads ``on``/``yes``/``no`` as booleans, ``17:00`` as the
sexagesimal integer 1020 and ``5e2`` as a string, silently keeps the last of two duplicate
keys and forgets where every value came from. Here only ``true``/``false`` are booleans, every
number is exact (``int`` or ``Decimal``), ``2026-12-25`` is a ``date``, duplicate keys are an
error naming both lines, and every key and value keeps its line:column in a ``Document`` so the
schema, the expression compiler and lint can all point into the file.

The loader never raises on bad input: it returns ``(document or None, problems)``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from simple_risk.engine.dsl.problems import Problem
from simple_risk.engine.dsl.yamlerrors import yaml_syntax_problem

#: A path into the loaded data: mapping keys and sequence indexes from the root.
Path = tuple[object, ...]

#: Aliases can make a small file expand enormously ("billion laughs"); refuse beyond this.
MAX_NODES = 100_000
MAX_DEPTH = 60

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_DATE = "tag:yaml.org,2002:timestamp"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class StrictResolver(BaseResolver):
    """Implicit types: true/false, null/~, exact integers and decimals, ISO dates. Nothing else."""


StrictResolver.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|false)$"), list("tf"))
StrictResolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|)$"), ["~", "n", ""])
StrictResolver.add_implicit_resolver(_INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
StrictResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)
StrictResolver.add_implicit_resolver(
    _DATE, re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), list("0123456789")
)


class _StrictComposer(Reader, Scanner, Parser, Composer, StrictResolver):
    """PyYAML's reader/scanner/parser/composer with the strict resolver; no constructor."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        StrictResolver.__init__(self)


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based line and column in the source file."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class ScalarSpan:
    """Where a scalar's text sits, so a position inside an expression maps back to the file.

    ``style`` is PyYAML's scalar style: None (plain), "'" or '"' (quoted), "|" or ">" (block).
    ``segments`` are the scalar's source lines as (line, first column, length): a literal
    block keeps its lines, every other style folds them into one line joined by spaces.
    ``folded`` maps a folded block (``>``) exactly, line breaks it keeps included: (value
    line, value column, source line, source column, length) per source line; value lines
    count from the first line with text, as in the stripped text an expression is parsed from.
    """

    start: Mark
    end: Mark
    style: str | None
    segments: tuple[tuple[int, int, int], ...] = ()
    folded: tuple[tuple[int, int, int, int, int], ...] = ()

    def position(self, line: int, column: int) -> Mark:
        """File position of ``column`` (0-based) on ``line`` (1-based) of the scalar's text."""
        if self.folded:
            pieces = [p for p in self.folded if p[0] == line]
            for _, start, source_line, source_column, length in pieces:
                if start <= column <= start + length:
                    return Mark(source_line, source_column + column - start)
            if pieces:
                _, start, source_line, source_column, length = pieces[-1]
                return Mark(source_line, source_column + length)
            return self.start
        if not self.segments:
            return self.start
        if self.style == "|":
            index = min(max(line, 1), len(self.segments)) - 1
            seg_line, seg_column, _ = self.segments[index]
            return Mark(seg_line, seg_column + column)
        if line > 1:
            return self.start
        remaining = column
        for seg_line, seg_column, length in self.segments:
            if remaining <= length:
                return Mark(seg_line, seg_column + remaining)
            remaining -= length + 1
        last_line, last_column, last_length = self.segments[-1]
        return Mark(last_line, last_column + last_length)


@dataclass(slots=True)
class Document:
    """Loaded data plus the location of every key and value in it."""

    file: str
    data: object
    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)
    spans: dict[Path, ScalarSpan] = field(default_factory=dict)

    def at(self, path: Path) -> Mark:
        """Where the value at ``path`` starts (or its nearest located ancestor)."""
        probe = tuple(path)
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Mark(1, 1))

    def key_at(self, path: Path) -> Mark:
        """Where the key of the entry at ``path`` is (the value's place for list items)."""
        return self.keys.get(tuple(path)) or self.at(path)

    def span(self, path: Path) -> ScalarSpan | None:
        return self.spans.get(tuple(path))

    def get(self, path: Path) -> object:
        """The value at ``path``, or None when any step is missing or of the wrong kind."""
        node: object = self.data
        for step in path:
            if isinstance(node, dict):
                if step not in node:
                    return None
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
                node = node[step]
            else:
                return None
        return node


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns the composed node graph into plain Python values, recording locations."""

    def __init__(self, file: str, lines: list[str]) -> None:
        self.file = file
        self.lines = lines
        self.doc = Document(file, None)
        self.problems: list[Problem] = []
        self.count = 0
        self.active: set[int] = set()

    def problem(self, mark: Mark, message: str, check: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.file, mark.line, mark.column, message, check, hint=hint))

    def build(self, node: Node, path: Path, depth: int) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(_mark(node))
        if depth > MAX_DEPTH:
            raise _TooDeep(_mark(node))
        self.doc.values.setdefault(path, _mark(node))
        if isinstance(node, ScalarNode):
            self._span(node, path)
            return self.scalar(node)
        if id(node) in self.active:
            raise _Recursive(_mark(node))
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ:
                    self._bad_tag(node)
                return [
                    self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode):
                if node.tag != _MAP:
                    self._bad_tag(node)
                return self.mapping(node, path, depth)
        finally:
            self.active.discard(id(node))
        return None  # pragma: no cover - PyYAML only composes the three node kinds

    def _span(self, node: ScalarNode, path: Path) -> None:
        first, last = node.start_mark.line, node.end_mark.line
        segments: list[tuple[int, int, int]] = []
        if node.style in ("|", ">"):
            stop_line = last if node.end_mark.column == 0 else last + 1
            body = [(n, self.lines[n]) for n in range(first + 1, min(stop_line, len(self.lines)))]
            indents = [len(t) - len(t.lstrip(" ")) for _, t in body if t.strip()]
            indent = min(indents) if indents else 0
            for number, text in body:
                if text.strip() or node.style == "|":
                    segments.append((number + 1, indent + 1, max(len(text) - indent, 0)))
        elif first < len(self.lines):
            quote = 1 if node.style in ("'", '"') else 0
            for number in range(first, min(last, len(self.lines) - 1) + 1):
                text = self.lines[number]
                begin = node.start_mark.column + quote if number == first else 0
                stop = node.end_mark.column - quote if number == last else len(text.rstrip())
                while begin < stop and number != first and text[begin] in " \t":
                    begin += 1
                if stop > begin:
                    segments.append((number + 1, begin + 1, stop - begin))
        end = Mark(node.end_mark.line + 1, node.end_mark.column + 1)
        folded = _fold(node, self.lines) if node.style == ">" else ()
        self.doc.spans[path] = ScalarSpan(_mark(node), end, node.style, tuple(segments), folded)

    def _bad_tag(self, node: Node) -> None:
        self.problem(
            _mark(node),
            f"unsupported YAML tag {node.tag}",
            "yaml-tag",
            "rulesets use plain YAML: strings, numbers, true/false, lists and maps",
        )

    def scalar(self, node: ScalarNode) -> object:
        text: str = node.value
        tag = node.tag
        constructors: dict[str, Callable[[str], object]] = {
            _STR: str,
            _INT: int,
            _FLOAT: Decimal,
            _BOOL: _boolean,
            _NULL: _null,
            _DATE: dt.date.fromisoformat,
        }
        construct = constructors.get(tag)
        if construct is None:
            self._bad_tag(node)
            return text
        try:
            return construct(text)
        except (ValueError, InvalidOperation):
            kind = tag.rsplit(":", 1)[-1]
            self.problem(_mark(node), f'"{text}" is not a valid {kind}', "yaml-value")
            return text

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[object, object]:
        result: dict[object, object] = {}
        first_seen: dict[object, Mark] = {}
        for key_node, value_node in node.value:
            key_mark = _mark(key_node)
            if not isinstance(key_node, ScalarNode):
                self.problem(key_mark, "a mapping key must be a plain value", "yaml-key")
                continue
            if key_node.value == "<<" and key_node.style is None:
                # YAML 1.1's merge key: not part of the strict loader, and silently a key named
                # "<<" otherwise, so the merged rule looked as if its keys were missing
                self.problem(
                    key_mark,
                    "YAML merge keys (<<: *anchor) are not supported",
                    "yaml-key",
                    "write each rule's keys out; share an expression with a macro, a value"
                    " with a param",
                )
                continue
            key = self.scalar(key_node)
            if key is None:
                key = ""
            if key in first_seen:
                self.problem(
                    key_mark,
                    f'duplicate key "{key}" (lines {first_seen[key].line} and {key_mark.line})',
                    "duplicate-key",
                    "a key may appear once per mapping; the second would silently win",
                )
                continue
            first_seen[key] = key_mark
            child = (*path, key)
            self.doc.keys[child] = key_mark
            result[key] = self.build(value_node, child, depth + 1)
        return result


def _fold(node: ScalarNode, lines: list[str]) -> tuple[tuple[int, int, int, int, int], ...]:
    """Where each source line of a folded block lands in its value (YAML 1.1 folding).

    Lines of the block's indentation join with a space; a line indented deeper, or the
    lines around an empty one, keep their line breaks. The result is checked against the
    value PyYAML built, and dropped (no exact mapping) when the two differ.
    """
    first, last = node.start_mark.line, node.end_mark.line
    stop = last if node.end_mark.column == 0 else last + 1
    body = [(n, lines[n]) for n in range(first + 1, min(stop, len(lines)))]
    indents = [len(t) - len(t.lstrip(" ")) for _, t in body if t.strip()]
    if not indents:
        return ()
    indent = min(indents)
    pieces: list[tuple[int, int, int, int, int]] = []
    text: list[str] = []
    value_line, column, empty = 1, 0, 0
    previous: bool | None = None  # whether the previous text line was indented deeper
    for number, source in body:
        if not source.strip():
            empty += 1
            continue
        content = source[indent:]
        deeper = content[:1] in (" ", "\t")
        if previous is None:
            breaks = 0  # leading empty lines: stripped before an expression is parsed
        elif not previous and not deeper:
            breaks = empty
            if not empty:
                text.append(" ")
                column += 1
        else:
            breaks = empty + 1
        text.append("\n" * breaks)
        if breaks:
            value_line, column = value_line + breaks, 0
        pieces.append((value_line, column, number + 1, indent + 1, len(content)))
        text.append(content)
        column += len(content)
        previous, empty = deeper, 0
    if "".join(text).rstrip("\n") != str(node.value).strip("\n"):
        return ()
    return tuple(pieces)


class _TooLarge(Exception):
    def __init__(self, mark: Mark) -> None:
        self.mark = mark


class _Recursive(Exception):
    def __init__(self, mark: Mark) -> None:
        self.mark = mark


class _TooDeep(Exception):
    def __init__(self, mark: Mark) -> None:
        self.mark = mark


def _boolean(text: str) -> bool:
    if text in ("true", "false"):
        return text == "true"
    raise ValueError(text)


def _null(text: str) -> None:
    if text not in ("", "~", "null"):
        raise ValueError(text)


def _reader_problem(exc: ReaderError, text: str, file: str) -> Problem:
    """A character YAML refuses (NUL, ESC, …), located at it: PyYAML gives only an offset."""
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    character = exc.character
    code = ord(character) if isinstance(character, str) else character
    return Problem(
        file,
        line,
        column,
        f"YAML: the invisible character U+{code:04X} is not allowed in YAML",
        "yaml-syntax",
        hint="delete it: most editors do not show it",
    )


def load_document(text: str, file: str) -> tuple[Document | None, list[Problem]]:
    """Compose ``text`` strictly; never raises. Problems are located in ``file``."""
    try:
        composer = _StrictComposer(text)
        try:
            root = composer.get_single_node()
        finally:
            composer.dispose()
    except yaml.MarkedYAMLError as exc:
        return None, [yaml_syntax_problem(exc, text, file)]
    except ReaderError as exc:
        return None, [_reader_problem(exc, text, file)]
    except yaml.YAMLError as exc:
        return None, [Problem(file, 1, 1, f"YAML: {exc}", "yaml-syntax")]
    except RecursionError:
        return None, [Problem(file, 1, 1, "YAML: nested too deeply", "yaml-syntax")]
    if root is None:
        return None, [
            Problem(file, 1, 1, "the file is empty", "empty-file", hint="a ruleset is a mapping")
        ]
    builder = _Builder(file, text.splitlines())
    try:
        builder.doc.data = builder.build(root, (), 0)
    except _TooLarge as exc:
        builder.problem(exc.mark, f"YAML: expands to more than {MAX_NODES} values", "yaml-size")
        return None, builder.problems
    except _Recursive as exc:
        builder.problem(exc.mark, "YAML: an alias refers to a node that contains it", "yaml-alias")
        return None, builder.problems
    except _TooDeep as exc:
        builder.problem(exc.mark, f"YAML: nested deeper than {MAX_DEPTH} levels", "yaml-depth")
        return None, builder.problems
    return builder.doc, builder.problems
