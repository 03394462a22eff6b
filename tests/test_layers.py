"""The house's floors: lower modules never import higher ones, and no modules import each
other in a circle. Read from the source (every import, at the top or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import antechamber

SRC = Path(antechamber.__file__).parent


def _module_of(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(module: str) -> set[str]:
    """Every `antechamber…` module `module` imports, anywhere in its file."""
    base = SRC.parent / Path(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("antechamber")}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: resolve against this package
                package = module.split(".")[: -node.level or None]
                name = ".".join([*package, node.module])
            else:
                name = node.module
            if name.startswith("antechamber"):
                # `from antechamber.webapp import actions` imports the module `actions`;
                # `from antechamber.webapp.errors import Failure` the module `errors`.
                submodules = {
                    f"{name}.{alias.name}"
                    for alias in node.names
                    if (SRC.parent / Path(*f"{name}.{alias.name}".split(".")))
                    .with_suffix(".py")
                    .exists()
                    or (SRC.parent / Path(*f"{name}.{alias.name}".split("."))).is_dir()
                }
                found |= submodules or {name}
    return found


def all_modules() -> list[str]:
    return sorted(_module_of(p) for p in SRC.rglob("*.py") if "migrations/versions" not in str(p))


def test_no_modules_import_each_other_in_a_circle() -> None:
    graph = {m: imports_of(m) for m in all_modules()}
    seen: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            cycle = " -> ".join([*path[path.index(module) :], module])
            raise AssertionError(f"import circle: {cycle}")
        if module in seen:
            return
        for target in sorted(graph.get(module, ())):
            if target in graph:
                visit(target, (*path, module))
        seen.add(module)

    for module in graph:
        visit(module, ())


def test_the_ground_floor_imports_no_floor_above() -> None:
    # db.py: the engine, the unit of work and Base. The table registry (models.py) imports
    # every package's models, which import db.Base; db.py must not import it back. What it
    # does import (errors, how statements run, JSON columns, SQLite's column types and writer
    # lock, PostgreSQL's cursor, the connections its units keep, the engines, PostgreSQL's
    # connection and pool for units on the loop and those units, a unit's connection,
    # transaction and Session) is ground floor too: none of it imports anything of ours but
    # the errors, except the kept connections, the engines, `pg_loop` (the units on the loop),
    # `units`, `statements` (its plans, `statement_plans`), PostgreSQL's cursor (its JSON
    # loader is `json_columns`') and the units on the loop (what the server has in flight,
    # `in_flight`), which import only the ground floor.
    ground = {
        "antechamber.errors",
        "antechamber.statements",
        "antechamber.statement_plans",
        "antechamber.json_columns",
        "antechamber.sqlite_types",
        "antechamber.pg_cursor",
        "antechamber.writer_lock",
        "antechamber.kept_connections",
        "antechamber.engines",
        "antechamber.pg_loop",
        "antechamber.loop_units",
        "antechamber.in_flight",
        "antechamber.units",
    }
    assert imports_of("antechamber.db") <= ground
    layered = {
        "antechamber.errors",
        "antechamber.statements",
        "antechamber.kept_connections",
        "antechamber.engines",
        "antechamber.pg_loop",
        "antechamber.pg_cursor",
        "antechamber.units",
        "antechamber.loop_units",
    }
    for module in ground - layered:
        assert imports_of(module) <= {"antechamber.errors"}, module
    assert imports_of("antechamber.statements") <= {"antechamber.statement_plans"}
    assert imports_of("antechamber.kept_connections") <= ground
    assert imports_of("antechamber.engines") <= ground - {"antechamber.engines"}
    assert imports_of("antechamber.pg_loop") <= ground - {"antechamber.pg_loop"}
    assert imports_of("antechamber.units") <= ground - {"antechamber.units"}
    assert imports_of("antechamber.pg_cursor") <= {"antechamber.json_columns"}
    assert imports_of("antechamber.loop_units") <= {"antechamber.in_flight"}
    assert "antechamber.models" not in imports_of("antechamber.migrations")
    assert "antechamber.models" in imports_of("antechamber.migrations.env")


def test_canonical_forms_are_ground_level() -> None:
    # Delivery, discovery and the faces use them: they are not the members package's rules.
    for module in all_modules():
        assert not imports_of(module) & {"antechamber.members.emails", "antechamber.members.phones"}
    assert imports_of("antechamber.emails") <= {"antechamber.errors"}
    assert imports_of("antechamber.phones") <= {"antechamber.errors"}
    assert not any(
        m.startswith("antechamber.members") for m in imports_of("antechamber.delivery.outbox")
    )
