"""YAML reading that remembers where every value came from.

PyYAML silently keeps the last of two equal keys and forgets line numbers once a
document is constructed; model authors need both, so we walk the composed node
tree ourselves.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml

from leadgate.exceptions import ModelError

__all__ = ["Located", "Path", "format_path", "load_yaml"]

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """Render ``("groups", "fit", "rules", 3, "when")`` as ``groups.fit.rules[3].when``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part or not part or " " in part:
            out += f'["{part}"]'
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True, slots=True)
class Located:
    """A parsed YAML document plus the 1-based line of every path inside it."""

    value: Any
    file: str | None
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """Line of ``path`` or of its nearest ancestor that has one."""
        probe = path
        while True:
            if probe in self.lines:
                return self.lines[probe]
            if not probe:
                return None
            probe = probe[:-1]

    def error(self, path: Path, message: str) -> ModelError:
        return ModelError(message, file=self.file, path=format_path(path), line=self.line_of(path))


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so country ``NO`` stays Norway."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml(text: str, *, file: str | None = None) -> Located:
    """Parse one YAML document; syntax errors, duplicate keys and emptiness raise ModelError."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ModelError("the file is empty; expected a YAML mapping", file=file)
        lines: dict[Path, int] = {}
        value = _construct(loader, node, (), lines, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ModelError(
            f"invalid YAML: {problem}",
            file=file,
            line=None if mark is None else mark.line + 1,
        ) from None
    except yaml.YAMLError as exc:
        raise ModelError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    return Located(value=value, file=file, lines=lines)


def _construct(
    loader: _Loader,
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    file: str | None,
    *,
    active: frozenset[int] = frozenset(),
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in active:
            raise ModelError(
                "an alias refers to a value that contains it (recursive YAML structure)",
                file=file,
                path=format_path(path),
                line=node.start_mark.line + 1,
            )
        active = active | {id(node)}
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node, path, file)
            if not isinstance(key, Hashable) or isinstance(key, (list, dict)):
                raise ModelError(
                    "mapping keys must be plain values",
                    file=file,
                    path=format_path(path),
                    line=key_node.start_mark.line + 1,
                )
            key_text = key if isinstance(key, str) else str(key)
            if key in result:
                raise ModelError(
                    f"duplicate key {key_text!r}",
                    file=file,
                    path=format_path(path),
                    line=key_node.start_mark.line + 1,
                )
            sub = (*path, key_text)
            result[key] = _construct(loader, value_node, sub, lines, file, active=active)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, (*path, index), lines, file, active=active)
            for index, item in enumerate(node.value)
        ]
    return _scalar(loader, node, path, file)


def _scalar(loader: _Loader, node: yaml.Node, path: Path, file: str | None) -> Any:
    """Construct a plain value; a value YAML resolves but Python rejects is a ModelError.

    Examples: ``2024-13-45`` (a date with month 13) or an integer of thousands of digits.
    """
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        shown = str(node.value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ModelError(
            f"invalid value {shown!r}: {exc}",
            file=file,
            path=format_path(path),
            line=node.start_mark.line + 1,
        ) from None
