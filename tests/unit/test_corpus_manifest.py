"""The convert corpus manifest (tests/convert_corpus/registry.json) and its fetcher's pure parts."""

from __future__ import annotations

import re

import pytest
from corpus_fetch import k6_scripts_in_markdown, manifest, script_name

HEX64 = re.compile(r"[0-9a-f]{64}")


def test_every_package_is_pinned_with_a_checksum_and_a_licence() -> None:
    packages = manifest()["packages"]
    assert len({p.get("folder", p["name"]) for p in packages}) == len(packages)
    for pkg in packages:
        assert pkg["ecosystem"] in ("pypi", "npm", "k6-new"), pkg["name"]
        assert re.fullmatch(r"\d+(\.\d+)+", pkg["version"]), pkg["name"]
        assert pkg["licence"] and pkg["source"] and pkg["author"], pkg["name"]
        assert pkg["scripts"], pkg["name"]
        if pkg["ecosystem"] == "k6-new":
            assert all(HEX64.fullmatch(s["sha256"]) for s in pkg["scripts"])
        else:
            assert HEX64.fullmatch(pkg["sha256"]) and pkg["version"] in pkg["file"]
        names = [script_name(s) for s in pkg["scripts"]]
        assert len(set(names)) == len(names), pkg["name"]


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        ({"member": "pkg-1.0/examples/load.js"}, "examples_load.js"),
        ({"member": "package/test/example.k6.js"}, "test_example.k6.js"),
        ({"member": "pkg-1.0/README.md", "block": 2}, "README_block2.js"),
        ({"template": "protocol"}, "protocol.js"),
    ],
)
def test_script_names_are_flat(entry: dict[str, object], name: str) -> None:
    assert script_name(entry) == name


def test_only_fenced_k6_scripts_count_as_blocks() -> None:
    text = (
        "```js\nimport http from 'k6/http';\nhttp.get(u);\n```\n"  # no export: a fragment
        "```bash\nk6 run x.js\n```\n"
        '```javascript\nimport { sleep } from "k6";\nexport default function () { sleep(1); }\n```\n'
        "```ts\nimport x from './y';\nexport default function () {}\n```\n"  # not k6
        "```\nimport { Rate } from 'k6/metrics';\nexport const options = {};\n```\n"
    )
    blocks = k6_scripts_in_markdown(text)
    assert len(blocks) == 2
    assert blocks[0].startswith('import { sleep } from "k6"')
    assert "k6/metrics" in blocks[1]
