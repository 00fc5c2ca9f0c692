"""The package's shape, read from the source with `ast` (nothing here imports tlcore): no import cycles,
the layers in order (core -> data -> backbones -> engine -> insight -> runs -> serve -> app, with
tlcore/__init__.py, the cli*.py modules and __main__.py on top), no private names imported across modules, no file
over MAX_LINES, Streamlit only in tlcore/app/, pages that use only the public names of tlcore and
tlcore.app, and public names that exist. Each check lists every offender (file:line and what) when it
fails.

A check that fails while the tree is being reshaped is marked xfail(strict=True, reason=...), so the
mark must go the moment it passes. The last test plants one offender of each kind in a made-up tree,
so every check is known to be able to fail."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "tlcore"
LAYERS = ("core", "data", "backbones", "engine", "insight", "runs", "serve", "app")
TOP = len(LAYERS)  # tlcore/__init__.py, cli.py and __main__.py: above every layer
TOP_MODULES = {"tlcore", "tlcore.cli", "tlcore.cli_data", "tlcore.cli_guide", "tlcore.cli_train", "tlcore.__main__"}
PAGE_PACKAGES = ("tlcore", "tlcore.app")  # all that pages may import from tlcore
MAX_LINES = 300


@dataclass(frozen=True)
class Import:
    path: str  # of the importing file, relative to the repository
    line: int
    module: str  # the module imported from (absolute); a tlcore submodule where a name is one
    name: str | None  # the name taken from it (None: `import module`)
    lazy: bool  # inside a function or class body
    typing_only: bool  # under `if TYPE_CHECKING:` (never run)
    asname: str | None = None
    submodule: bool = False  # `from package import module`: the name is the module itself

    def where(self) -> str:
        return f"{self.path}:{self.line}"


class Tree:
    """Python files by path relative to the repository root: tlcore/**, views/*.py and app.py."""

    def __init__(self, sources: dict[str, str]):
        self.sources = sources
        self.trees = {path: ast.parse(text, filename=path) for path, text in sources.items()}
        self.modules = {module_name(path): path for path in sources if path.startswith(PACKAGE + "/")}
        self.imports = {path: list(self._imports(path)) for path in sources}

    @classmethod
    def from_disk(cls, root: Path = ROOT) -> "Tree":
        paths = [*sorted((root / PACKAGE).rglob("*.py")), *sorted((root / "views").glob("*.py")), root / "app.py"]
        return cls({p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in paths if p.is_file()})

    def package_files(self) -> list[str]:
        return [path for path in self.sources if path.startswith(PACKAGE + "/")]

    def page_files(self) -> list[str]:
        return [path for path in self.sources if not path.startswith(PACKAGE + "/")]

    def _imports(self, path: str):
        here = module_name(path) if path.startswith(PACKAGE + "/") else ""
        package = here if path.endswith("__init__.py") else here.rpartition(".")[0]
        for node, lazy, typing_only in walk_imports(self.trees[path]):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(path, node.lineno, alias.name, None, lazy, typing_only, alias.asname)
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                module = self._source(base, alias.name)
                yield Import(path, node.lineno, module, alias.name, lazy, typing_only, alias.asname, module != base)

    def _source(self, base: str, name: str) -> str:
        """The module `from base import name` takes from: the submodule base.name, unless base's own
        top level binds the name (a package re-exporting its submodule's function of the same name)."""
        sub = f"{base}.{name}"
        if sub not in self.modules:
            return base
        return base if base in self.modules and binds(self.trees[self.modules[base]], name) else sub

    def internal(self, path: str):
        """The file's imports of tlcore modules."""
        return [imp for imp in self.imports[path] if imp.module in self.modules]


def module_name(path: str) -> str:
    parts = path[:-3].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def binds(tree: ast.Module, name: str) -> bool:
    """Whether a module's top level binds the name to something other than its submodule of that name."""
    def visit(nodes) -> bool:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                return True
            if isinstance(node, ast.ImportFrom) and node.module is not None and any(
                    (alias.asname or alias.name) == name for alias in node.names):
                return True  # `from .workspace import workspace`, not `from . import workspace`
            if isinstance(node, ast.Import) and any(alias.asname == name for alias in node.names):
                return True
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and any(
                    isinstance(n, ast.Name) and n.id == name
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) for n in ast.walk(t)):
                return True
            if isinstance(node, (ast.If, ast.Try, ast.With)) and visit(
                    [*[c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)],
                     *[stmt for handler in getattr(node, "handlers", []) for stmt in handler.body]]):
                return True
        return False
    return visit(tree.body)


def walk_imports(tree: ast.Module):
    """(import node, lazy, typing_only) for every import in the file."""
    def visit(nodes, lazy, typing_only):
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node, lazy, typing_only
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                yield from visit(ast.iter_child_nodes(node), True, typing_only)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                yield from visit(node.body, lazy, True)
                yield from visit(node.orelse, lazy, typing_only)
            else:
                yield from visit(ast.iter_child_nodes(node), lazy, typing_only)
    yield from visit(tree.body, False, False)


def layer(module: str) -> int | None:
    if module in TOP_MODULES:
        return TOP
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def layer_name(index: int) -> str:
    return LAYERS[index] if index < TOP else "top"


# The checks: each returns its offenders, one line each.

def cycle_offenders(tree: Tree) -> list[str]:
    """Import cycles among tlcore modules, through module-level imports (lazy ones break cycles)."""
    edges: dict[str, dict[str, Import]] = {module: {} for module in tree.modules}
    for path in tree.package_files():
        for imp in tree.internal(path):
            if not imp.lazy and not imp.typing_only:
                edges[module_name(path)].setdefault(imp.module, imp)
    offenders = []
    for component in strongly_connected(edges):
        inside = sorted((source, target) for source in component for target in edges[source] if target in component)
        if len(component) > 1 or inside:
            loop = shortest_cycle(edges, component)
            example = " -> ".join(f"{source} ({edges[source][target].where()})" for source, target in zip(loop, loop[1:]))
            steps = "; ".join(f"{edges[s][t].where()} imports {t}" for s, t in inside)
            offenders.append(f"cycle among {', '.join(sorted(component))}, e.g. {example} -> {loop[0]}; "
                             f"all imports inside it: {steps}")
    return offenders


def shortest_cycle(edges: dict[str, dict], component: set[str]) -> list[str]:
    """The shortest way from the component's first module back to itself: [first, ..., first]."""
    first = min(component)
    paths, frontier = {first: [first]}, [first]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(edges[node]):
                if target == first:
                    return paths[node] + [first]
                if target in component and target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError("a strongly connected component without a cycle")


def strongly_connected(edges: dict[str, dict]) -> list[set[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    found.append(component)
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def layer_offenders(tree: Tree) -> list[str]:
    """A module imports (at module level or lazily) only modules of its own or an earlier layer."""
    offenders = []
    for path in tree.package_files():
        own = layer(module_name(path))
        if own is None:
            offenders.append(f"{path}: in no layer (put it in one of {', '.join(LAYERS)})")
            continue
        for imp in tree.internal(path):
            theirs = layer(imp.module)
            if theirs is not None and theirs > own:
                offenders.append(f"{imp.where()} ({layer_name(own)}) imports {imp.module} ({layer_name(theirs)})")
    return offenders


def private_import_offenders(tree: Tree) -> list[str]:
    """`from x import _y`: a name private to its module used from another one."""
    return [f"{imp.where()} imports {imp.name} from {imp.module}"
            for path in tree.sources for imp in tree.imports[path]
            if imp.name and imp.name.startswith("_") and not (imp.name.startswith("__") and imp.name.endswith("__"))]


def long_file_offenders(tree: Tree) -> list[str]:
    lines = {path: len(tree.sources[path].splitlines()) for path in tree.package_files()}
    return [f"{path}: {n} lines" for path, n in lines.items() if n > MAX_LINES]


def streamlit_offenders(tree: Tree) -> list[str]:
    return [f"{imp.where()} imports {imp.module}" for path in tree.package_files()
            if not path.startswith(f"{PACKAGE}/app/") for imp in tree.imports[path]
            if imp.module == "streamlit" or imp.module.startswith("streamlit.")]


def public_names(tree: Tree, module: str) -> list[str] | None:
    """The module's __all__ as written (None without one)."""
    names = None
    for node in tree.trees[tree.modules[module]].body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
            value = ast.literal_eval(node.value)
            names = (names or []) + list(value) if isinstance(node, ast.AugAssign) else list(value)
    return names


def page_offenders(tree: Tree) -> list[str]:
    """Pages import from tlcore only `tlcore` and `tlcore.app`, and only names in their __all__."""
    offenders, exported = [], {}
    for package in PAGE_PACKAGES:
        exported[package] = set(public_names(tree, package) or []) if package in tree.modules else set()
    for path in tree.page_files():
        bound = {}  # a local name -> the package it stands for
        for imp in tree.imports[path]:
            if imp.module != PACKAGE and not imp.module.startswith(PACKAGE + "."):
                continue
            if imp.module not in PAGE_PACKAGES:
                what = imp.module if imp.name is None or imp.submodule else f"{imp.name} from {imp.module}"
                offenders.append(f"{imp.where()} imports {what} (pages import only from {' and '.join(PAGE_PACKAGES)})")
            elif imp.name is None:
                bound[imp.asname or PACKAGE] = imp.module if imp.asname else PACKAGE
            elif imp.name not in exported[imp.module]:
                offenders.append(f"{imp.where()} imports {imp.name} from {imp.module}, which is not in its __all__")
        for node in ast.walk(tree.trees[path]):
            chain = attribute_chain(node)
            if chain and chain[0] in bound:
                package, rest = bound[chain[0]], chain[1:]
                while rest and f"{package}.{rest[0]}" in PAGE_PACKAGES:
                    package, rest = f"{package}.{rest[0]}", rest[1:]
                if rest and rest[0] not in exported[package]:
                    offenders.append(f"{path}:{node.lineno} uses {package}.{rest[0]}, which is not in its __all__")
    return offenders


def attribute_chain(node) -> list[str] | None:
    """a.b.c -> ['a', 'b', 'c'] for the outermost attribute of a chain (else None)."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    return [node.id, *reversed(names)] if isinstance(node, ast.Name) and names else None


def bindings(tree: Tree, module: str) -> dict[str, Import | None]:
    """The names bound at a module's top level; for an imported name, the import (else None). A star
    import or a module __getattr__ stands for any name ('*')."""
    bound: dict[str, Import | None] = {}
    imports = {(imp.line, imp.asname or imp.name): imp for imp in tree.imports[tree.modules[module]]
               if not imp.lazy}

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound[node.name] = None
                if node.name == "__getattr__":
                    bound["*"] = None
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    name = alias.asname or (alias.name.split(".")[0] if isinstance(node, ast.Import) else alias.name)
                    bound[name] = imports.get((node.lineno, alias.asname or alias.name))
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            bound[name.id] = None
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                visit([child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
                      + [h for h in getattr(node, "handlers", [])])
            elif isinstance(node, ast.ExceptHandler):
                visit(node.body)
    visit(tree.trees[tree.modules[module]].body)
    return bound


def defines(tree: Tree, module: str, name: str, seen: frozenset = frozenset()) -> bool:
    """Whether `name` can be imported from a tlcore module: bound there (following re-exports of other
    tlcore modules), or a submodule of it."""
    if f"{module}.{name}" in tree.modules:
        return True
    bound = bindings(tree, module)
    if "*" in bound:
        return True
    if name not in bound:
        return False
    imp = bound[name]
    if imp is None or imp.name is None or imp.submodule or imp.module not in tree.modules:
        return True
    return (imp.module, imp.name) in seen or defines(tree, imp.module, imp.name, seen | {(imp.module, imp.name)})


def all_names_offenders(tree: Tree) -> list[str]:
    """Every name in tlcore.__all__ and tlcore.app.__all__ is there, down to where it is defined."""
    offenders = []
    for package in PAGE_PACKAGES:
        path = tree.modules.get(package)
        names = public_names(tree, package) if path else None
        if names is None:
            offenders.append(f"{path or package}: no __all__")
            continue
        bound = bindings(tree, package)
        for name in names:
            imp = bound.get(name)
            if name not in bound and "*" not in bound:
                offenders.append(f"{path}: __all__ names {name}, which it neither defines nor imports")
            elif imp and imp.name and not imp.submodule and imp.module in tree.modules and not defines(
                    tree, imp.module, imp.name):
                offenders.append(f"{imp.where()}: __all__ names {name}, but {imp.module} has no {imp.name}")
    return offenders


@pytest.fixture(scope="module")
def tree() -> Tree:
    return Tree.from_disk()


def report(offenders: list[str]) -> str:
    return f"{len(offenders)} offender(s):\n" + "\n".join(offenders)


CHECKS = {
    "no import cycles": cycle_offenders,
    "layers import only their own or earlier layers": layer_offenders,
    "no private name is imported from another module": private_import_offenders,
    "no package file is over the line limit": long_file_offenders,
    "only the app package imports streamlit": streamlit_offenders,
    "pages use only the public names of tlcore and tlcore.app": page_offenders,
    "every public name exists": all_names_offenders,
}


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_the_tree_passes(tree, check):
    offenders = check(tree)
    assert not offenders, report(offenders)


PLANTED = {
    "tlcore/__init__.py": "from .core.a import good\nfrom .core import a\n__all__ = ['good', 'a', 'missing', 'gone']\n"
                          "from .core.a import gone\n",
    "tlcore/core/__init__.py": "",
    "tlcore/core/a.py": "from .b import x, _hidden\ngood = 1\n",
    "tlcore/core/b.py": "from .a import good\nimport streamlit as st\nx = 2\n_hidden = 3\n",
    "tlcore/engine/__init__.py": "",
    "tlcore/engine/long.py": "x = 1\n" * (MAX_LINES + 1),
    "tlcore/engine/late.py": "def f():\n    from ..runs import jobs\n",
    "tlcore/runs/__init__.py": "",
    "tlcore/runs/jobs.py": "",
    "tlcore/stray.py": "",
    "tlcore/app/__init__.py": "import streamlit\nplain = 1\n",
    "tlcore/app/plain.py": "",  # shadowed by the package's own `plain`
    "views/page.py": "import tlcore\nfrom tlcore.runs import jobs\nfrom tlcore import good, secret\n"
                     "from tlcore.app import plain\nprint(tlcore.hidden, tlcore.good)\n",
    "app.py": "import streamlit as st\n",
}


@pytest.mark.parametrize("check, expected", [
    (cycle_offenders, ["cycle among tlcore.core.a, tlcore.core.b, e.g. tlcore.core.a (tlcore/core/a.py:1) -> "
                       "tlcore.core.b (tlcore/core/b.py:1) -> tlcore.core.a; all imports inside it: "
                       "tlcore/core/a.py:1 imports tlcore.core.b; tlcore/core/b.py:1 imports tlcore.core.a"]),
    (layer_offenders, ["tlcore/engine/late.py:2 (engine) imports tlcore.runs.jobs (runs)",
                       "tlcore/stray.py: in no layer "
                       "(put it in one of core, data, backbones, engine, insight, runs, serve, app)"]),
    (private_import_offenders, ["tlcore/core/a.py:1 imports _hidden from tlcore.core.b"]),
    (long_file_offenders, [f"tlcore/engine/long.py: {MAX_LINES + 1} lines"]),
    (streamlit_offenders, ["tlcore/core/b.py:2 imports streamlit"]),
    (page_offenders, ["views/page.py:2 imports tlcore.runs.jobs (pages import only from tlcore and tlcore.app)",
                      "views/page.py:3 imports secret from tlcore, which is not in its __all__",
                      "views/page.py:4 imports plain from tlcore.app, which is not in its __all__",
                      "views/page.py:5 uses tlcore.hidden, which is not in its __all__"]),
    (all_names_offenders, ["tlcore/__init__.py: __all__ names missing, which it neither defines nor imports",
                           "tlcore/__init__.py:4: __all__ names gone, but tlcore.core.a has no gone",
                           "tlcore/app/__init__.py: no __all__"]),
])
def test_each_check_finds_planted_offenders(check, expected):
    assert sorted(check(Tree(PLANTED))) == sorted(expected)
