"""The one way smtune reads YAML (tuning specs, study files): safe, each key once, bounded.

PyYAML shares an aliased node, so `a: &a [...]` nested a few levels composes at once but
expands into millions of values for whoever walks the result (variable expansion, pydantic):
a spec of 2 kB ran past 30 s without a word. The bounds are checked on the composed node
graph, before anything is constructed, in time proportional to the file, not its expansion.
"""

from __future__ import annotations

from functools import cache
from typing import Any

MAX_BYTES = 1_000_000
MAX_NODES = 100_000  # values after aliases are expanded; a shipped spec has under 200


class YamlError(ValueError):
    """The text is not YAML smtune reads; the message says why, for `<file> <message>`."""


def parse(text: str) -> Any:
    """Plain data from YAML text (safe tags only), or a YamlError naming the rule broken."""
    import yaml

    if len(text.encode()) > MAX_BYTES:
        raise YamlError(
            f"is {len(text.encode()):,} bytes: smtune reads YAML of at most {MAX_BYTES:,} bytes"
        )
    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise YamlError(f"is not valid YAML: {error}") from None
    except RecursionError:  # PyYAML composes recursively: `[[[[...` thousands deep
        raise YamlError(
            "nests too deep: smtune reads YAML nested at most a few hundred levels"
        ) from None
    finally:
        loader.dispose()


def _check_expansion(root: Any) -> None:
    """Refuse a node graph that expands past MAX_NODES values, or into itself."""
    import yaml

    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Any) -> int:  # each node once: the work is the file's, not its expansion
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise YamlError(
                f"has an alias at line {node.start_mark.line + 1} that refers to a value "
                "containing it, which expands without end: smtune reads no recursive YAML"
            )
        open_.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_.discard(key)
        if total > MAX_NODES:
            raise YamlError(
                f"expands to more than {MAX_NODES:,} values through its aliases (&anchor/"
                f"*alias), by line {node.start_mark.line + 1}: smtune reads YAML of at most "
                f"{MAX_NODES:,} values; write the values out, or use fewer aliases"
            )
        sizes[key] = total
        return total

    size(root)


@cache
def _loader() -> type:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping (else the last wins)."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key, line = self.construct_object(key_node), key_node.start_mark.line + 1
                if key in seen:
                    raise yaml.MarkedYAMLError(
                        problem=f"key {key!r} at line {line} repeats the one at line "
                        f"{seen[key]}: each key may appear once"
                    )
                seen[key] = line
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader
