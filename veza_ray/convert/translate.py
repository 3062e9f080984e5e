"""Statements and functions: a k6 script's syntax tree as a veza-ray scenario file.

One statement that cannot be translated faithfully becomes ``# TODO(convert): <js>``
lines at its place (and ``pass`` when a block would be left empty); everything around it
is still converted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tree_sitter import Node

from veza_ray.convert.base import Unsupported
from veza_ray.convert.calls import Calls
from veza_ray.convert.exprs import Exprs, js_string
from veza_ray.convert.imports import Imports
from veza_ray.convert.scope import assigned, declared, function_parts, py_name, text, walk

IND = "    "
TODO = "# TODO(convert): "


@dataclass
class Todo:
    js_line: int
    js: str
    why: str
    py_line: int = 0


@dataclass
class FnCtx:
    name: str
    entry: bool
    is_async: bool
    declared: set[str] = field(default_factory=set)


class Translator(Exprs, Calls, Imports):
    """Walks one program; ``lines`` is the Python text, ``todos`` what was left."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.bindings: dict[str, str] = {}
        self.async_names: set[str] = set()
        self.entries: set[str] = set()
        self.module_names: set[str] = set()
        self.imports: set[str] = set()
        self.need: set[str] = set()
        self.needs_http = False
        self.todos: list[Todo] = []
        self.stack: list[FnCtx] = []
        self.pending: list[str] = []
        self.hoisted = 0
        self.depth = 0

    # ---- context -------------------------------------------------------------------

    def in_module(self) -> bool:
        return not self.stack

    def vu_expr(self) -> str:
        return "vu" if self.stack and self.stack[0].entry else "js.vu()"

    def name(self, name: str) -> str:
        return py_name(name)

    def awaited(self, call: str) -> str:
        if not self.stack or not self.stack[-1].is_async:
            raise Unsupported("a call that waits (http, sleep) outside a VU function")
        return f"await {call}"

    # ---- statements ----------------------------------------------------------------

    def stmt(self, node: Node, ind: str) -> list[str]:
        saved, self.pending = self.pending, []
        saved_ind, self.current_indent = self.current_indent, ind
        try:
            handler: Callable[[Node, str], list[str]] | None = getattr(self, "s_" + node.type, None)
            if handler is None:
                raise Unsupported(node.type.replace("_", " "))
            lines = handler(node, ind)
            return [*self.pending, *lines]
        except Unsupported as exc:
            return self.todo(node, ind, str(exc))
        finally:
            self.pending = saved
            self.current_indent = saved_ind

    def todo(self, node: Node, ind: str, why: str) -> list[str]:
        js_lines = text(node).splitlines() or [""]
        self.todos.append(Todo(node.start_point[0] + 1, js_lines[0].strip(), why))
        marker = f"\0{len(self.todos) - 1}"
        out = [f"{ind}{TODO}{js_lines[0].strip()}  ({why}){marker}"]
        out += [f"{ind}#   {line.rstrip()}" for line in js_lines[1:]]
        return out

    def block(self, node: Node | None, ind: str) -> list[str]:
        """A block's statements at ``ind``; ``pass`` when nothing executable is left."""
        lines: list[str] = []
        children = [] if node is None else node.named_children
        if node is not None and node.type not in (
            "statement_block",
            "switch_case",
            "switch_default",
        ):
            children = [node]
        for child in children:
            lines += self.stmt(child, ind)
        if not any(not line.strip().startswith("#") for line in lines):
            lines.append(f"{ind}pass")
        return lines

    def s_comment(self, node: Node, ind: str) -> list[str]:
        raw = text(node)
        if raw.startswith("//"):
            return [f"{ind}#{raw[2:].rstrip()}"]
        body = raw[2:-2].strip("*").splitlines()
        return [f"{ind}# {line.strip().lstrip('*').strip()}".rstrip() for line in body]

    def s_empty_statement(self, node: Node, ind: str) -> list[str]:
        return []

    def s_statement_block(self, node: Node, ind: str) -> list[str]:
        return [line for c in node.named_children for line in self.stmt(c, ind)]

    def s_expression_statement(self, node: Node, ind: str) -> list[str]:
        inner = node.named_children[0]
        if inner.type == "sequence_expression":
            raise Unsupported("comma expression")
        if inner.type in ("assignment_expression", "augmented_assignment_expression"):
            return [ind + self.assignment(inner)]
        if inner.type == "update_expression":
            return [ind + self.update(inner)]
        if inner.type == "call_expression" and self.is_for_each(inner):
            return self.for_each(inner, ind)
        if inner.type == "call_expression" and self.inline_group(inner):
            return self.group_block(inner, ind)
        return [ind + self.expr(inner)]

    def target(self, node: Node) -> str:
        if node.type == "identifier":
            return self.name(text(node))
        if node.type == "member_expression":
            obj = node.child_by_field_name("object")
            assert obj is not None
            return f"{self.sub(obj)}[{text(node.child_by_field_name('property'))!r}]"
        if node.type == "subscript_expression":
            obj, index = node.child_by_field_name("object"), node.child_by_field_name("index")
            assert obj is not None and index is not None
            return f"{self.sub(obj)}[{self.expr(index)}]"
        raise Unsupported("destructuring assignment")

    def assignment(self, node: Node) -> str:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        assert left is not None and right is not None
        op = text(node.child_by_field_name("operator")) or "="
        if op not in ("=", "+=", "-=", "*=", "/=", "%=", "**="):
            raise Unsupported(f"operator {op}")
        if op == "+=" and self.stringy(right):
            return f"{self.target(left)} = {self.as_string(left)} + {self.sub(right)}"
        if op == "=" and right.type == "assignment_expression":  # a = b = value
            return f"{self.target(left)} = {self.assignment(right)}"
        return f"{self.target(left)} {op} {self.expr(right)}"

    def update(self, node: Node) -> str:
        arg = node.child_by_field_name("argument")
        assert arg is not None
        op = "+=" if "++" in text(node) else "-="
        return f"{self.target(arg)} {op} 1"

    def s_lexical_declaration(self, node: Node, ind: str) -> list[str]:
        out: list[str] = []
        for decl in node.named_children:
            if decl.type == "variable_declarator":
                out += self.declarator(decl, ind)
        return out

    s_variable_declaration = s_lexical_declaration

    def declarator(self, decl: Node, ind: str) -> list[str]:
        name, value = decl.child_by_field_name("name"), decl.child_by_field_name("value")
        assert name is not None
        if name.type == "identifier":
            if value is not None and value.type in (
                "arrow_function",
                "function_expression",
                "function",
            ):
                return self.function(text(name), value, ind)
            return [f"{ind}{self.name(text(name))} = {self.expr(value) if value else 'None'}"]
        if name.type == "object_pattern" and value is not None:
            tmp = f"_{self.hoist_id()}"
            out = [f"{ind}{tmp} = {self.expr(value)}"]
            for child in name.named_children:
                if child.type == "shorthand_property_identifier_pattern":
                    out.append(f"{ind}{self.name(text(child))} = js.get({tmp}, {text(child)!r})")
                elif child.type == "pair_pattern":
                    key, val = child.child_by_field_name("key"), child.child_by_field_name("value")
                    if val is None or val.type != "identifier" or key is None:
                        raise Unsupported("nested destructuring")
                    out.append(f"{ind}{self.name(text(val))} = js.get({tmp}, {self.key(key)})")
                else:
                    raise Unsupported("destructuring with defaults or rest")
            return out
        raise Unsupported("array destructuring")

    def hoist_id(self) -> int:
        self.hoisted += 1
        return self.hoisted

    def s_return_statement(self, node: Node, ind: str) -> list[str]:
        if not self.stack:
            raise Unsupported("return outside a function")
        kids = [c for c in node.named_children if c.type != "comment"]
        return [f"{ind}return {self.expr(kids[0])}" if kids else f"{ind}return"]

    def s_break_statement(self, node: Node, ind: str) -> list[str]:
        if node.named_children:
            raise Unsupported("labelled break")
        return [f"{ind}break"]

    def s_continue_statement(self, node: Node, ind: str) -> list[str]:
        if node.named_children:
            raise Unsupported("labelled continue")
        return [f"{ind}continue"]

    def s_throw_statement(self, node: Node, ind: str) -> list[str]:
        value = node.named_children[0]
        made = self.expr(value)
        return [f"{ind}raise {made if made.startswith('js.Error(') else f'js.Error({made})'}"]

    def s_if_statement(self, node: Node, ind: str, kw: str = "if") -> list[str]:
        cond = node.child_by_field_name("condition")
        assert cond is not None
        out = [f"{ind}{kw} {self.expr(cond.named_children[-1])}:"]
        out += self.block(node.child_by_field_name("consequence"), ind + IND)
        alt = node.child_by_field_name("alternative")
        if alt is not None:
            inner = next(c for c in alt.named_children if c.type != "comment")
            if inner.type == "if_statement":
                out += self.s_if_statement(inner, ind, "elif")
            else:
                out += [f"{ind}else:", *self.block(inner, ind + IND)]
        return out

    def s_while_statement(self, node: Node, ind: str) -> list[str]:
        cond = node.child_by_field_name("condition")
        assert cond is not None
        out = [f"{ind}while {self.expr(cond.named_children[-1])}:"]
        return out + self.block(node.child_by_field_name("body"), ind + IND)

    def s_do_statement(self, node: Node, ind: str) -> list[str]:
        cond = node.child_by_field_name("condition")
        body = node.child_by_field_name("body")
        assert cond is not None
        if body is not None and any(c.type == "continue_statement" for c in walk(body)):
            raise Unsupported("continue inside do...while")
        lines = [f"{ind}while True:", *self.block(body, ind + IND)]
        return [
            *lines,
            f"{ind}{IND}if not ({self.expr(cond.named_children[-1])}):",
            f"{ind}{IND * 2}break",
        ]

    def s_for_in_statement(self, node: Node, ind: str) -> list[str]:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        assert left is not None and right is not None
        if left.type != "identifier":
            raise Unsupported("destructuring in a for loop")
        op = text(node.child_by_field_name("operator"))
        src = self.expr(right) if op == "of" else f"js.keys({self.expr(right)})"
        out = [f"{ind}for {self.name(text(left))} in {src}:"]
        return out + self.block(node.child_by_field_name("body"), ind + IND)

    def s_for_statement(self, node: Node, ind: str) -> list[str]:
        init = node.child_by_field_name("initializer")
        cond = node.child_by_field_name("condition")
        step = node.child_by_field_name("increment")
        body = node.child_by_field_name("body")
        ranged = self.for_range(init, cond, step, body)
        if ranged is not None:
            return [f"{ind}{ranged}", *self.block(body, ind + IND)]
        if body is not None and any(c.type == "continue_statement" for c in walk(body)):
            raise Unsupported("continue in a for loop that is not a range")
        out = self.stmt(init, ind) if init is not None and init.type != ";" else []
        test = (
            cond.named_children[0]
            if cond is not None and cond.type == "expression_statement"
            else cond
        )
        if test is not None and test.type == ";":
            test = None
        out.append(f"{ind}while {self.expr(test) if test is not None else 'True'}:")
        out += self.block(body, ind + IND)
        if step is not None:
            out.append(
                ind
                + IND
                + (self.update(step) if step.type == "update_expression" else self.assignment(step))
            )
        return out

    def for_range(
        self, init: Node | None, cond: Node | None, step: Node | None, body: Node | None
    ) -> str | None:
        """``for (let i = a; i < b; i++)`` as ``for i in range(a, b)``, when that is exact."""
        if init is None or init.type != "lexical_declaration" or cond is None or step is None:
            return None
        decls = init.named_children
        if len(decls) != 1 or step.type != "update_expression" or "++" not in text(step):
            return None
        var, start = decls[0].child_by_field_name("name"), decls[0].child_by_field_name("value")
        test = cond.named_children[0] if cond.type == "expression_statement" else cond
        if var is None or start is None or test.type != "binary_expression":
            return None
        name = text(var)
        left, right = test.child_by_field_name("left"), test.child_by_field_name("right")
        op = self.op(test)
        if (
            text(left) != name
            or op not in ("<", "<=")
            or text(step.child_by_field_name("argument")) != name
        ):
            return None
        if body is not None and name in assigned(body):
            return None
        assert right is not None
        if right.type not in ("number", "identifier", "member_expression"):
            return None
        end = self.expr(right) if op == "<" else f"{self.sub(right)} + 1"
        return f"for {self.name(name)} in range({self.expr(start)}, {end}):"

    def is_for_each(self, node: Node) -> bool:
        fn = node.child_by_field_name("function")
        return (
            fn is not None
            and fn.type == "member_expression"
            and text(fn.child_by_field_name("property")) == "forEach"
        )

    def for_each(self, node: Node, ind: str) -> list[str]:
        fn = node.child_by_field_name("function")
        args = self.args(node.child_by_field_name("arguments"))
        assert fn is not None
        obj = fn.child_by_field_name("object")
        if (
            len(args) != 1
            or args[0].type not in ("arrow_function", "function_expression")
            or obj is None
        ):
            raise Unsupported("forEach with a named function")
        params, body = function_parts(args[0])
        names = (
            []
            if params is None
            else ([params] if params.type == "identifier" else params.named_children)
        )
        if (
            len(names) != 1
            or names[0].type != "identifier"
            or body is None
            or body.type != "statement_block"
        ):
            raise Unsupported("forEach callback with an index or an expression body")
        if any(c.type == "return_statement" for c in walk(body)):
            raise Unsupported("return inside a forEach callback")
        out = [f"{ind}for {self.name(text(names[0]))} in {self.expr(obj)}:"]
        return out + self.block(body, ind + IND)

    def inline_group(self, node: Node) -> bool:
        """``group('x', function () {...})`` whose body can run in place (no return)."""
        fn = node.child_by_field_name("function")
        if fn is None or fn.type != "identifier" or self.bindings.get(text(fn)) != "group":
            return False
        args = self.args(node.child_by_field_name("arguments"))
        if len(args) != 2 or args[1].type not in ("arrow_function", "function_expression"):
            return False
        params, body = function_parts(args[1])
        if body is None or body.type != "statement_block":
            return False
        if params is not None and params.named_children:
            return False
        jumps = ("return_statement", "break_statement", "continue_statement")
        return not any(c.type in jumps for c in walk(body))

    def group_block(self, node: Node, ind: str) -> list[str]:
        args = self.args(node.child_by_field_name("arguments"))
        _, body = function_parts(args[1])
        self.imports.add("group")
        self.awaited("group()")  # refused outside a VU function, as any waiting call
        return [f"{ind}async with group({self.expr(args[0])}):", *self.block(body, ind + IND)]

    def s_try_statement(self, node: Node, ind: str) -> list[str]:
        out = [f"{ind}try:", *self.block(node.child_by_field_name("body"), ind + IND)]
        handler = node.child_by_field_name("handler")
        if handler is not None:
            param = handler.child_by_field_name("parameter")
            name = f" as {self.name(text(param))}" if param is not None else ""
            out += [
                f"{ind}except Exception{name}:",
                *self.block(handler.child_by_field_name("body"), ind + IND),
            ]
        final = node.child_by_field_name("finalizer")
        if final is not None:
            out += [f"{ind}finally:", *self.block(final.child_by_field_name("body"), ind + IND)]
        return out

    def s_switch_statement(self, node: Node, ind: str) -> list[str]:
        value = node.child_by_field_name("value")
        body = node.child_by_field_name("body")
        assert value is not None and body is not None
        subject = self.expr(value.named_children[-1])
        out: list[str] = []
        for case in [c for c in body.named_children if c.type != "comment"]:
            stmts = [c for c in case.children_by_field_name("body") if c.type != "comment"]
            if not stmts or stmts[-1].type not in (
                "break_statement",
                "return_statement",
                "throw_statement",
            ):
                raise Unsupported("switch case that falls through")
            if case.type == "switch_default":
                head = f"{ind}else:" if out else f"{ind}if True:"
            else:
                kw = "elif" if out else "if"
                head = f"{ind}{kw} {subject} == {self.expr(case.child_by_field_name('value'))}:"  # type: ignore[arg-type]
            lines = [
                ln for s in stmts if s.type != "break_statement" for ln in self.stmt(s, ind + IND)
            ]
            out += [head, *(lines or [f"{ind}{IND}pass"])]
        return out

    # ---- functions -----------------------------------------------------------------

    def s_function_declaration(self, node: Node, ind: str) -> list[str]:
        return self.function(text(node.child_by_field_name("name")), node, ind)

    def function(self, js_name: str, node: Node, ind: str) -> list[str]:
        params, body = function_parts(node)
        assert body is not None
        entry = not self.stack and js_name in self.entries
        is_async = (
            entry or (js_name in self.async_names and not self.stack) or self.needs_await(body)
        )
        pyname = (
            "handle_summary"
            if js_name == "handleSummary" and not self.stack
            else self.name(js_name)
        )
        head = self.lambda_params(params)
        if entry:  # a VU function: the VU, then setup()'s data when it declares a parameter
            named = (
                [] if params is None else [p for p in params.named_children if p.type != "comment"]
            )
            head = "vu" + (f", {self.param(named[0])}" if named else "")
        ctx = FnCtx(js_name, entry, is_async, declared(body, params))
        out = [f"{ind}{'async def' if is_async else 'def'} {pyname}({head}):"]
        self.stack.append(ctx)
        saved_depth, self.depth = self.depth, 0
        try:
            out += self.scope_lines(ctx, body, ind + IND)
            if body.type == "statement_block":
                out += self.block(body, ind + IND)
            else:
                out.append(f"{ind}{IND}return {self.expr(body)}")
        finally:
            self.stack.pop()
            self.depth = saved_depth
        return out

    def scope_lines(self, ctx: FnCtx, body: Node, ind: str) -> list[str]:
        """``global``/``nonlocal`` for the outer names this function assigns."""
        outer = assigned(body) - ctx.declared
        inner_decl = (
            set().union(*(f.declared for f in self.stack[:-1])) if len(self.stack) > 1 else set()
        )
        nonlocal_ = sorted(n for n in outer if n in inner_decl)
        global_ = sorted(n for n in outer if n not in inner_decl and n in self.module_names)
        lines = []
        if global_:
            lines.append(f"{ind}global {', '.join(self.name(n) for n in global_)}")
        if nonlocal_:
            lines.append(f"{ind}nonlocal {', '.join(self.name(n) for n in nonlocal_)}")
        return lines

    def function_value(self, node: Node) -> str:
        """A function used as a value: a lambda when it is one expression, else hoisted."""
        params, body = function_parts(node)
        assert body is not None
        simple = body
        if body.type == "statement_block":
            kids = [c for c in body.named_children if c.type != "comment"]
            if len(kids) == 1 and kids[0].type == "return_statement" and kids[0].named_children:
                simple = kids[0].named_children[0]
        if (
            simple.type != "statement_block"
            and not self.needs_await(simple)
            and not self.contains_function(simple)
        ):
            # JavaScript ignores extra arguments: check() passes the value to a () => ...
            head = self.lambda_params(params) or "*_"
            return f"lambda {head}: {self.expr(simple)}"
        name = f"_fn{self.hoist_id()}"
        ind = self.current_indent
        self.pending += self.function(name, node, ind)
        return name

    current_indent = ""

    def s_export_statement(self, node: Node, ind: str) -> list[str]:
        decl = node.child_by_field_name("declaration")
        if decl is not None:
            lines = self.stmt(decl, ind)
            if any(c.type == "default" for c in node.children):  # export default function f
                lines.append(f"{ind}default = {self.name(text(decl.child_by_field_name('name')))}")
            return lines
        value = node.child_by_field_name("value")
        if value is not None and value.type in (
            "function_expression",
            "function",
            "arrow_function",
        ):
            return self.function("default", value, ind)
        if value is not None and value.type == "identifier":
            return [f"{ind}default = {self.name(text(value))}"]
        raise Unsupported("export list")

    def s_import_statement(self, node: Node, ind: str) -> list[str]:
        return self.import_statement(node)


def string_value(node: Node) -> str:
    return js_string(node)
