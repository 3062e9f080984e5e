"""What the translator must know before it writes a line: names, scopes, async functions.

Python needs ``global``/``nonlocal`` where JavaScript closes over a variable, and
``await`` wherever a k6 call (or a function that makes one) pauses the VU; both are found
here by walking the tree-sitter syntax tree once.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterator

from tree_sitter import Node

FUNCTIONS = frozenset(
    {
        "function_declaration",
        "function_expression",
        "function",
        "arrow_function",
        "generator_function_declaration",
        "method_definition",
    }
)

# Names a converted file binds itself, or that Python's keywords and builtins own.
RESERVED = frozenset(
    set(keyword.kwlist)
    | {
        "print",
        "len",
        "str",
        "int",
        "float",
        "list",
        "dict",
        "set",
        "id",
        "type",
        "range",
        "json",
        "re",
        "js",
        "random",
        "math",
        "vu",
        "env",
        "check",
        "sleep",
        "group",
        "file",
        "http",
        "Counter",
        "Rate",
        "Trend",
        "Gauge",
        "time",
        "open",
        "object",
        "bytes",
        "min",
        "max",
        "abs",
        "round",
        "sum",
        "map",
        "filter",
        "iter",
        "next",
        "input",
    }
)


def text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8")


def py_name(name: str) -> str:
    """A JavaScript identifier as a Python name that clashes with nothing."""
    name = name.replace("$", "S_")
    return name + "_" if name in RESERVED else name


def walk(node: Node, into_functions: bool = False) -> Iterator[Node]:
    """Every descendant; nested functions' bodies only when asked."""
    for child in node.named_children:
        yield child
        if into_functions or child.type not in FUNCTIONS:
            yield from walk(child, into_functions)


def pattern_names(node: Node) -> list[str]:
    """Identifiers bound by a declarator's name (plain or destructuring)."""
    if node.type in ("identifier", "shorthand_property_identifier_pattern"):
        return [text(node)]
    out: list[str] = []
    for child in walk(node):
        if child.type in ("identifier", "shorthand_property_identifier_pattern"):
            out.append(text(child))
    return out


def declared(body: Node, params: Node | None = None) -> set[str]:
    """Names a function (or the program) declares itself."""
    names: set[str] = set()
    if params is not None:
        names.update(pattern_names(params))
    for node in walk(body):
        if node.type == "variable_declarator":
            name = node.child_by_field_name("name")
            if name is not None:
                names.update(pattern_names(name))
        elif node.type in ("function_declaration", "generator_function_declaration"):
            names.add(text(node.child_by_field_name("name")))
        elif node.type == "for_in_statement":
            left = node.child_by_field_name("left")
            if left is not None:
                names.update(pattern_names(left))
        elif node.type == "catch_clause":
            param = node.child_by_field_name("parameter")
            if param is not None:
                names.update(pattern_names(param))
    return names


def assigned(body: Node) -> set[str]:
    """Names a function assigns to (``x = ...``, ``x += ...``, ``x++``)."""
    names: set[str] = set()
    for node in walk(body):
        target = None
        if node.type in ("assignment_expression", "augmented_assignment_expression"):
            target = node.child_by_field_name("left")
        elif node.type == "update_expression":
            target = node.child_by_field_name("argument")
        if target is not None and target.type == "identifier":
            names.add(text(target))
    return names


def function_parts(node: Node) -> tuple[Node | None, Node | None]:
    """(parameters, body) of any function node."""
    params = node.child_by_field_name("parameters") or node.child_by_field_name("parameter")
    return params, node.child_by_field_name("body")
