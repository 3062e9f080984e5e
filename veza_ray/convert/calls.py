"""Calls, member reads and ``new``: where k6's modules and JavaScript's library map over."""

from __future__ import annotations

from tree_sitter import Node

from veza_ray.convert.base import Base, Unsupported
from veza_ray.convert.exprs import RESPONSE_ATTRS, js_string
from veza_ray.convert.scope import text

# Global JavaScript functions and the helper each becomes.
GLOBALS = {
    "parseInt": "js.parse_int",
    "parseFloat": "js.parse_float",
    "encodeURIComponent": "js.encode_uri_component",
    "decodeURIComponent": "js.decode_uri_component",
    "String": "js.string",
    "Number": "js.parse_float",
    "Boolean": "bool",
    "isNaN": "js.is_nan",
}
# Imported helpers (k6 modules, jslib) by their canonical name.
IMPORTED = {
    "check": "check",
    "fail": "fail",
    "textSummary": "js.text_summary",
    "randomIntBetween": "js.random_int_between",
    "randomItem": "random.choice",
    "randomString": "js.random_string",
    "uuidv4": "js.uuidv4",
    "b64encode": "js.b64encode",
    "b64decode": "js.b64decode",
}
MATH = {
    "random": "random.random",
    "floor": "math.floor",
    "ceil": "math.ceil",
    "round": "js.js_round",
    "abs": "abs",
    "min": "min",
    "max": "max",
    "sqrt": "math.sqrt",
    "pow": "pow",
    "log": "math.log",
    "exp": "math.exp",
    "trunc": "math.trunc",
}
HTTP_BODY = {"post": "post", "put": "put", "patch": "patch", "del": "delete", "options": "options"}
EXEC_READS = {  # k6/execution -> veza_ray.execution (engine/execution.py)
    ("vu", "idInTest"): "id_in_test",
    ("vu", "idInInstance"): "id_in_instance",
    ("vu", "iterationInScenario"): "iteration_in_scenario",
    ("vu", "iterationInInstance"): "iteration_in_instance",
    ("scenario", "name"): "name",
    ("scenario", "executor"): "executor",
    ("scenario", "iterationInInstance"): "iteration_in_instance",
    ("scenario", "iterationInTest"): "iteration_in_test",
    ("scenario", "progress"): "progress",
    ("scenario", "startTime"): "start_time",
    ("instance", "iterationsCompleted"): "iterations_completed",
    ("instance", "iterationsInterrupted"): "iterations_interrupted",
    ("instance", "vusActive"): "vus_active",
    ("instance", "vusInitialized"): "vus_initialized",
    ("instance", "currentTestRunDuration"): "current_test_run_duration",
}
SIMPLE_METHODS = {
    "toLowerCase": "lower",
    "toUpperCase": "upper",
    "trim": "strip",
    "startsWith": "startswith",
    "endsWith": "endswith",
}


class Calls(Base):
    """Call and member translation, mixed into the Translator."""

    def args(self, node: Node | None) -> list[Node]:
        if node is None:
            return []
        return [c for c in node.named_children if c.type != "comment"]

    def arglist(self, nodes: list[Node]) -> str:
        out = []
        for n in nodes:
            if n.type == "spread_element":
                out.append("*" + self.sub(n.named_children[0]))
            else:
                out.append(self.expr(n))
        return ", ".join(out)

    def x_call_expression(self, node: Node) -> str:
        fn = node.child_by_field_name("function")
        args = self.args(node.child_by_field_name("arguments"))
        if fn is None or node.child_by_field_name("optional_chain") is not None:
            raise Unsupported("optional call")
        if fn.type == "identifier":
            return self.call_name(text(fn), args)
        if fn.type == "member_expression":
            obj, prop = fn.child_by_field_name("object"), fn.child_by_field_name("property")
            assert obj is not None and prop is not None
            return self.call_member(obj, text(prop), args)
        raise Unsupported(f"call of a {fn.type.replace('_', ' ')}")

    def is_async_call(self, node: Node) -> bool:
        fn = node.child_by_field_name("function")
        if fn is None:
            return False
        if fn.type == "identifier":
            canon = self.bindings.get(text(fn), "")
            return canon in ("sleep", "group") or text(fn) in self.async_names
        if fn.type == "member_expression":
            obj, prop = fn.child_by_field_name("object"), fn.child_by_field_name("property")
            return (
                obj is not None
                and self.bindings.get(text(obj)) == "http"
                and text(prop)
                not in ("expectedStatuses", "file", "setResponseCallback", "cookieJar")
            )
        return False

    def call_name(self, name: str, args: list[Node]) -> str:
        canon = self.bindings.get(name)
        a = self.arglist(args)
        if canon == "sleep":
            self.imports.add("sleep")
            return self.awaited(f"sleep({a})")
        if canon == "group":
            self.imports.add("group")
            return self.awaited(f"group({a})")
        if canon in IMPORTED:
            if canon in ("check", "fail"):
                self.imports.add(canon)
            return f"{IMPORTED[canon]}({a})"
        if canon is not None:
            raise Unsupported(f"{canon}()")
        if name in GLOBALS and name not in self.module_names:
            return f"{GLOBALS[name]}({a})"
        if name == "open" and name not in self.module_names:
            # veza-ray's open(): read at load, relative to the scenario, a run input (104)
            self.imports.add("open")
            return f"open({a})"
        if name in self.entries:
            return self.awaited(f"{self.name(name)}({self.vu_expr()})")
        if name in self.async_names:
            return self.awaited(f"{self.name(name)}({a})")
        return f"{self.name(name)}({a})"

    def call_member(self, obj: Node, prop: str, args: list[Node]) -> str:
        owner = self.bindings.get(text(obj)) if obj.type == "identifier" else None
        if obj.type == "member_expression" and prop == "abort":
            root = obj.child_by_field_name("object")
            if root is not None and self.bindings.get(text(root)) == "exec":
                self.imports.add("execution")
                return f"execution.test.abort({self.arglist(args)})"
        if owner == "http":
            return self.call_http(prop, args)
        if owner == "encoding" and prop in ("b64encode", "b64decode"):
            return f"js.{prop}({self.arglist(args)})"
        if obj.type == "identifier" and text(obj) not in self.module_names:
            lib = self.call_library(text(obj), prop, args)
            if lib is not None:
                return lib
        if owner is not None:
            raise Unsupported(f"{text(obj)}.{prop}()")
        return self.call_method(obj, prop, args)

    def call_library(self, obj: str, prop: str, args: list[Node]) -> str | None:
        a = self.arglist(args)
        if obj == "Math" and prop in MATH:
            return f"{MATH[prop]}({a})"
        if obj == "JSON" and prop == "stringify":
            return f"js.stringify({a})"
        if obj == "JSON" and prop == "parse" and len(args) == 1:
            return f"js.json_parse({a})"
        if obj == "Date" and prop == "now":
            return "js.now_ms()"
        if obj == "console" and prop in ("log", "info", "warn", "error", "debug"):
            return f"js.console({prop!r}, {a})" if a else f"js.console({prop!r})"
        if obj == "Object" and prop in ("keys", "values", "entries") and len(args) == 1:
            return f"js.object_{prop}({a})"
        if obj == "Object" and prop == "assign":
            return f"js.assign({a})"
        if obj == "Array" and prop == "isArray":
            return f"isinstance({a}, list)"
        if obj in ("Math", "JSON", "Date", "console", "Object", "Array", "Number", "String"):
            raise Unsupported(f"{obj}.{prop}()")
        return None

    def call_http(self, prop: str, args: list[Node]) -> str:
        if prop == "expectedStatuses":
            return f"js.expected_statuses({self.arglist(args)})"
        if prop == "file":
            self.imports.add("file")
            return f"file({self.arglist(args)})"
        if prop == "setResponseCallback":  # null: no expected-status tagging at all
            self.imports.add("set_response_callback")
            return f"set_response_callback({self.arglist(args)})"
        self.needs_http = True
        if prop == "cookieJar" and not args:
            return "http.cookie_jar()"
        if prop in ("get", "head"):
            return self.awaited(self.request_call(prop, args[:1], args[1:2], []))
        if prop in HTTP_BODY:
            return self.awaited(self.request_call(HTTP_BODY[prop], args[:1], args[2:3], args[1:2]))
        if prop == "batch" and len(args) == 1:
            return self.awaited(f"http.batch({self.expr(args[0])})")
        if prop == "request" and len(args) >= 2:
            return self.awaited(self.request_call("request", args[:2], args[3:4], args[2:3]))
        raise Unsupported(f"http.{prop}()")

    def request_call(
        self, method: str, lead: list[Node], params: list[Node], body: list[Node]
    ) -> str:
        """``http.<method>(...)``, one argument a line when it would be long."""
        self.depth += 1
        try:
            out = [self.expr(n) for n in lead]
            if body and body[0].type not in ("null", "undefined"):
                out.append(f"body={self.expr(body[0])}")
            if params and params[0].type not in ("null", "undefined"):
                out.extend(self.params(params[0]))
        finally:
            self.depth -= 1
        flat = f"http.{method}({', '.join(out)})"
        if len(flat) + len(self.current_indent) < 90 and "\n" not in flat:
            return flat
        pad = self.current_indent + "    " * (self.depth + 1)
        inner = "".join(f"\n{pad}{arg}," for arg in out)
        return f"http.{method}({inner}\n{self.current_indent}{'    ' * self.depth})"

    def params(self, node: Node) -> list[str]:
        """A k6 params object as keyword arguments (a literal), else ``**js.params(p)``."""
        if node.type != "object":
            return [f"**js.params({self.expr(node)})"]
        out: list[str] = []
        for child in node.named_children:
            if child.type == "comment":
                continue
            if child.type == "shorthand_property_identifier":
                key, value = text(child), self.name(text(child))
                vnode = None
            elif child.type == "pair":
                knode, vnode = child.child_by_field_name("key"), child.child_by_field_name("value")
                assert knode is not None and vnode is not None
                key = js_string(knode) if knode.type == "string" else text(knode)
                value = self.expr(vnode)
            else:
                raise Unsupported(f"request params {child.type.replace('_', ' ')}")
            out.append(self.param_kw(key, value, vnode))
        return out

    def param_kw(self, key: str, value: str, vnode: Node | None) -> str:
        if key in ("headers", "tags"):
            return f"{key}={value}"
        if key == "timeout":
            return f"timeout=js.timeout_s({value})"
        if key == "responseType":
            if vnode is not None and vnode.type == "string":
                return f"response_body={js_string(vnode) != 'none'}"
            return f"response_body=({value} != 'none')"
        if key == "responseCallback":  # null stays None: k6's "no callback"
            return f"response_callback={value}"
        if key in ("cookies", "redirects", "jar"):  # the same forms as k6's
            return f"{key}={value}"
        raise Unsupported(f"request param {key!r}")

    def call_method(self, obj: Node, prop: str, args: list[Node]) -> str:
        if obj.type == "regex":
            if prop == "test" and len(args) == 1:
                return f"(re.search({self.regex(obj)}, {self.expr(args[0])}) is not None)"
            raise Unsupported(f"regex .{prop}()")
        o = self.sub(obj)
        a = [self.regex(n) if n.type == "regex" else self.expr(n) for n in args]
        simple = SIMPLE_METHODS.get(prop)
        if simple is not None:
            return f"{o}.{simple}({', '.join(a)})"
        method = getattr(self, "m_" + prop, None)
        if method is None:
            raise Unsupported(f"method .{prop}()")
        result: str = method(o, a, args)
        return result

    def regex(self, node: Node) -> str:
        pattern = text(node.child_by_field_name("pattern"))
        flags = text(node.child_by_field_name("flags"))
        if set(flags) - set("gi"):
            raise Unsupported(f"regex flags {flags!r}")
        self.need.add("re")
        compiled = f"re.compile({pattern!r}, re.I)" if "i" in flags else repr(pattern)
        return compiled

    # ---- methods of strings, arrays, metrics and responses -------------------------

    # k6's cookie jar (the converter has no JavaScript Map, so these names are the jar's)
    def m_cookiesForURL(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"{o}.cookies_for_url({', '.join(a)})"

    def m_set(self, o: str, a: list[str], _n: list[Node]) -> str:
        if len(a) not in (3, 4):
            raise Unsupported(".set() (a cookie jar's takes url, name, value[, options])")
        return f"{o}.set({', '.join(a)})"

    def m_clear(self, o: str, a: list[str], _n: list[Node]) -> str:
        if len(a) != 1:
            raise Unsupported(".clear() (a cookie jar's takes a URL)")
        return f"{o}.clear({a[0]})"

    def m_delete(self, o: str, a: list[str], _n: list[Node]) -> str:
        if len(a) != 2:
            raise Unsupported(".delete() (a cookie jar's takes url, name)")
        return f"{o}.delete({', '.join(a)})"

    def m_add(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"{o}.add({', '.join(a)})"

    def m_json(self, o: str, a: list[str], _n: list[Node]) -> str:
        if a:
            raise Unsupported("res.json(selector)")
        return f"{o}.json()"

    def m_push(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"{o}.append({a[0]})" if len(a) == 1 else f"{o}.extend([{', '.join(a)}])"

    def m_join(self, o: str, a: list[str], _n: list[Node]) -> str:
        sep = a[0] if a else "','"
        return f"{sep}.join(js.string(v) for v in {o})"

    def m_split(self, o: str, a: list[str], n: list[Node]) -> str:
        if len(n) != 1 or n[0].type != "string":
            raise Unsupported(".split() with a non-string separator")
        return f"{o}.split({a[0]})" if js_string(n[0]) else f"list({o})"

    def m_includes(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"({a[0]} in {o})"

    def m_hasOwnProperty(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"({a[0]} in {o})"

    def m_indexOf(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"js.index_of({o}, {a[0]})"

    def m_slice(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"{o}[{a[0] if a else ''}:{a[1] if len(a) > 1 else ''}]"

    def m_toString(self, o: str, a: list[str], _n: list[Node]) -> str:
        if a:
            raise Unsupported(".toString(radix)")
        return f"js.string({o})"

    def m_toFixed(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"format({o}, '.' + str({a[0] if a else 0}) + 'f')"

    def m_concat(self, o: str, a: list[str], _n: list[Node]) -> str:
        return " + ".join([o, *a])

    def m_replace(self, o: str, a: list[str], n: list[Node]) -> str:
        if len(n) != 2 or n[1].type != "string":
            raise Unsupported(".replace() with a function or a non-literal replacement")
        if n[0].type == "regex":
            flags = text(n[0].child_by_field_name("flags"))
            repl = js_string(n[1]).replace("\\", "\\\\").replace("$&", "\\g<0>")
            for i in range(9, 0, -1):
                repl = repl.replace(f"${i}", f"\\g<{i}>")
            count = "" if "g" in flags else ", count=1"
            return f"re.sub({self.regex(n[0])}, {repl!r}, {o}{count})"
        return f"{o}.replace({a[0]}, {a[1]}, 1)"

    def m_match(self, o: str, a: list[str], n: list[Node]) -> str:
        """``s.match(re)``: the match and its groups, or every match under ``g``; null if none.
        A string argument is a regex source, as JavaScript reads it."""
        if len(n) != 1 or n[0].type not in ("regex", "string", "template_string", "identifier"):
            raise Unsupported(".match() without one regex or string")
        every = n[0].type == "regex" and "g" in text(n[0].child_by_field_name("flags"))
        return f"js.{'match_all' if every else 'match'}({o}, {a[0]})"

    def m_replaceAll(self, o: str, a: list[str], n: list[Node]) -> str:
        if len(n) != 2 or n[0].type == "regex":
            raise Unsupported(".replaceAll() with a regex")
        return f"{o}.replace({a[0]}, {a[1]})"

    def m_map(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"list(map({a[0]}, {o}))"

    def m_filter(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"list(filter({a[0]}, {o}))"

    def m_some(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"any(map({a[0]}, {o}))"

    def m_every(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"all(map({a[0]}, {o}))"

    def m_find(self, o: str, a: list[str], _n: list[Node]) -> str:
        return f"next(filter({a[0]}, {o}), None)"

    # ---- member reads --------------------------------------------------------------

    def x_member_expression(self, node: Node) -> str:
        obj, prop_node = node.child_by_field_name("object"), node.child_by_field_name("property")
        assert obj is not None and prop_node is not None
        prop = text(prop_node)
        if node.child_by_field_name("optional_chain") is not None:
            raise Unsupported("optional chaining (?.)")
        if obj.type == "identifier" and text(obj) == "__ENV":
            self.imports.add("env")
            return f"env({prop!r})"
        special = self.member_special(obj, prop)
        if special is not None:
            return special
        if prop == "length":
            return f"len({self.expr(obj)})"
        if prop in RESPONSE_ATTRS:
            return f"{self.sub(obj)}.{prop}"
        return f"js.get({self.expr(obj)}, {prop!r})"

    def member_special(self, obj: Node, prop: str) -> str | None:
        if obj.type == "identifier" and text(obj) == "Math" and prop in ("PI", "E"):
            return f"math.{prop.lower()}"
        if obj.type == "member_expression":
            root = obj.child_by_field_name("object")
            mid = text(obj.child_by_field_name("property"))
            if root is not None and self.bindings.get(text(root)) == "exec":
                if self.in_module():
                    raise Unsupported("k6/execution in the init context")
                attr = EXEC_READS.get((mid, prop))
                if attr is None:
                    raise Unsupported(f"exec.{mid}.{prop}")
                self.imports.add("execution")
                return f"execution.{mid}.{attr}"
        if obj.type == "identifier" and self.bindings.get(text(obj)) in ("exec", "http"):
            raise Unsupported(f"{text(obj)}.{prop}")
        return None

    def x_subscript_expression(self, node: Node) -> str:
        obj, index = node.child_by_field_name("object"), node.child_by_field_name("index")
        assert obj is not None and index is not None
        if obj.type == "identifier" and text(obj) == "__ENV":
            self.imports.add("env")
            return f"env({self.expr(index)})"
        if index.type in ("number", "binary_expression"):
            return f"{self.sub(obj)}[{self.expr(index)}]"
        return f"js.get({self.expr(obj)}, {self.expr(index)})"

    def x_new_expression(self, node: Node) -> str:
        ctor = node.child_by_field_name("constructor")
        args = self.args(node.child_by_field_name("arguments"))
        name = text(ctor)
        canon = self.bindings.get(name, "")
        a = self.arglist(args)
        if canon in ("Counter", "Rate", "Trend", "Gauge"):
            self.imports.add(canon)
            return f"{canon}({a})" if canon != "Rate" else f"Rate({self.arglist(args[:1])})"
        if canon == "SharedArray":
            # veza-ray's SharedArray: loaded once per actor, items frozen (read-only)
            self.imports.add("SharedArray")
            return f"SharedArray({a})"
        if ctor is not None and ctor.type == "member_expression" and not args:
            owner, prop = ctor.child_by_field_name("object"), ctor.child_by_field_name("property")
            http_owner = owner is not None and self.bindings.get(text(owner)) == "http"
            if http_owner and prop is not None and text(prop) == "CookieJar":
                self.imports.add("CookieJar")
                return "CookieJar()"
        if name in ("Error", "TypeError", "RangeError") and name not in self.module_names:
            return f"js.Error({a})"
        if name == "ArrayBuffer" and name not in self.module_names:
            return f"bytes({a})"
        raise Unsupported(f"new {name}()")
