"""The shape of the package, read from the source (no module is imported): no import cycle among chalicelib modules,
`deps.py` is the only composition root — services and the domain receive their ports and never import it — and
the layers point one way: the domain imports no other layer, services no API, adapters no service or API.

Imports inside functions count: a lazy import hides a cycle from Python's loader but not from the reader.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "chalicelib"

def module_files(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for path in (root / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """module → the chalicelib modules it imports anywhere in its body (`from a import b` names a.b when b is a
    module, else a)."""

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [resolve(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else resolve(base) for a in node.names]
            graph[module] |= {t for t in targets if t and t != module}
    return graph


def third_party_imports(files: dict[str, Path]) -> dict[str, set[str]]:
    """module → the top-level packages outside chalicelib it imports anywhere in its body (relative imports are
    chalicelib's own)."""
    found: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found[module] |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found[module].add(node.module.partition(".")[0])
        found[module].discard(PACKAGE)
    return found


# The AWS SDK and the web framework belong to the adapters and the API: the rules and the use cases run without them.
IO_FRAMEWORKS = frozenset({"boto3", "botocore", "chalice"})


# layer → the layers it must not import (a layer is the package's first segment: chalicelib.<layer>...)
FORBIDDEN_LAYERS: dict[str, tuple[str, ...]] = {
    "domain": ("adapters", "services", "api", "deps", "jobs"),
    "services": ("api",),
    "adapters": ("services", "api"),
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def layering_violations(graph: dict[str, set[str]], layer: str) -> list[str]:
    """`importer → imported` for every import of a module of `layer` into a layer it must not import."""
    forbidden = FORBIDDEN_LAYERS[layer]
    return sorted(f"{m} → {t}" for m, targets in graph.items() if layer_of(m) == layer
                  for t in targets if layer_of(t) in forbidden)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_among_chalicelib_modules():
    graph = import_graph(module_files())

    found = cycles(graph)

    assert found == [], "import cycles: " + "; ".join(
        " ⇄ ".join(c) + " (" + ", ".join(f"{a}→{b}" for a in c for b in sorted(graph[a] & set(c))) + ")"
        for c in found)


def test_services_and_domain_never_import_the_composition_root():
    graph = import_graph(module_files())

    offenders = sorted(m for m, targets in graph.items()
                       if m.startswith((f"{PACKAGE}.services", f"{PACKAGE}.domain")) and f"{PACKAGE}.deps" in targets)

    assert offenders == []


def test_the_domain_imports_no_adapter_service_api_deps_or_jobs():
    assert layering_violations(import_graph(module_files()), "domain") == []


def test_services_never_import_the_api():
    assert layering_violations(import_graph(module_files()), "services") == []


def test_adapters_never_import_services_or_the_api():
    assert layering_violations(import_graph(module_files()), "adapters") == []


def test_only_adapters_build_keys_or_know_the_table_schema():
    """Repositories are the only code that knows keys and item shapes (issue #9): keys.py and schema.py are imported
    by adapters alone — not by services, the domain, the api, jobs or deps."""
    graph = import_graph(module_files())
    table_modules = {f"{PACKAGE}.adapters.keys", f"{PACKAGE}.adapters.schema"}

    offenders = sorted(m for m, targets in graph.items()
                       if not m.startswith(f"{PACKAGE}.adapters") and targets & table_modules)

    assert offenders == []


def test_the_domain_and_services_import_neither_the_aws_sdk_nor_chalice():
    found = third_party_imports(module_files())

    assert sorted(f"{m} → {', '.join(sorted(found[m] & IO_FRAMEWORKS))}" for m in found
                  if layer_of(m) in ("domain", "services") and found[m] & IO_FRAMEWORKS) == []


# ---- the checker itself finds what it is meant to find -------------------------------------------------------------
def _write(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return module_files(tmp_path)


def test_a_lazy_import_inside_a_function_closes_a_cycle(tmp_path):
    files = _write(tmp_path, {
        "chalicelib/__init__.py": "",
        "chalicelib/deps.py": "def notifications():\n    from chalicelib.adapters.notifications import N\n",
        "chalicelib/adapters/__init__.py": "",
        "chalicelib/adapters/notifications.py": "class N:\n    def f(self):\n        from chalicelib import deps\n",
    })

    assert cycles(import_graph(files)) == [["chalicelib.adapters.notifications", "chalicelib.deps"]]


def test_relative_imports_and_packages_resolve_to_modules(tmp_path):
    files = _write(tmp_path, {
        "chalicelib/__init__.py": "",
        "chalicelib/services/__init__.py": "",
        "chalicelib/services/orders/__init__.py": "from .placing import place\n",
        "chalicelib/services/orders/placing.py": "from ..policies import view\ndef place(): ...\n",
        "chalicelib/services/policies.py": "from chalicelib.services.orders import placing\ndef view(): ...\n",
    })

    graph = import_graph(files)

    assert graph["chalicelib.services.orders"] == {"chalicelib.services.orders.placing"}
    assert graph["chalicelib.services.orders.placing"] == {"chalicelib.services.policies"}
    assert cycles(graph) == [["chalicelib.services.orders.placing", "chalicelib.services.policies"]]


def test_an_import_against_the_layers_is_found_lazy_or_not(tmp_path):
    files = _write(tmp_path, {
        "chalicelib/__init__.py": "",
        "chalicelib/jobs.py": "",
        "chalicelib/domain/__init__.py": "",
        "chalicelib/domain/limits.py": "from chalicelib.adapters.rate_limits import Limit\n",
        "chalicelib/domain/plan.py": "def city():\n    from chalicelib import jobs\n",
        "chalicelib/adapters/__init__.py": "",
        "chalicelib/adapters/rate_limits.py": "from chalicelib.domain.limits import DAY\nclass Limit: ...\n",
        "chalicelib/services/__init__.py": "",
        "chalicelib/services/claims.py": "from ..api import auth\nfrom chalicelib.domain import plan\n",
        "chalicelib/api/__init__.py": "",
        "chalicelib/api/auth.py": "from chalicelib.services import claims\n",
    })

    graph = import_graph(files)

    assert layering_violations(graph, "domain") == ["chalicelib.domain.limits → chalicelib.adapters.rate_limits",
                                                    "chalicelib.domain.plan → chalicelib.jobs"]
    assert layering_violations(graph, "services") == ["chalicelib.services.claims → chalicelib.api.auth"]
    assert layering_violations(graph, "adapters") == []


def test_an_adapter_reaching_into_a_service_is_found_even_lazily(tmp_path):
    files = _write(tmp_path, {
        "chalicelib/__init__.py": "",
        "chalicelib/adapters/__init__.py": "",
        "chalicelib/adapters/repositories/__init__.py": "",
        "chalicelib/adapters/repositories/claims.py": "def outcome():\n    from chalicelib.services import idempotency\n",
        "chalicelib/services/__init__.py": "",
        "chalicelib/services/idempotency.py": "from chalicelib.adapters.repositories import claims\n",
    })

    assert layering_violations(import_graph(files), "adapters") == [
        "chalicelib.adapters.repositories.claims → chalicelib.services.idempotency"]


def test_third_party_imports_are_found_lazy_or_not_and_chalicelibs_own_are_not(tmp_path):
    files = _write(tmp_path, {
        "chalicelib/__init__.py": "",
        "chalicelib/domain/__init__.py": "",
        "chalicelib/domain/plan.py": "import botocore.exceptions\nfrom . import limits\nfrom chalicelib.domain import x\n",
        "chalicelib/domain/limits.py": "def f():\n    from chalice import Response\n",
    })

    found = third_party_imports(files)

    assert found["chalicelib.domain.plan"] == {"botocore"}
    assert found["chalicelib.domain.limits"] == {"chalice"}
