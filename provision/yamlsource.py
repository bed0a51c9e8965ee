"""Bounded, line-tracking YAML loading for user input.

`load_yaml_text` parses with PyYAML's safe loader, but refuses documents that are too large or use
too many aliases (a "billion laughs" file fails fast in bounded memory), reports duplicate keys, and
returns a map from each node's path (a tuple of keys and list indexes) to its 1-based line so that
later validation errors can say FILE:LINE.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from provision.errors import Problem, UserInputError

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000

PathKey = tuple[str | int, ...]


@dataclass
class YamlDocument:
    data: Any
    lines: dict[PathKey, int]
    source: str

    def line_of(self, path: PathKey) -> int | None:
        """Line of the deepest known node on `path` (falls back to its parents)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


class _BoundedLoader(yaml.SafeLoader):
    """Safe loader that bounds the number of nodes it composes (aliases are bounded after)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.node_count = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.node_count += 1
        if self.node_count > MAX_NODES:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _LimitError(f"more than {MAX_NODES} YAML nodes", mark.line + 1)
        return super().compose_node(parent, index)


class _LimitError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def read_text_bounded(path: Path, what: str = "file", max_bytes: int = MAX_BYTES) -> str:
    """Read a UTF-8 text file of at most `max_bytes`, raising UserInputError otherwise."""
    try:
        if path.is_dir():
            raise UserInputError([Problem(f"{what} is a directory, not a file", file=str(path))])
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever; only regular
        # files are read (a FIFO or a device is refused before any read).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UserInputError(
                    [Problem(f"{what} is not a regular file (a pipe or a device?)", file=str(path))]
                )
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise UserInputError([Problem(f"{what} not found", file=str(path))]) from None
    except OSError as exc:
        raise UserInputError(
            [Problem(f"cannot read {what}: {exc.strerror}", file=str(path))]
        ) from None
    if len(raw) > max_bytes:
        raise UserInputError(
            [
                Problem(
                    f"{what} is larger than {max_bytes // 1024} KiB; refusing to read it",
                    file=str(path),
                )
            ]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserInputError(
            [Problem(f"not UTF-8 text (byte {exc.start})", file=str(path))]
        ) from None


def load_yaml_text(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; every failure becomes a UserInputError naming SOURCE:LINE."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise UserInputError([Problem(f"larger than {MAX_BYTES // 1024} KiB", file=source)])
    try:
        loader = _BoundedLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses NUL and other control characters
        raise UserInputError([Problem(f"invalid YAML: {_one_line(exc)}", file=source)]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(data=None, lines={}, source=source)
        expanded = _expanded_size(node, {})
        if expanded > MAX_NODES:
            raise _LimitError(
                f"expands to more than {MAX_NODES} nodes through aliases (alias bomb?)",
                node.start_mark.line + 1,
            )
        problems: list[Problem] = []
        lines: dict[PathKey, int] = {}
        _walk(node, (), lines, problems, source)
        if problems:
            raise UserInputError(problems)
        data = loader.construct_document(node)
    except _LimitError as exc:
        raise UserInputError([Problem(str(exc), file=source, line=exc.line)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
        raise UserInputError([Problem(f"invalid YAML: {what}", file=source, line=line)]) from None
    except yaml.YAMLError as exc:
        raise UserInputError([Problem(f"invalid YAML: {exc}", file=source)]) from None
    except RecursionError:
        raise UserInputError([Problem("YAML nested too deeply", file=source)]) from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        problem = Problem(f"invalid YAML value: {_one_line(exc)}", file=source)
        raise UserInputError([problem]) from None
    finally:
        loader.dispose()
    return YamlDocument(data=data, lines=lines, source=source)


def _walk(
    node: Node, path: PathKey, lines: dict[PathKey, int], problems: list[Problem], source: str
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                problems.append(
                    Problem(
                        "mapping keys must be plain strings",
                        file=source,
                        line=key_node.start_mark.line + 1,
                    )
                )
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        f"duplicate key {key!r} (first at line {seen[key]})", file=source, line=line
                    )
                )
                continue
            seen[key] = line
            _walk_child(value_node, (*path, key), lines, problems, source=source, key_line=line)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems, source)


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    """Number of nodes once every alias is expanded (memoised on node identity, so cheap)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # guards against recursive structures
    total = 1
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            total += _expanded_size(key_node, memo) + _expanded_size(value_node, memo)
            if total > MAX_NODES:
                break
    elif isinstance(node, SequenceNode):
        for item in node.value:
            total += _expanded_size(item, memo)
            if total > MAX_NODES:
                break
    memo[id(node)] = total
    return total


def _walk_child(
    node: Node,
    path: PathKey,
    lines: dict[PathKey, int],
    problems: list[Problem],
    *,
    source: str,
    key_line: int,
) -> None:
    _walk(node, path, lines, problems, source)
    # A value's errors are reported at its key's line, which is where people look.
    lines[path] = key_line


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
