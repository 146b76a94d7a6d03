#!/usr/bin/python3
"""Checks the module layers of src/ against the allowed-edges table docs/layers.txt.

A module is the first folder under src/ (kernels/fast and kernels/reference count as modules of
their own). Every `#include "module/..."` in src/ is an edge; the check fails on an edge the table
does not allow, on a module the table does not list, and on a cycle (the table is ordered
bottom-up, so it cannot hold one; the cycle search is there to say which modules form it).
It also fails when the diagram in docs/ARCHITECTURE.md (between the layers markers) differs from
the one this script prints with --diagram, so the document follows the table.

usage: check_layers.py [--root DIR] [--diagram]
"""
import argparse
import os
import re
import sys
from collections import defaultdict

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
BEGIN, END = '<!-- layers:begin (scripts/check_layers.py --diagram) -->', '<!-- layers:end -->'


def module_of(rel):
    """Module of a path relative to src/ ("kernels/fast/x.cpp" -> "kernels/fast")."""
    parts = rel.split('/')
    if len(parts) < 2:
        return None
    return '/'.join(parts[:2]) if parts[0] == 'kernels' and len(parts) > 2 else parts[0]


def read_table(path):
    """Ordered {module: set of modules it may use}; an error list when a line uses a later module."""
    table, errors = {}, []
    for n, line in enumerate(open(path), 1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        name, _, uses = line.partition(':')
        name, uses = name.strip(), uses.split()
        for u in uses:
            if u not in table:
                errors.append(f'{path}:{n}: {name} uses {u}, which is not listed above it (the table must go bottom-up)')
        table[name] = set(uses)
    return table, errors


def include_edges(src):
    """{(from, to): first 'file:line includes "x"'} over every source file of src/."""
    edges = {}
    folders = {d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d))}
    for d, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(('.h', '.hpp', '.cpp', '.cc', '.inl')):
                continue
            path = os.path.join(d, f)
            a = module_of(os.path.relpath(path, src))
            for n, line in enumerate(open(path, errors='replace'), 1):
                m = INCLUDE.match(line)
                if not m or m.group(1).split('/')[0] not in folders:
                    continue  # "commands.h", a header beside the file: same module
                b = module_of(m.group(1))
                if a and b and a != b:
                    edges.setdefault((a, b), f'{os.path.relpath(path, os.path.dirname(src))}:{n} includes "{m.group(1)}"')
    return edges


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
                comps.append(sorted(comp))

    for v in sorted(set(graph) | {b for _, b in edges}):
        if v not in index:
            visit(v)
    return comps


def diagram(table):
    """The layers as markdown: modules by level (a module sits one level above the highest it uses)."""
    level = {}
    for name, uses in table.items():
        level[name] = 1 + max((level[u] for u in uses), default=-1)
    lines = [BEGIN, '```']
    for lv in range(max(level.values()), -1, -1):
        names = [m for m in table if level[m] == lv]
        lines.append(f'level {lv}: ' + '  '.join(names))
    lines += ['```', '', '| module | may use |', '|---|---|']
    for name in reversed(list(table)):
        lines.append(f'| `{name}` | {", ".join(sorted(table[name], key=list(table).index)) or "(nothing)"} |')
    lines.append(END)
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
    parser.add_argument('--diagram', action='store_true', help='print the diagram for docs/ARCHITECTURE.md')
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    table_path = os.path.join(root, 'docs', 'layers.txt')
    table, errors = read_table(table_path)
    if args.diagram:
        print(diagram(table))
        return 0
    src = os.path.join(root, 'src')
    modules = {module_of(os.path.relpath(os.path.join(d, f), src)) for d, _, fs in os.walk(src) for f in fs}
    for m in sorted(modules - {None} - set(table)):
        errors.append(f'module {m} is not in {table_path}: add a line for it')
    edges = include_edges(src)
    for (a, b), why in sorted(edges.items()):
        if b not in table.get(a, set()):
            errors.append(f'{a} -> {b} is not allowed by docs/layers.txt: {why}')
    for comp in cycles(edges):
        errors.append('cycle among modules: ' + ', '.join(comp))
    arch = open(os.path.join(root, 'docs', 'ARCHITECTURE.md')).read()
    if diagram(table) not in arch:
        errors.append('docs/ARCHITECTURE.md does not hold the diagram of docs/layers.txt: paste the output of '
                      'scripts/check_layers.py --diagram')
    for e in errors:
        print(e)
    print(f'{len(table)} modules, {len(edges)} include edges between modules, {len(errors)} problem(s)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
