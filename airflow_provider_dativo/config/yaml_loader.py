"""Read YAML with the safe loader only, keeping the line of every field for error messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airflow_provider_dativo.errors import ConfigError, ConfigIssue

try:  # the C loader is several times faster and just as safe
    _Loader: type[yaml.CSafeLoader | yaml.SafeLoader] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


# The bounds of one config file, checked before anything walks the document: a file that
# breaks one is refused in milliseconds, whatever it holds. Documented in README.md and in
# docs/CONFIG_REFERENCE.md, which renders these numbers.
MAX_FILE_BYTES = 1024 * 1024  # 1 MiB, read at most once
MAX_NODES = 100_000  # mappings, sequences, keys and values, with every alias expanded
MAX_DEPTH = 100  # nesting levels of mappings and sequences, with every alias expanded


def _too_large(file: str) -> ConfigError:
    return ConfigError([ConfigIssue(
        file, f"the file is larger than {MAX_FILE_BYTES:,} bytes, the limit of a config file; "
        "split it into several files")])


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: its data and the 1-based line of each field path."""

    file: str
    data: Any
    lines: Mapping[str, int]

    def line_of(self, path: str) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = parent_path(path)


def join_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def parent_path(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _first_alias(text: str) -> tuple[str, int] | None:
    """The first alias of ``text`` and its line; only read when a limit is hit (the node graph
    does not keep where an alias was written, the parser's events do)."""
    try:
        for event in yaml.parse(text, Loader=_Loader):
            # the parser marks every event it reads; an unmarked one could not be pointed at
            if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
                return str(event.anchor), event.start_mark.line + 1
    except yaml.YAMLError:
        pass
    return None


def _over_limit(node: yaml.Node, text: str, file: str, what: str) -> ConfigError:
    alias = _first_alias(text)
    if alias is None:
        return ConfigError([ConfigIssue(file, f"{what}; split the file or simplify it",
                                        node.start_mark.line + 1)])
    name, line = alias
    return ConfigError([ConfigIssue(
        file, f"{what}; the first alias, *{name}, is on this line: write the values out "
        "instead of nesting aliases", line)])


def check_bounds(root: yaml.Node, text: str, file: str) -> None:
    """Refuse a document that would be too large or too deep once its aliases are expanded.

    Aliases share one node, so sizes are computed once per node (by identity) and summed: the
    cost is linear in the file, however many times the aliases multiply it. Every later walk
    (schema validation, freezing, error messages) sees at most ``MAX_NODES`` nodes.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    entered: set[int] = set()  # on the current path: seen again means a recursive alias
    stack: list[tuple[yaml.Node, list[yaml.Node] | None]] = [(root, None)]
    while stack:
        node, kids = stack.pop()
        key = id(node)
        if kids is not None:  # every child is measured: measure the node
            size[key] = 1 + sum(size[id(k)] for k in kids)
            height[key] = 1 + max((height[id(k)] for k in kids), default=0)
            entered.discard(key)
            if size[key] > MAX_NODES:
                raise _over_limit(node, text, file, f"with its aliases expanded, the document "
                                  f"has more than {MAX_NODES:,} nodes (the limit of a "
                                  "config file)")
            if height[key] > MAX_DEPTH:
                raise _over_limit(node, text, file, f"with its aliases expanded, the document "
                                  f"nests more than {MAX_DEPTH} levels deep (the limit of "
                                  "a config file)")
            continue
        if key in size:
            continue
        if isinstance(node, yaml.ScalarNode):  # most nodes: no need to visit them twice
            size[key] = height[key] = 1
            continue
        if key in entered:
            alias = _first_alias(text)
            line = alias[1] if alias else node.start_mark.line + 1
            raise ConfigError([ConfigIssue(
                file, "an alias refers to a block that contains it, which never ends; "
                "write the values out", line)])
        entered.add(key)
        children = _children(node)
        stack.append((node, children))
        stack.extend((k, None) for k in children if id(k) not in size)


def _index_lines(root: yaml.Node, lines: dict[str, int], issues: list[ConfigIssue],
                 file: str) -> None:
    """The line of every field path; an aliased block is indexed once, under its anchor, and
    a field below an alias takes the alias's line (``YamlDocument.line_of``)."""
    indexed: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in indexed:
            continue
        indexed.add(id(node))
        children: list[tuple[yaml.Node, str]] = []
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = join_path(path, key)
                if key in seen:
                    issues.append(ConfigIssue(file, f"duplicate key '{key}'",
                                              key_node.start_mark.line + 1, child))
                seen.add(key)
                lines[child] = key_node.start_mark.line + 1
                children.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, join_path(path, i)) for i, item in enumerate(node.value)]
        # reversed onto the stack, so blocks are walked in file order: an anchor is indexed
        # where it is written, before any alias of it
        stack.extend(reversed(children))


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document; syntax errors and duplicate keys raise ConfigError."""
    # the length in characters first: a text that long is over the limit without encoding it
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise _too_large(file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError([ConfigIssue(file, "the file is empty", 1)])
        check_bounds(node, text, file)
        lines: dict[str, int] = {}
        issues: list[ConfigIssue] = []
        _index_lines(node, lines, issues, file)
        if issues:
            raise ConfigError(sorted(issues, key=lambda i: (i.line or 0, i.path)))
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError([ConfigIssue(file, f"YAML syntax error: {problem}", line)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(file, f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    return YamlDocument(file=file, data=data, lines=lines)


def load_yaml(path: str | Path) -> YamlDocument:
    p = Path(path)
    try:
        with p.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)  # never more than the limit lets through
        if len(raw) > MAX_FILE_BYTES:
            raise _too_large(str(p))
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(p), "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(str(p), f"cannot read file: {exc}")]) from None
    return parse_yaml(text, str(p))
