"""``veza-ray convert``: a k6 script as a veza-ray scenario file.

Parsed with tree-sitter's JavaScript grammar (no regexes); what has no faithful
translation stays as ``# TODO(convert): <js>`` at its place and is listed at the end.
See docs/porting.md for the subset and the limits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

from veza_ray.convert.scope import text
from veza_ray.convert.translate import Todo, Translator

__all__ = ["Conversion", "ConvertRefused", "convert_source"]


class ConvertRefused(Exception):
    """The file is not a k6 script this converter can read at all (not JavaScript, ...)."""


@dataclass
class Conversion:
    python: str
    todos: list[Todo] = field(default_factory=list)


def _syntax_error(node: Node) -> Node | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error:
            found = _syntax_error(child)
            if found is not None:
                return found
    return None


def parse(source: str) -> Node:
    parser = Parser(Language(tree_sitter_javascript.language()))
    tree = parser.parse(source.encode("utf-8"))
    bad = _syntax_error(tree.root_node) if tree.root_node.has_error else None
    if bad is not None:
        line, col = bad.start_point
        snippet = text(bad).splitlines()[0][:60] if text(bad) else ""
        raise ConvertRefused(
            f"line {line + 1}, column {col + 1}: not valid JavaScript near {snippet!r} "
            "(TypeScript and JSX are not converted)"
        )
    return tree.root_node


def convert_source(source: str, path: str = "script.js") -> Conversion:
    """The Python text of a k6 script, and what it had to leave as TODO."""
    root = parse(source)
    tr = Translator(source.encode("utf-8"))
    tr.first_pass(root)
    if not tr.entries:
        raise ConvertRefused(
            "no VU function: the script exports no default function and names no exec"
        )
    body: list[str] = []
    for node in root.named_children:
        body += tr.stmt(node, "")
        if node.type in ("function_declaration", "export_statement"):
            body.append("")
    return _assemble(tr, body, os.path.basename(path))


def _header(tr: Translator, name: str) -> list[str]:
    lines = [
        f'"""Converted from {name} by `veza-ray convert` (docs/porting.md)."""',
        "",
        "import math  # noqa: F401",
        "import random  # noqa: F401",
        "import re  # noqa: F401",
        "",
    ]
    names = sorted(tr.imports | {"env"})
    lines.append(f"from veza_ray import {', '.join(names)}  # noqa: F401")
    lines.append("from veza_ray.convert import js  # noqa: F401")
    if tr.needs_http:
        lines.append("from veza_ray.convert.js import http")
    return [*lines, "", ""]


def _assemble(tr: Translator, body: list[str], name: str) -> Conversion:
    lines = _header(tr, name) + body
    while lines and not lines[-1].strip():
        lines.pop()
    if tr.todos:
        lines += ["", "", f"# ---- veza-ray convert: {len(tr.todos)} TODO(s) left ----"]
    out: list[str] = []
    for line in "\n".join(lines).split("\n"):
        if "\0" in line:
            line, idx = line.split("\0")
            tr.todos[int(idx)].py_line = len(out) + 1
        out.append(line)
    for t in tr.todos:
        out.append(f"# line {t.py_line} (k6 line {t.js_line}): {t.js[:70]}  -- {t.why}")
    return Conversion("\n".join(out) + "\n", tr.todos)
