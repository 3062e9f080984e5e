"""The translator's shared state, declared once so its parts (expressions, calls, imports,
statements) type-check as separate mixins."""

from __future__ import annotations

from tree_sitter import Node


class Unsupported(Exception):
    """This construct has no faithful translation here; the message says which."""


class Base:
    """Attributes every part reads, and the methods one part calls in another."""

    bindings: dict[str, str]
    async_names: set[str]
    entries: set[str]
    module_names: set[str]
    imports: set[str]
    need: set[str]
    needs_http: bool
    pending: list[str]
    depth: int
    current_indent: str = ""

    def expr(self, node: Node) -> str:
        raise NotImplementedError

    def sub(self, node: Node) -> str:
        raise NotImplementedError

    def key(self, node: Node) -> str:
        raise NotImplementedError

    def name(self, name: str) -> str:
        raise NotImplementedError

    def awaited(self, call: str) -> str:
        raise NotImplementedError

    def vu_expr(self) -> str:
        raise NotImplementedError

    def in_module(self) -> bool:
        raise NotImplementedError

    def op(self, node: Node) -> str:
        raise NotImplementedError

    def is_async_call(self, node: Node) -> bool:
        raise NotImplementedError

    def regex(self, node: Node) -> str:
        raise NotImplementedError

    def args(self, node: Node | None) -> list[Node]:
        raise NotImplementedError

    def hoist_id(self) -> int:
        raise NotImplementedError

    def function(self, js_name: str, node: Node, ind: str) -> list[str]:
        raise NotImplementedError

    def function_value(self, node: Node) -> str:
        raise NotImplementedError
