"""k6's imports, and the first pass over a program: which names are k6's, which functions
are scenario entry points (``vu`` argument) and which must be ``async`` (they wait)."""

from __future__ import annotations

import contextlib

from tree_sitter import Node

from veza_ray.convert.base import Base, Unsupported
from veza_ray.convert.exprs import js_string
from veza_ray.convert.scope import FUNCTIONS, declared, function_parts, text, walk

# (module, imported name) -> the canonical name the translator dispatches on.
NAMED = {
    "k6": {"check", "sleep", "group", "fail"},
    "k6/metrics": {"Counter", "Rate", "Trend", "Gauge"},
    "k6/data": {"SharedArray"},
    "k6/encoding": {"b64encode", "b64decode"},
}
DEFAULTS = {"k6/http": "http", "k6/execution": "exec", "k6/encoding": "encoding", "k6": "k6"}
JSLIB = {
    "k6-summary": {"textSummary"},
    "k6-utils": {"randomIntBetween", "randomItem", "randomString", "uuidv4"},
}


def jslib_names(source: str) -> set[str] | None:
    """The names a jslib.k6.io module offers here, None when it is not one we know."""
    if not source.startswith("https://jslib.k6.io/"):
        return None
    for lib, names in JSLIB.items():
        if f"/{lib}/" in source:
            return names
    return None


class Imports(Base):
    """Import statements and the program's first pass, mixed into the Translator."""

    def import_statement(self, node: Node) -> list[str]:
        src_node = node.child_by_field_name("source")
        assert src_node is not None
        source = js_string(src_node)
        allowed = NAMED.get(source, set())
        lib = jslib_names(source)
        if lib is not None:
            allowed = lib
        elif source not in NAMED and source not in DEFAULTS:
            raise Unsupported(f"import from {source!r}")
        for spec in walk(node):
            if spec.type == "import_specifier":
                name = text(spec.child_by_field_name("name"))
                alias = text(spec.child_by_field_name("alias")) or name
                if name not in allowed:
                    raise Unsupported(f"{name} from {source!r}")
                self.bindings[alias] = name
            elif spec.type == "import_clause":
                first = spec.named_children[0] if spec.named_children else None
                if first is not None and first.type == "identifier":
                    self.default_import(source, text(first))
            elif spec.type == "namespace_import":
                self.default_import(source, text(spec.named_children[0]))
        return [f"# (k6 import of {source!r}: provided by veza-ray)"]

    def default_import(self, source: str, local: str) -> None:
        canon = DEFAULTS.get(source)
        if canon is None or canon == "k6":
            raise Unsupported(f"default import of {source!r}")
        self.bindings[local] = canon

    def first_pass(self, root: Node) -> None:
        """Bindings of imports, module names, entry functions and async functions."""
        for node in root.named_children:
            if node.type == "import_statement":
                with contextlib.suppress(Unsupported):  # reported where it is translated
                    self.import_statement(node)
        self.module_names = declared(root) - set(self.bindings)
        self.entries = self.find_entries(root)
        functions = self.top_functions(root)
        changed = True
        while changed:  # a function that calls a waiting function waits too
            changed = False
            for name, body in functions.items():
                if name not in self.async_names and self.needs_await_deep(body):
                    self.async_names.add(name)
                    changed = True
        self.async_names |= self.entries

    def needs_await_deep(self, body: Node) -> bool:
        return any(
            c.type == "call_expression" and self.is_async_call(c)
            for c in walk(body, into_functions=False)
        )

    def top_functions(self, root: Node) -> dict[str, Node]:
        out: dict[str, Node] = {}
        for node in root.named_children:
            decl = (
                node.child_by_field_name("declaration") if node.type == "export_statement" else node
            )
            if decl is None:
                continue
            if decl.type == "function_declaration":
                _, body = function_parts(decl)
                if body is not None:
                    out[text(decl.child_by_field_name("name"))] = body
            elif decl.type in ("lexical_declaration", "variable_declaration"):
                for d in decl.named_children:
                    value = d.child_by_field_name("value")
                    if value is not None and value.type in FUNCTIONS:
                        _, body = function_parts(value)
                        if body is not None:
                            out[text(d.child_by_field_name("name"))] = body
        return out

    def find_entries(self, root: Node) -> set[str]:
        """``default`` and every function a scenario's ``exec`` names."""
        entries: set[str] = set()
        for node in root.named_children:
            if node.type != "export_statement":
                continue
            if node.child_by_field_name("value") is not None:
                entries.add("default")
            decl = node.child_by_field_name("declaration")
            name = text(decl.child_by_field_name("name")) if decl is not None else ""
            if (
                decl is not None
                and decl.type == "function_declaration"
                and name
                in (
                    "setup",
                    "teardown",
                )
            ):
                entries.add(name)  # VU functions too: they get a VU of their own
            is_default = any(c.type == "default" for c in node.children)
            if is_default and decl is not None and decl.type == "function_declaration":
                entries.add(text(decl.child_by_field_name("name")))  # then `default = name`
        for node in walk(root, into_functions=True):
            if node.type == "pair" and text(node.child_by_field_name("key")) in (
                "exec",
                "'exec'",
                '"exec"',
            ):
                value = node.child_by_field_name("value")
                if value is not None and value.type == "string":
                    entries.add(js_string(value))
        return entries
