"""Strict YAML reading that remembers where every value was written.

PyYAML silently keeps the last of two duplicate keys and says little about tabs;
a site manager needs both caught and pointed at. We compose the node tree, build
plain Python data from it ourselves, and keep a map from field path to (line,
column) so that later validation errors can name the line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from incident.errors import IssueList, Msg, ValidationFailed, display_path

try:  # the C composer is several times faster on large files
    _Loader: type = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

PathKey = tuple[str | int, ...]

# Bounds that no hand-written file comes near but that stop a "billion laughs" alias bomb
# (9 levels of 9 aliases is 387 million nodes) before it is expanded: checked on the
# parser's event stream, which costs time and memory in proportion to the text only.
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_ALIASES = 1_000          # '*name' uses in one file
MAX_ALIAS_DEPTH = 4          # an alias to content holding aliases to content holding ...
MAX_ALIAS_NODES = 100_000    # values that all the aliases together stand for


@dataclass(slots=True)
class Located:
    """Plain data from a YAML file plus where each field path was written."""

    file: str
    data: Any
    locations: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: PathKey) -> tuple[int | None, int | None]:
        """The closest known position for a path (walks up to a parent)."""
        p = tuple(path)
        while True:
            if p in self.locations:
                return self.locations[p]
            if not p:
                return (None, None)
            p = p[:-1]

    def issues(self) -> IssueList:
        return IssueList(self.file)

    def add(self, issues: IssueList, path: PathKey, message: str | Msg,
            hint: str | Msg = "", severity: str = "error", **fields: object) -> None:
        """A finding at `path`: `message` a catalogue key (its fields as keywords) or Msg."""
        line, col = self.where(path)
        issues.add(message, line=line, column=col, path=dotted(path), hint=hint,
                   severity=severity, **fields)


def dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_scalar_constructor = yaml.SafeLoader("")  # only used for resolving scalar values


def _scalar(node: yaml.ScalarNode) -> Any:
    try:
        return _scalar_constructor.construct_object(node, deep=True)
    except Exception:  # e.g. an impossible timestamp like 2024-13-45: keep the text
        return node.value


def _build(node: yaml.Node, path: PathKey, out: Located, issues: IssueList,
           active: set[int]) -> Any:
    if id(node) in active:
        line = node.start_mark.line + 1
        issues.add("val.yaml.alias_self", line=line, column=node.start_mark.column + 1,
                   path=dotted(path), hint="val.yaml.alias_self.hint")
        return None
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, child in enumerate(node.value):
                out.locations.setdefault((*path, i),
                                         (child.start_mark.line + 1, child.start_mark.column + 1))
                items.append(_build(child, (*path, i), out, issues, active))
            return items
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key: Any = key_node.value  # raw text: 'no:' stays 'no', not False
                else:
                    issues.add("val.yaml.complex_key",
                               line=key_node.start_mark.line + 1,
                               column=key_node.start_mark.column + 1, path=dotted(path))
                    continue
                kline, kcol = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                    merged = _build(value_node, path, out, issues, active)
                    for m in merged if isinstance(merged, list) else [merged]:
                        if isinstance(m, dict):
                            for mk, mv in m.items():
                                result.setdefault(mk, mv)
                    continue
                if key in seen:
                    issues.add("val.yaml.duplicate_key", name=key, first=seen[key],
                               line=kline, column=kcol, path=dotted((*path, key)),
                               hint="val.yaml.duplicate_key.hint")
                    continue
                seen[key] = kline
                out.locations[(*path, key)] = (kline, kcol)
                result[key] = _build(value_node, (*path, key), out, issues, active)
            return result
        return None  # pragma: no cover - no other node kinds exist
    finally:
        active.discard(id(node))


def _tab_issues(text: str, issues: IssueList) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            issues.add("val.yaml.tab", line=number, column=indent.index("\t") + 1,
                       hint="val.yaml.tab.hint")


def _too_big(size: int, issues: IssueList) -> None:
    if size > MAX_YAML_BYTES:
        issues.add("val.yaml.too_big", size=f"{size / 1048576:.1f}",
                   most=MAX_YAML_BYTES // 1048576, hint="val.yaml.too_big.hint")
        issues.raise_if_errors()


def _alias_issues(text: str, issues: IssueList) -> None:
    """Refuse alias bombs before anything is built: from the parser's events, work out
    how many values each anchor stands for and how deeply aliases nest, and stop at
    the first alias that takes the file past a bound."""
    anchors: dict[str, tuple[int, int]] = {}  # name -> (values, alias depth)
    stack: list[list[Any]] = []  # open collections: [anchor, values, depth]
    count = expanded = 0

    def close(anchor: str | None, size: int, depth: int) -> None:
        if anchor:
            anchors[anchor] = (size, depth)
        if stack:
            stack[-1][1] += size
            stack[-1][2] = max(stack[-1][2], depth)

    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                size, depth = anchors.get(event.anchor, (1, 0))
                count += 1
                expanded += size
                depth += 1
                problem = (Msg("val.yaml.aliases.count", {"n": f"{MAX_ALIASES:,}"})
                           if count > MAX_ALIASES
                           else Msg("val.yaml.aliases.depth", {"n": MAX_ALIAS_DEPTH})
                           if depth > MAX_ALIAS_DEPTH
                           else Msg("val.yaml.aliases.values", {"n": f"{MAX_ALIAS_NODES:,}"})
                           if expanded > MAX_ALIAS_NODES else None)
                if problem:
                    issues.add("val.yaml.aliases", anchor=event.anchor, problem=problem,
                               line=event.start_mark.line + 1,
                               column=event.start_mark.column + 1,
                               hint="val.yaml.aliases.hint")
                    issues.raise_if_errors()
                close(None, size, depth)
            elif isinstance(event, yaml.ScalarEvent):
                close(event.anchor, 1, 0)
            elif isinstance(event, yaml.CollectionStartEvent):
                stack.append([event.anchor, 1, 0])
            elif isinstance(event, yaml.CollectionEndEvent) and stack:
                anchor, size, depth = stack.pop()
                close(anchor, size, depth)
    except yaml.YAMLError:
        return  # the composer below reports syntax errors with their position


#: PyYAML's most common complaints, in the reader's words (others keep PyYAML's text)
_SYNTAX = {
    "mapping values are not allowed in this context": "val.yaml.problem.mapping_values",
    "mapping values are not allowed here": "val.yaml.problem.mapping_values_here",
    "could not find expected ':'": "val.yaml.problem.no_colon",
    "found character that cannot start any token": "val.yaml.problem.bad_character",
    "found undefined alias": "val.yaml.problem.undefined_alias",
    "found unexpected end of stream": "val.yaml.problem.end_of_stream",
    "found unknown escape character": "val.yaml.problem.escape",
    "did not find expected key": "val.yaml.problem.expected_key",
    "did not find expected '-' indicator": "val.yaml.problem.expected_dash",
    "did not find expected node content": "val.yaml.problem.expected_value",
    "did not find expected ',' or ']'": "val.yaml.problem.flow_sequence",
    "did not find expected ',' or '}'": "val.yaml.problem.flow_mapping",
    "second occurrence": "val.yaml.problem.duplicate_anchor",
    "found a tab character that violates indentation": "val.yaml.problem.tab",
}


def _syntax(problem: str) -> Msg | str:
    if not problem:
        return Msg("val.yaml.problem.invalid")
    return Msg(_SYNTAX[problem]) if problem in _SYNTAX else problem


def parse_text(text: str, file: str) -> Located:
    """Parse one YAML document; raise ValidationFailed with every problem found."""
    issues = IssueList(file)
    out = Located(file, None)
    _too_big(len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > MAX_YAML_BYTES
             else len(text), issues)
    _tab_issues(text, issues)
    if issues.has_errors:
        issues.raise_if_errors()
    if "*" in text and "&" in text:  # no anchors, no aliases: skip the extra pass
        _alias_issues(text, issues)
    try:
        docs: Iterator[yaml.Node] = yaml.compose_all(text, Loader=_Loader)
        nodes = list(docs)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = _syntax(exc.problem or exc.context or "")
        issues.add("val.yaml.syntax", problem=problem, line=(mark.line + 1) if mark else None,
                   column=(mark.column + 1) if mark else None, hint="val.yaml.syntax.hint")
        issues.raise_if_errors()
        raise  # pragma: no cover
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        issues.add("val.yaml.invalid", error=str(exc))
        issues.raise_if_errors()
        raise  # pragma: no cover
    if len(nodes) > 1:
        second = nodes[1].start_mark
        issues.add("val.yaml.documents", line=second.line + 1, hint="val.yaml.documents.hint")
    if not nodes:
        issues.add("val.yaml.empty", hint="val.yaml.empty.hint")
    issues.raise_if_errors()
    try:
        out.data = _build(nodes[0], (), out, issues, set())
    except RecursionError:
        issues.add("val.yaml.too_deep")
    issues.raise_if_errors()
    return out


def read_text(path: str | Path) -> tuple[str, str]:
    """Read a user file as text; (text, display name). Clear error on bad bytes."""
    name = display_path(path)
    p = Path(path)
    issues = IssueList(name)
    try:
        _too_big(p.stat().st_size, issues)  # before reading a huge file into memory
        raw = p.read_bytes()
    except OSError as exc:
        issues.add("val.yaml.unreadable", reason=exc.strerror or str(exc))
        raise ValidationFailed(issues.items) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        issues.add("val.yaml.not_utf8", line=line, hint="val.yaml.not_utf8.hint")
        raise ValidationFailed(issues.items) from None


def parse_file(path: str | Path) -> Located:
    text, name = read_text(path)
    return parse_text(text, name)
