"""The course's modules import in layers, without cycles (issue 20).

The graph: one node per course module (``gmm_helpers.py`` and ``gmm/*.py``), an edge for every
import of one by another, read with ``ast`` from the source, imports inside functions
included, in each of their forms (``import gmm_helpers as gh``, ``from gmm import plots``,
``import gmm.engine``, ``from gmm.checks import check_X``, ``from . import em``). The layer
order is the one ``gmm/__init__.py``'s docstring writes: the modules below ``gmm_helpers``,
then ``gmm_helpers``, then those above it; a module may import only those before it.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "gmm"
TOP = "gmm_helpers"


def course_modules(root=ROOT):
    """{module name: path}: gmm_helpers and the modules of the package (its __init__ is ``gmm``)."""
    modules = {TOP: root / f"{TOP}.py"}
    for path in sorted((root / PACKAGE).glob("*.py")):
        name = PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"
        modules[name] = path
    return modules


def imported_modules(node, module, known):
    """The course modules (names in ``known``) one Import or ImportFrom node of ``module``
    imports."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from . import x, from .x import y (inside the package)
            package = module if module == PACKAGE else module.rsplit(".", 1)[0]
            parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join(parts + ([base] if base else []))
        # `from gmm import plots` imports the module gmm.plots; `from gmm.checks import
        # check_X` the module gmm.checks
        names = [f"{base}.{alias.name}" for alias in node.names] + [base]
    found = set()
    for name in names:
        # `import gmm.engine` imports gmm and gmm.engine; the longest known prefix is the module
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def import_graph(modules):
    """{module: set of course modules it imports}, every import in the file counted."""
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= imported_modules(node, name, modules)
        # `from gmm.checks import x` runs gmm/__init__.py too; that is no edge of the layers
        graph[name] = edges - {name, PACKAGE}
    return graph


def find_cycle(graph):
    """A cycle [a, b, ..., a] of the directed graph {node: set of nodes}, or None."""
    state = {}  # node -> "open" while on the current path, "done" after
    path = []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for succ in sorted(graph.get(node, ())):
            if state.get(succ) == "open":
                return path[path.index(succ) :] + [succ]
            if succ not in state:
                cycle = visit(succ)
                if cycle:
                    return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def layer_order(docstring):
    """The modules in the order of ``gmm/__init__.py``'s docstring: those listed under
    "Below", then gmm_helpers, then those listed under "Above" (indented ``name  text`` lines)."""
    below, _, above = docstring.partition("\nAbove")
    listed = [re.findall(r"^    (\w+)  ", part, flags=re.M) for part in (below, above)]
    return [f"{PACKAGE}.{n}" for n in listed[0]] + [TOP] + [f"{PACKAGE}.{n}" for n in listed[1]]


def layer_violations(graph, order):
    """The imports that do not go down the layers: (importer, imported) where the imported
    module does not come before the importer in ``order``; a module missing from the order is
    reported as (module, None)."""
    rank = {name: i for i, name in enumerate(order)}
    problems = [(name, None) for name in sorted(graph) if name != PACKAGE and name not in rank]
    for name, edges in sorted(graph.items()):
        for imported in sorted(edges):
            if name in rank and imported in rank and rank[imported] >= rank[name]:
                problems.append((name, imported))
    return problems


# ---------------------------------------------------------------------------
# The course
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph():
    return import_graph(course_modules())


@pytest.fixture(scope="module")
def order():
    tree = ast.parse((ROOT / PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    return layer_order(ast.get_docstring(tree))


def test_the_graph_sees_the_course(graph):
    # gmm_helpers imports the layers below it; the modules above import it
    assert {"gmm.checks", "gmm.em", "gmm.engine"} <= graph[TOP]
    assert TOP in graph["gmm.plots"] and TOP in graph["gmm.exercises"]


def test_the_course_modules_import_no_cycle(graph):
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_the_layers_are_those_gmm_init_writes(order):
    assert order[:4] == ["gmm.checks", "gmm.em", "gmm.engine", TOP]
    assert {"gmm.plots", "gmm.explorer", "gmm.exercises"} <= set(order[4:])


def test_every_module_imports_only_the_layers_below_it(graph, order):
    problems = layer_violations(graph, order)
    assert not problems, "\n".join(
        f"{name} is not in gmm/__init__.py's layer list" if imported is None
        else f"{name} imports {imported}, which is not below it (gmm/__init__.py)"
        for name, imported in problems
    )  # fmt: skip


# ---------------------------------------------------------------------------
# The checks can fail: small synthetic graphs and modules
# ---------------------------------------------------------------------------


def test_a_cycle_is_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None  # a diamond, no cycle


def test_an_import_up_the_layers_is_found():
    order = ["gmm.checks", TOP, "gmm.plots"]
    graph = {"gmm.checks": {"gmm.plots"}, TOP: {"gmm.checks"}, "gmm.plots": {TOP}, "gmm.new": set()}
    assert layer_violations(graph, order) == [("gmm.new", None), ("gmm.checks", "gmm.plots")]


def test_every_import_form_is_an_edge(tmp_path):
    """A cycle made of function-level imports in each form is found in source files."""
    (tmp_path / PACKAGE).mkdir()
    (tmp_path / PACKAGE / "__init__.py").write_text('"""Layers."""\n')
    (tmp_path / f"{TOP}.py").write_text("def f():\n    from gmm import low\n")
    (tmp_path / PACKAGE / "low.py").write_text("def g():\n    import gmm.mid as m\n")
    (tmp_path / PACKAGE / "mid.py").write_text("def h():\n    from .top import x\n")
    (tmp_path / PACKAGE / "top.py").write_text("import gmm_helpers as gh\nfrom gmm.low import g\n")
    graph = import_graph(course_modules(tmp_path))
    assert graph == {
        TOP: {"gmm.low"},
        PACKAGE: set(),
        "gmm.low": {"gmm.mid"},
        "gmm.mid": {"gmm.top"},
        "gmm.top": {TOP, "gmm.low"},
    }
    assert find_cycle(graph) == ["gmm.low", "gmm.mid", "gmm.top", "gmm.low"]
