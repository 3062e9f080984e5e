"""`veza-ray convert`: k6 JavaScript in, a loadable veza-ray scenario out.

The converted text is executed (the scenario loader imports it), so each test checks what
the Python does, not only how it reads; the JavaScript values asserted are what node / k6
give for the same expressions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from veza_ray.convert import ConvertRefused, convert_source
from veza_ray.convert import js as jsrt
from veza_ray.engine.scenario import ScriptError, load_script


def load(tmp_path: Path, source: str, env: dict[str, str] | None = None) -> Any:
    conv = convert_source(source, "t.js")
    assert not conv.todos, conv.python
    path = tmp_path / "t.py"
    path.write_text(conv.python)
    return load_script(str(path), env or {}).module


def test_expressions_keep_javascripts_values(tmp_path: Path) -> None:
    mod = load(
        tmp_path,
        """
        export const a = parseInt(__ENV.N || '100', 10);
        export const b = (__ENV.BASE || 'http://x/').replace(/\\/$/, '');
        export const c = 'n=' + 3 + ',' + true;
        export const d = `t-${a}-${'q'}`;
        export const e = encodeURIComponent("lo-fi & jazz!'()");
        export const f = [1, 2, 3].map((x) => x * 2).join('-');
        export const g = JSON.stringify({ k: [1, 'two'], n: null });
        export const h = typeof undefined + ' ' + typeof 'x';
        export const i = parseInt('12px') + parseFloat('1.5e1');
        export const j = 'abc'.length + [1, 2].length;
        export const k = Math.round(2.5) + Math.floor(-0.5);
        export const l = 5 > 3 ? 'yes' : 'no';
        export const m = JSON.parse('{"data": {"upload_id": "u1"}}');
        export const n = (m.data && m.data.upload_id) || m.upload_id || '';
        export const o = m.missing;
        export default function () {}
        """,
        {"N": "42abc"},
    )
    assert mod.a == 42
    assert mod.b == "http://x"
    assert mod.c == "n=3,true"
    assert mod.d == "t-42-q"
    assert mod.e == "lo-fi%20%26%20jazz!'()"
    assert mod.f == "2-4-6"
    assert mod.g == '{"k":[1,"two"],"n":null}'
    assert mod.h == "undefined string"
    assert mod.i == 27.0
    assert mod.j == 5
    assert mod.k == 2.0  # 3 + -1, as in JavaScript (Python's round(2.5) is 2)
    assert mod.l == "yes"
    assert mod.n == "u1"
    assert mod.o is None


def test_statements_loops_and_scopes(tmp_path: Path) -> None:
    mod = load(
        tmp_path,
        """
        let counter = 0;
        export function bump(n) {
          for (let i = 1; i <= n; i++) { counter += i; }
          let j = 0;
          while (j < 3) { j++; }
          do { j--; } while (j > 10);
          const out = [];
          for (const x of [3, 4]) { if (x === 3) { continue; } out.push(x); }
          for (let s = 0; s < 10; s += 5) { out.push(s); }
          switch (n) { case 1: out.push('one'); break; default: out.push('many'); break; }
          try { JSON.parse('nope'); } catch (e) { out.push('caught'); } finally { out.push('f'); }
          [7, 8].forEach((v) => { out.push(v); });
          return [counter, j, out];
        }
        export default function () {}
        """,
    )
    assert mod.bump(4) == [10, 2, [4, 0, 5, "many", "caught", "f", 7, 8]]
    assert mod.counter == 10  # the function assigned the module's variable (global)


def test_the_seed_shape_converts_to_async_flows(tmp_path: Path) -> None:
    source = """
    import http from 'k6/http';
    import { check, sleep } from 'k6';
    import { Rate, Trend } from 'k6/metrics';
    const errors = new Rate('errs');
    const lat = new Trend('lat_ms', true);
    export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2,
      duration: '1s', exec: 'flow' } }, thresholds: { errs: ['rate<0.1'] } };
    function auth() { return { Authorization: 'Bearer t' }; }
    function fetchIt(url) { return http.get(url, { headers: auth(), tags: { name: 'x' },
      timeout: '5s', responseType: 'text',
      responseCallback: http.expectedStatuses(200, { min: 400, max: 404 }) }); }
    export function flow() {
      const res = fetchIt(`http://127.0.0.1:1/a/${__VU}/${__ITER}`);
      check(res, { 'ok': (r) => r.status === 200 });
      errors.add(res.status !== 200);
      sleep(0.1);
    }
    """
    conv = convert_source(source)
    assert not conv.todos, conv.python
    py = conv.python
    assert "async def flow(vu):" in py
    assert "async def fetchIt(url):" in py  # it waits (http), so it is async and awaited
    assert 'await fetchIt(f"http://127.0.0.1:1/a/{vu.id}/{vu.iteration}")' in py
    assert "timeout=js.timeout_s('5s')" in py and "response_body=True" in py
    assert "response_callback=js.expected_statuses(200, {'min': 400, 'max': 404})" in py
    assert "await sleep(0.1)" in py
    path = tmp_path / "t.py"
    path.write_text(py)
    script = load_script(str(path), {})
    assert script.raw_options["scenarios"]["s"]["exec"] == "flow"
    assert set(script.metrics) == {"errs", "lat_ms"}
    assert jsrt.expected_statuses(200, {"min": 400, "max": 404}) == {200, 400, 401, 402, 403, 404}


def test_convert_null_response_callback(tmp_path: Path) -> None:
    """k6's ``responseCallback: null`` (per request, in a params object, and through
    ``http.setResponseCallback(null)`` in init code) stays "no callback", never the
    default 200-399."""
    source = """
    import http from 'k6/http';
    http.setResponseCallback(null);
    const p = { responseCallback: null };
    export default function () {
      http.get('http://127.0.0.1:1/', { responseCallback: null });
      http.get('http://127.0.0.1:1/', p);
      http.get('http://127.0.0.1:1/', { cookies: { a: { value: 'v', replace: true } }, redirects: 0 });
    }
    """
    conv = convert_source(source)
    assert not conv.todos, conv.python
    assert "set_response_callback(None)" in conv.python
    assert "response_callback=None" in conv.python
    assert "cookies={'a': {'value': 'v', 'replace': True}}" in conv.python
    assert "redirects=0" in conv.python
    assert jsrt.params({"responseCallback": None}) == {"response_callback": None}
    assert jsrt.params({"cookies": {"a": "1"}, "redirects": 0}) == {
        "cookies": {"a": "1"}, "redirects": 0,
    }  # fmt: skip
    path = tmp_path / "t.py"
    path.write_text(conv.python)
    script = load_script(str(path), {})
    assert repr(script.response_callback) == "NO_CALLBACK"


def test_what_cannot_be_converted_is_a_todo_at_its_place() -> None:
    source = """
    import http from 'k6/http';
    import ws from 'k6/ws';
    export default function () {
      const a = 1;
      http.asyncRequest();
      const b = 2;
    }
    """
    conv = convert_source(source)
    assert [t.js_line for t in conv.todos] == [3, 6]
    assert [t.why for t in conv.todos] == ["import from 'k6/ws'", "http.asyncRequest()"]
    lines = conv.python.splitlines()
    for t in conv.todos:
        assert lines[t.py_line - 1].lstrip().startswith("# TODO(convert): ")
    body = conv.python[conv.python.index("async def default") :]
    assert (
        body.index("a = 1") < body.index("TODO(convert): http.asyncRequest") < body.index("b = 2")
    )
    assert "# ---- veza-ray convert: 2 TODO(s) left ----" in conv.python


def test_a_block_left_empty_still_compiles(tmp_path: Path) -> None:
    conv = convert_source("export default function () { if (1) { new Date(); } }")
    assert len(conv.todos) == 1
    compile(conv.python, "t.py", "exec")


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("export default function ( {", "not valid JavaScript"),
        ("const x: number = 1; export default function () {}", "not valid JavaScript"),
        ("export const options = {};", "no VU function"),
    ],
)
def test_refused(source: str, why: str) -> None:
    with pytest.raises(ConvertRefused, match=why):
        convert_source(source)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veza_ray.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_cli_exit_codes(tmp_path: Path) -> None:
    clean = tmp_path / "clean.js"
    clean.write_text("import { sleep } from 'k6';\nexport default function () { sleep(1); }\n")
    partial = tmp_path / "partial.js"
    partial.write_text(
        "import http from 'k6/http';\nexport default function () { http.asyncRequest(); }\n"
    )
    broken = tmp_path / "broken.js"
    broken.write_text("export default function ( {\n")

    res = _cli("convert", str(clean), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "clean.py").is_file()
    res = _cli("convert", str(partial), "-o", str(tmp_path / "p.py"), cwd=tmp_path)
    assert res.returncode == 116, res.stderr
    assert (
        "p.py:" in res.stderr
        and "(k6 line 2)" in res.stderr
        and "http.asyncRequest()" in res.stderr
    )
    assert "TODO(convert)" in (tmp_path / "p.py").read_text()  # written, to finish by hand
    res = _cli(
        "convert", str(partial), "-o", str(tmp_path / "p.py"), "--allow-partial", cwd=tmp_path
    )
    assert res.returncode == 0
    res = _cli("convert", str(broken), cwd=tmp_path)
    assert res.returncode == 107 and "line 1" in res.stderr
    assert not (tmp_path / "broken.py").exists()


def test_run_of_a_js_file_points_to_convert(tmp_path: Path) -> None:
    script = tmp_path / "x.js"
    script.write_text("export default function () {}\n")
    with pytest.raises(ScriptError, match="veza-ray convert"):
        load_script(str(script), {})
    res = _cli("run", str(script), cwd=tmp_path)
    assert res.returncode == 107
    assert len(res.stderr.strip().splitlines()) == 1 and "veza-ray convert" in res.stderr


@pytest.mark.parametrize(
    ("text", "kind", "encoded"),
    [  # the vectors of k6's examples/base64.js
        ("hello world", "std", "aGVsbG8gd29ybGQ="),
        ("hello world", "rawstd", "aGVsbG8gd29ybGQ"),
        ("小飼弾..", "url", "5bCP6aO85by-Li4="),
        ("小飼弾..", "rawurl", "5bCP6aO85by-Li4"),
    ],
)
def test_k6_encoding_helpers(text: str, kind: str, encoded: str) -> None:
    assert jsrt.b64encode(text, kind) == encoded
    assert jsrt.b64decode(encoded, kind, "s") == text
    assert jsrt.b64decode(encoded, None if kind == "std" else kind, "s") == text


def test_shared_array_and_open_become_veza_rays_own(tmp_path: Path) -> None:
    """k6's SharedArray is veza-ray's (frozen, once per actor), and every open()ed file is
    an input of the run (an output may not overwrite it), as in a hand-written scenario."""
    (tmp_path / "users.json").write_text('{"users": [{"name": "a", "pw": "x"}, {"name": "b"}]}')
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01")
    conv = convert_source(
        """
        import { SharedArray } from 'k6/data';
        const users = new SharedArray('users', function () {
          return JSON.parse(open('./users.json')).users;
        });
        export const raw = open('./blob.bin', 'b');
        export const first = JSON.stringify(users[0]);
        export const all = JSON.stringify(users);
        export const names = users.map((u) => u.name).join(',');
        export const pw = users[1].pw;
        export default function () {}
        """,
        "t.js",
    )
    assert not conv.todos, conv.python
    assert "js.shared_array" not in conv.python and "open_file" not in conv.python
    (tmp_path / "t.py").write_text(conv.python)
    script = load_script(str(tmp_path / "t.py"), {})
    mod = script.module
    assert type(mod.users).__name__ == "SharedArray" and len(mod.users) == 2
    with pytest.raises(TypeError):
        mod.users[0]["name"] = "changed"  # read-only, as k6's
    assert mod.raw == b"\x00\x01"
    assert mod.first == '{"name":"a","pw":"x"}'
    assert mod.all == '[{"name":"a","pw":"x"},{"name":"b"}]'
    assert mod.names == "a,b"
    assert mod.pw is None
    opened = sorted(Path(p).name for _, p in script.inputs)
    assert opened == ["blob.bin", "users.json"]


def test_increment_read_as_a_value(tmp_path: Path) -> None:
    """``i++`` inside an expression (``users[i++]``, `${i++}`), as node gives it."""
    mod = load(
        tmp_path,
        """
        let i = 1;
        let n = 10;
        export const order = [];
        export function tick() {
          const a = i++;
          const b = ++i;
          const c = n--;
          order.push(`${a}-${b}-${c}-${i}-${--n}`);
          const arr = ['x', 'y', 'z'];
          let k = 0;
          order.push(arr[k++] + arr[k++]);
          order.push(k);
        }
        export default function () {}
        """,
    )
    mod.tick()
    assert mod.order == ["1-3-10-3-8", "xy", 2]  # node 20: [ '1-3-10-3-8', 'xy', 2 ]
    mod.tick()
    assert mod.order[3:] == ["3-5-8-5-6", "xy", 2]  # node: the module's i and n carried over


def test_increment_of_a_property_read_as_a_value_stays_a_todo() -> None:
    conv = convert_source(
        "export default function () { const o = {n: 1}; const x = o.n++; }", "t.js"
    )
    assert [t.why for t in conv.todos] == ["update expression of a property, read as a value"]


def test_string_match_as_javascript(tmp_path: Path) -> None:
    """``.match()`` with a string source, a regex, ``g`` and ``i``; null when nothing matches
    (the values node 20 gives for the same lines)."""
    mod = load(
        tmp_path,
        """
        const body = '<input name="form_id" value="f-1"/><input name="form_token" value="t9"/>';
        export const a = body.match('name="form_id" value="(.*?)"')[1];
        export const b = body.match(/value="([a-z])-?(\\d)?/);
        export const c = body.match(/value="[^"]*"/g);
        export const d = body.match(/NAME="FORM_TOKEN"/i)[0];
        export const e = body.match(/nothing/);
        export const f = 'abc'.match(/x/g);
        export default function () {}
        """,
    )
    assert mod.a == "f-1"
    assert mod.b == ['value="f-1', "f", "1"]
    assert mod.c == ['value="f-1"', 'value="t9"']
    assert mod.d == 'name="form_token"'
    assert mod.e is None and mod.f is None
    assert jsrt.match(b'id="x7"', 'id="(.*)"') == ['id="x7"', "x7"]  # a body is bytes here
    assert jsrt.match("ab", "a(x)?b") == ["ab", None]


def test_chained_assignment_statement(tmp_path: Path) -> None:
    """``a.x = b.x = v;`` (k6's pantheon example) assigns both, as in JavaScript."""
    mod = load(
        tmp_path,
        """
        export const a = {};
        export const b = {};
        let n = 0;
        export function f() {
          a["Referer"] = b["Referer"] = 'http://x/' + 1;
          n = a.k = 3;
          return n;
        }
        export default function () {}
        """,
    )
    assert mod.f() == 3
    assert mod.a == {"Referer": "http://x/1", "k": 3} and mod.b == {"Referer": "http://x/1"}
    conv = convert_source("export default function () { let a; const x = (a = 2) + 1; }", "t.js")
    assert [t.why for t in conv.todos] == ["assignment expression"]  # inside an expression


def test_convert_cookie_jar_api(tmp_path: Path) -> None:
    """k6's cookie API becomes veza-ray's (docs/porting.md, "Cookies and response
    callbacks"); a ``.set``/``.clear``/``.delete`` that cannot be a jar's stays a TODO."""
    source = """
    import http from 'k6/http';
    export default function () {
      const jar = http.cookieJar();
      jar.set('http://127.0.0.1:1/', 'a', 'b', { path: '/' });
      const v = jar.cookiesForURL('http://127.0.0.1:1/');
      jar.clear('http://127.0.0.1:1/');
      jar.delete('http://127.0.0.1:1/', 'a');
      const own = new http.CookieJar();
      const res = http.get('http://127.0.0.1:1/', { jar: own });
      const sid = res.cookies.sid[0].value;
    }
    """
    conv = convert_source(source)
    assert not conv.todos, conv.python
    py = conv.python
    for line in (
        "jar = http.cookie_jar()",
        "jar.set('http://127.0.0.1:1/', 'a', 'b', {'path': '/'})",
        "v = jar.cookies_for_url('http://127.0.0.1:1/')",
        "jar.clear('http://127.0.0.1:1/')",
        "jar.delete('http://127.0.0.1:1/', 'a')",
        "own = CookieJar()",
        "jar=own",
    ):
        assert line in py, line
    path = tmp_path / "t.py"
    path.write_text(py)
    load_script(str(path), {})
    odd = convert_source(
        "import http from 'k6/http';\n"
        "export default function () { const m = {}; m.set(1); m.clear(); }"
    )
    assert [t.why for t in odd.todos] == [
        ".set() (a cookie jar's takes url, name, value[, options])",
        ".clear() (a cookie jar's takes a URL)",
    ]
