"""JavaScript expressions as Python expressions (the part of the translator that returns text).

Each method takes one tree-sitter node and returns Python source, or raises
``Unsupported`` (the statement around it then becomes a ``# TODO(convert)`` line).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from tree_sitter import Node

from veza_ray.convert.base import Base, Unsupported
from veza_ray.convert.scope import FUNCTIONS, text, walk

# Attributes a k6 Response (and its timings) has under the same name in veza-ray.
RESPONSE_ATTRS = frozenset(
    {
        "status",
        "body",
        "headers",
        "timings",
        "url",
        "error",
        "error_code",
        "json",
        "blocked",
        "connecting",
        "tls_handshaking",
        "sending",
        "waiting",
        "receiving",
        "duration",
    }
)
BINARY = {
    "&&": "and",
    "||": "or",
    "===": "==",
    "!==": "!=",
    "==": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "-": "-",
    "*": "*",
    "/": "/",
    "%": "%",
    "**": "**",
    "&": "&",
    "|": "|",
    "^": "^",
    "<<": "<<",
    ">>": ">>",
    "in": "in",
}
WRAP = frozenset(
    {
        "binary_expression",
        "ternary_expression",
        "unary_expression",
        "assignment_expression",
        "arrow_function",
        "await_expression",
    }
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def js_string(node: Node) -> str:
    """The value of a string literal, its escapes decoded."""
    out = []
    for child in node.named_children:
        raw = text(child)
        if child.type == "escape_sequence":
            out.append(decode_escape(raw))
        else:
            out.append(raw)
    return "".join(out)


def decode_escape(raw: str) -> str:
    body = raw[1:]
    if body in _ESCAPES:
        return _ESCAPES[body]
    if body[:1] == "x":
        return chr(int(body[1:3], 16))
    if body[:2] == "u{":
        return chr(int(body[2:-1], 16))
    if body[:1] == "u":
        return chr(int(body[1:5], 16))
    if body[:1] in "\r\n":
        return ""
    return body


class Exprs(Base):
    """Expression translation, mixed into the Translator."""

    def expr(self, node: Node) -> str:
        handler: Callable[[Node], str] | None = getattr(self, "x_" + node.type, None)
        if handler is None:
            raise Unsupported(f"{node.type.replace('_', ' ')}")
        return handler(node)

    def sub(self, node: Node) -> str:
        """An operand: parenthesised when it is itself an operation."""
        out = self.expr(node)
        return f"({out})" if node.type in WRAP else out

    # ---- literals ------------------------------------------------------------------

    def x_number(self, node: Node) -> str:
        raw = text(node).replace("_", "")
        if re.fullmatch(r"0[0-7]+", raw):
            raise Unsupported("legacy octal number")
        return raw[:-1] if raw.endswith("n") else raw

    def x_string(self, node: Node) -> str:
        return repr(js_string(node))

    def x_true(self, node: Node) -> str:
        return "True"

    def x_false(self, node: Node) -> str:
        return "False"

    def x_null(self, node: Node) -> str:
        return "None"

    def x_undefined(self, node: Node) -> str:
        return "None"

    def x_parenthesized_expression(self, node: Node) -> str:
        inner = node.named_children[-1]
        return f"({self.expr(inner)})"

    def x_template_string(self, node: Node) -> str:
        parts: list[str] = []
        for child in node.named_children:
            if child.type == "template_substitution":
                inner = self.expr(child.named_children[0])
                if "\\" in inner or '"' in inner or "\n" in inner:
                    return self._template_concat(node)
                parts.append("{" + inner + "}")
            else:
                raw = decode_escape(text(child)) if child.type == "escape_sequence" else text(child)
                parts.append(raw.replace("{", "{{").replace("}", "}}"))
        body = "".join(parts)
        if not any(c.type == "template_substitution" for c in node.named_children):
            return repr(body.replace("{{", "{").replace("}}", "}"))
        return "f" + json.dumps(body, ensure_ascii=False)

    def _template_concat(self, node: Node) -> str:
        pieces: list[str] = []
        for child in node.named_children:
            if child.type == "template_substitution":
                pieces.append(f"js.string({self.expr(child.named_children[0])})")
            elif child.type == "escape_sequence":
                pieces.append(repr(decode_escape(text(child))))
            else:
                pieces.append(repr(text(child)))
        return " + ".join(pieces) or "''"

    def x_array(self, node: Node) -> str:
        return self.collection(node, "[", "]", self.array_item)

    def array_item(self, child: Node) -> str:
        if child.type == "spread_element":
            return "*" + self.sub(child.named_children[0])
        return self.expr(child)

    def x_object(self, node: Node) -> str:
        return self.collection(node, "{", "}", self.object_item)

    def object_item(self, child: Node) -> str:
        if child.type == "pair":
            key = child.child_by_field_name("key")
            value = child.child_by_field_name("value")
            assert key is not None and value is not None
            return f"{self.key(key)}: {self.expr(value)}"
        if child.type == "shorthand_property_identifier":
            return f"{text(child)!r}: {self.name(text(child))}"
        if child.type == "spread_element":
            return "**" + self.sub(child.named_children[0])
        raise Unsupported(f"object member {child.type.replace('_', ' ')}")

    def collection(self, node: Node, open_: str, close: str, item: Callable[[Node], str]) -> str:
        """A literal on one line, or one item a line (comments kept) when the k6 script
        wrote it over several lines."""
        kids = node.named_children
        if node.start_point[0] == node.end_point[0] or not kids:
            return open_ + ", ".join(item(c) for c in kids if c.type != "comment") + close
        self.depth += 1
        try:
            pad = self.current_indent + "    " * self.depth
            lines: list[str] = []
            last_row = -1
            for c in kids:
                if c.type == "comment":
                    note = "#" + text(c)[2:].rstrip() if text(c).startswith("//") else ""
                    if note and lines and c.start_point[0] == last_row:
                        lines[-1] += "  " + note  # a comment at the end of the item's line
                    elif note:
                        lines.append(pad + note)
                    continue
                lines.append(pad + item(c) + ",")
                last_row = c.end_point[0]
        finally:
            self.depth -= 1
        end_pad = self.current_indent + "    " * self.depth
        return open_ + "\n" + "\n".join(lines) + "\n" + end_pad + close

    def key(self, node: Node) -> str:
        if node.type == "string":
            return self.x_string(node)
        if node.type == "computed_property_name":
            return self.expr(node.named_children[0])
        return repr(text(node))

    # ---- names ---------------------------------------------------------------------

    def x_identifier(self, node: Node) -> str:
        name = text(node)
        if name == "undefined":
            return "None"
        if name in ("__VU", "__ITER"):
            if self.in_module():
                raise Unsupported(f"{name} outside a VU function")
            attr = "id" if name == "__VU" else "iteration"
            return f"{self.vu_expr()}.{attr}"
        if name in ("Infinity", "NaN"):
            return "math.inf" if name == "Infinity" else "math.nan"
        if name == "__ENV":
            raise Unsupported("__ENV as a whole object")
        return self.name(name)

    def x_shorthand_property_identifier(self, node: Node) -> str:
        return self.name(text(node))

    def x_this(self, node: Node) -> str:
        raise Unsupported("this")

    # ---- operators -----------------------------------------------------------------

    def stringy(self, node: Node) -> bool:
        if node.type in ("string", "template_string"):
            return True
        if node.type == "parenthesized_expression":
            return self.stringy(node.named_children[-1])
        if node.type == "binary_expression" and self.op(node) == "+":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            return (left is not None and self.stringy(left)) or (
                right is not None and self.stringy(right)
            )
        return False

    def op(self, node: Node) -> str:
        return text(node.child_by_field_name("operator"))

    def x_binary_expression(self, node: Node) -> str:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        assert left is not None and right is not None
        op = self.op(node)
        if op == "+":
            if self.stringy(left) or self.stringy(right):
                return f"{self.as_string(left)} + {self.as_string(right)}"
            return f"{self.sub(left)} + {self.sub(right)}"
        if op in ("===", "!==") and (
            right.type in ("null", "undefined") or text(right) == "undefined"
        ):
            return f"{self.sub(left)} {'is' if op == '===' else 'is not'} None"
        if op == "??":
            if left.type not in ("identifier", "member_expression"):
                raise Unsupported("?? on a computed value")
            a = self.sub(left)
            return f"{a} if {a} is not None else {self.sub(right)}"
        if op not in BINARY:
            raise Unsupported(f"operator {op}")
        return f"{self.sub(left)} {BINARY[op]} {self.sub(right)}"

    def as_string(self, node: Node) -> str:
        return self.sub(node) if self.stringy(node) else f"js.string({self.expr(node)})"

    def x_update_expression(self, node: Node) -> str:
        """``i++`` / ``++i`` read as a value (``users[i++]``): Python's ``:=`` on a plain
        name; the scope pass already declares ``global``/``nonlocal`` for it."""
        arg = node.child_by_field_name("argument")
        if arg is None or arg.type != "identifier":
            raise Unsupported("update expression of a property, read as a value")
        name, step = self.name(text(arg)), ("+" if "++" in text(node) else "-")
        bump = f"({name} := {name} {step} 1)"
        prefix = node.children[0].type in ("++", "--")
        return bump if prefix else f"({bump} {'-' if step == '+' else '+'} 1)"

    def x_unary_expression(self, node: Node) -> str:
        op = self.op(node)
        arg = node.child_by_field_name("argument")
        assert arg is not None
        if op == "!":
            return f"not {self.sub(arg)}"
        if op == "-":
            return f"-{self.sub(arg)}"
        if op == "typeof":
            return f"js.typeof({self.expr(arg)})"
        if op == "+":
            return f"js.parse_float({self.expr(arg)})"
        raise Unsupported(f"operator {op}")

    def x_ternary_expression(self, node: Node) -> str:
        cond = node.child_by_field_name("condition")
        yes = node.child_by_field_name("consequence")
        no = node.child_by_field_name("alternative")
        assert cond is not None and yes is not None and no is not None
        return f"{self.sub(yes)} if {self.sub(cond)} else {self.sub(no)}"

    def x_await_expression(self, node: Node) -> str:
        return self.expr(node.named_children[0])

    # ---- functions -----------------------------------------------------------------

    def x_arrow_function(self, node: Node) -> str:
        return self.function_value(node)

    def x_function_expression(self, node: Node) -> str:
        return self.function_value(node)

    x_function = x_function_expression

    def lambda_params(self, params: Node | None) -> str:
        if params is None:
            return ""
        if params.type == "identifier":
            return self.name(text(params))
        return ", ".join(self.param(p) for p in params.named_children if p.type != "comment")

    def param(self, node: Node) -> str:
        if node.type == "identifier":
            return self.name(text(node))
        if node.type == "assignment_pattern":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is None or right is None or left.type != "identifier":
                raise Unsupported("destructured parameter")
            return f"{self.name(text(left))}={self.expr(right)}"
        if node.type == "rest_pattern" and node.named_children[0].type == "identifier":
            return "*" + self.name(text(node.named_children[0]))
        raise Unsupported("destructured parameter")

    def needs_await(self, node: Node) -> bool:
        """Whether a function body makes a call that pauses the VU (http, sleep, ...)."""
        for child in [node, *walk(node, into_functions=False)]:
            if child.type == "call_expression" and self.is_async_call(child):
                return True
        return False

    def contains_function(self, node: Node) -> bool:
        return any(c.type in FUNCTIONS for c in walk(node))
