#!/usr/bin/env python3
"""Lists the dependencies between pinscope's top-level modules and checks them against the layers
that src/lib.rs and docs/architecture.md describe.

Every `crate::X` path in src/ (in `use` lines and inline) counts as an edge from the file's
top-level module to X. Test modules (`#[cfg(test)]` to the end of the file) are left out: tests
may reach anywhere. An edge must point to a lower layer; an edge between two modules of the same
layer (or upwards) is reported, and so is any cycle. Usage: python3 tools/layers.py [src-dir].
Exit status 1 when something is reported.
"""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")

# Lowest first. A module may use modules of lower layers only.
LAYERS = [
    ("model", ["model"]),
    ("data", ["catalog", "apple_store", "input", "der", "pac"]),
    ("mechanism and policy", ["probe", "analysis"]),
    ("renderers", ["report"]),
    ("run", ["run"]),
    ("long-running modes", ["serve"]),
    ("entry points", ["cli", "fuzzing"]),
]
LAYER = {m: i for i, (_, ms) in enumerate(LAYERS) for m in ms}
edges: dict[str, dict[str, set[str]]] = {}
modules = set()
for path in sorted(src.rglob("*.rs")):
    rel = path.relative_to(src)
    top = rel.parts[0].removesuffix(".rs")
    if top in ("main", "lib"):
        continue
    modules.add(top)
    text = path.read_text()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    # Drop comments so doc links do not count.
    text = re.sub(r"//[^\n]*", "", text)
    for m in re.finditer(r"\bcrate::([a-z_][a-z0-9_]*)", text):
        dep = m.group(1)
        if dep != top:
            edges.setdefault(top, {}).setdefault(dep, set()).add(str(rel))
    # `use crate::{a, b::c}` groups
    for m in re.finditer(r"\bcrate::\{([^}]*)\}", text):
        for part in m.group(1).split(","):
            dep = part.strip().split("::")[0]
            if dep and dep != top and re.fullmatch(r"[a-z_][a-z0-9_]*", dep):
                edges.setdefault(top, {}).setdefault(dep, set()).add(str(rel))

for top in sorted(modules):
    deps = sorted(edges.get(top, {}))
    print(f"{top:12} -> {', '.join(deps) if deps else '(nothing)'}")

# Cycle detection (depth-first, colouring).
WHITE, GREY, BLACK = 0, 1, 2
colour = {m: WHITE for m in modules}
cycles = []


def visit(m, stack):
    colour[m] = GREY
    stack.append(m)
    for d in sorted(edges.get(m, {})):
        if colour.get(d, BLACK) == GREY:
            cycles.append(stack[stack.index(d):] + [d])
        elif colour.get(d) == WHITE:
            visit(d, stack)
    stack.pop()
    colour[m] = BLACK


for m in sorted(modules):
    if colour[m] == WHITE:
        visit(m, [])

failed = False
unknown = sorted(m for m in modules if m not in LAYER)
if unknown:
    print("not in any layer (add to LAYERS): " + ", ".join(unknown))
    failed = True
for a in sorted(edges):
    for b in sorted(edges[a]):
        if a in LAYER and b in LAYER and LAYER[b] >= LAYER[a]:
            way = "sideways" if LAYER[b] == LAYER[a] else "upwards"
            print(f"against the layers ({way}): {a} -> {b}: {', '.join(sorted(edges[a][b]))}")
            failed = True
for c in cycles:
    print("cycle: " + " -> ".join(c))
    for a, b in zip(c, c[1:]):
        print(f"  {a} -> {b}: {', '.join(sorted(edges[a][b]))}")
    failed = True
if not cycles:
    print("no cycle between top-level modules")
if failed:
    sys.exit(1)
print("every dependency points to a lower layer")
