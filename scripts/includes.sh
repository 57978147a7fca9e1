#!/usr/bin/env bash
# Print the include graph of common/ and node/ (our own headers only) and
# check it for cycles. Usage: scripts/includes.sh [--graph]
#   --graph  also print every edge "file -> header"
# A header's edges are its own #include "..." lines; a .c file's edges count
# too (a .c that includes a header whose header includes the .c's own header
# closes a circle between the two modules). Modules are named by their path
# without the extension, so node/registry/household.c and .h are one
# node of the graph. Exits 1 if there is a cycle.
set -euo pipefail
case "$#:${1:-}" in
0: | 1:--graph) ;;
1:-h | 1:--help)
	echo "usage: scripts/includes.sh [--graph]"
	echo "Checks the include graph of common/ and node/ for cycles (exit 1 if any);"
	echo "--graph also prints every edge."
	exit 0
	;;
*)
	echo "includes.sh: unknown argument(s): $*" >&2
	echo "usage: scripts/includes.sh [--graph]" >&2
	exit 2
	;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
python3 - "$@" <<'PY'
import os, re, sys
dirs = ["common", "node"]
files = []
for d in dirs:
    for root, _, names in os.walk(d):
        files += [os.path.join(root, n) for n in names if n.endswith((".c", ".h"))]
byname = {}
for f in files:
    if f.endswith(".h"):
        byname.setdefault(os.path.basename(f), []).append(f)
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
edges = {}
for f in sorted(files):
    mod = f[:-2]
    for line in open(f, encoding="utf-8"):
        m = inc.match(line)
        if not m:
            continue
        name = os.path.basename(m.group(1))
        cands = byname.get(name, [])
        if not cands:
            continue  # generated or system-like header
        # prefer the header in the includer's own folder
        tgt = next((c for c in cands if os.path.dirname(c) == os.path.dirname(f)), cands[0])
        if tgt[:-2] != mod:
            edges.setdefault(mod, set()).add(tgt[:-2])
if "--graph" in sys.argv:
    for a in sorted(edges):
        for b in sorted(edges[a]):
            print(f"{a} -> {b}")
# strongly connected components (Tarjan), iterative enough for this size
sys.setrecursionlimit(10000)
index, low, stack, on, sccs = {}, {}, [], set(), []
counter = [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
nodes = set(edges) | {b for s in edges.values() for b in s}
for v in sorted(nodes):
    if v not in index:
        visit(v)
for c in sccs:
    print("cycle:", " <-> ".join(c))
print(f"{len(nodes)} modules, {sum(len(s) for s in edges.values())} edges, {len(sccs)} cycles")
sys.exit(1 if sccs else 0)
PY
