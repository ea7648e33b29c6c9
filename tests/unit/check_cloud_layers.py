#!/usr/bin/env python3
"""check_cloud_layers.py - the layering rules of kumod (src/cloud), read from
the #include lines (docs/architecture.md, "kumod: layers"):

  1. no include cycle between modules: a module is a header and the .c
     files that implement it (a .c file belongs to the header it includes
     first, as every file of src/cloud does: prov_vm.c to provision.h,
     schema.c to db.h, api_vm.c to api.h; main.c is a module of its own);
     module A depends on B when a file of A includes cloud/B.h;
  2. HTTP stays in the REST front end: only api*.c, http.c and main.c
     include cloud/http.h or cloud/api.h;
  3. the provisioning layer and what it calls take the model, not request
     bodies: no file outside api*.c and requests.c includes cloud/body.h
     or cloud/requests.h (the fuzzer and the unit tests are not in src/).

Usage: check_cloud_layers.py SRC_CLOUD_DIR [-v]. Exit status 1 and a line
per broken rule when one is broken; -v prints the module graph.
"""
import collections
import pathlib
import re
import sys

INCLUDE = re.compile(r'^#include "cloud/(\w+)\.h"', re.M)


def modules(root):
    files = sorted(root.glob("*.[ch]"))
    owner = {}
    for f in files:
        if f.suffix == ".h" or f.name == "main.c":
            owner[f] = f.stem
        else:
            first = INCLUDE.search(f.read_text())
            owner[f] = first.group(1) if first else f.stem
    return files, owner


def cycles(edges, nodes):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def main():
    root = pathlib.Path(sys.argv[1])
    files, owner = modules(root)
    if not files:
        print(f"no sources in {root}")
        return 1
    edges = collections.defaultdict(set)
    problems = []
    for f in files:
        text = f.read_text()
        for name in INCLUDE.findall(text):
            if name != owner[f]:
                edges[owner[f]].add(name)
            front = f.name.startswith("api") or f.name in ("http.c", "main.c")
            if name in ("http", "api") and not front:
                problems.append(f"{f.name} includes cloud/{name}.h: HTTP belongs to the REST "
                                "front end (api*.c)")
            bodies = f.name.startswith("api") or f.name in ("requests.c", "body.c", "requests.h")
            if name in ("body", "requests") and not bodies:
                problems.append(f"{f.name} includes cloud/{name}.h: request bodies are the front "
                                "end's; give the provisioning layer the model (provision.h)")
    for comp in cycles(edges, set(owner.values())):
        problems.append("include cycle between modules: " + " <-> ".join(comp))
    if "-v" in sys.argv:
        for m in sorted(edges):
            print(f"{m} -> {' '.join(sorted(edges[m]))}")
    for p in problems:
        print(p)
    print(f"{len(files)} files, {len(set(owner.values()))} modules, "
          f"{sum(len(e) for e in edges.values())} dependencies, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
