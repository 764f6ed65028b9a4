"""Architecture: layers run one way (dsl → compiler → generated code → runtime; CLI on top)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from exportc import codes

PACKAGE = ROOT / "exportc"
# For each layer, the exportc modules it must never import.
_FRONT_DOORS = ("exportc.cli", "exportc.orchestrate", "exportc.workbench", "exportc.lsp")
FORBIDDEN = {
    "dsl": ("exportc.compiler", "exportc.runtime", *_FRONT_DOORS, "lxml", "xmlschema"),
    "compiler": ("exportc.runtime", *_FRONT_DOORS),
    "runtime": ("exportc.compiler", "exportc.dsl", *_FRONT_DOORS, "lark", "xmlschema"),
    # the language server checks profiles; it never runs one
    "lsp": ("exportc.runtime", "exportc.cli", "exportc.orchestrate", "exportc.workbench"),
    "workbench": ("exportc.cli", "exportc.orchestrate", "exportc.lsp"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_wrong_way_imports() -> None:
    wrong = []
    for layer, forbidden in FORBIDDEN.items():
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for name in _imports(path):
                if name.startswith(forbidden):
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_diagnostics_page_is_current() -> None:
    assert (ROOT / "docs" / "diagnostics.md").read_text("utf-8") == codes.markdown()


def test_only_the_cli_imports_the_console() -> None:
    """exportc/web is a front door like the CLI: nothing below it may depend on it."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        inside = PACKAGE / "web" in path.parents or path == PACKAGE / "cli.py"
        if not inside and any(n.startswith("exportc.web") for n in _imports(path)):
            wrong.append(str(path.relative_to(ROOT)))
    assert wrong == []


def test_starting_the_cli_loads_no_command_s_libraries() -> None:
    """Every command imports what it needs when it runs: `exportc check` does not load the
    console's Argon2, web server or database libraries (start-up time, and a command that never
    needs them works without them)."""
    heavy = ("argon2", "starlette", "uvicorn", "jinja2", "pygls", "sqlalchemy", "lxml", "msgspec")
    probe = f"import sys, exportc.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# The compiler's passes and its schema model (a cached compile checks a schema by its digest,
# compiler/schemafiles.py), and Pydantic (typer's coercion: exportc.typerfast spares our commands it).
_HEAVY = ("lark", "exportc.compiler.pipeline", "exportc.compiler.codegen", "exportc.compiler.schema", "pydantic")
_COLD = "LOADED ['exportc.compiler.codegen', 'exportc.compiler.pipeline', 'exportc.compiler.schema', 'lark']"
# What only a profile writing a document per record uses: lxml's in-memory validation, the
# Schematron workers, the zip (runtime/execute.py imports them in _documents).
_DOCUMENTS = ("exportc.runtime.documents", "exportc.runtime.schematron", "exportc.runtime.bundle")


def _loaded_twice(args: list[str], tmp_path: Path, modules: tuple[str, ...] = _HEAVY) -> list[str]:
    """The command run twice in new processes sharing one cache: which of the compiler's
    modules (and Pydantic) each loaded."""
    probe = (
        "import sys\n"
        "from exportc.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print('LOADED', sorted(m for m in {modules!r} if m in sys.modules), file=sys.stderr)\n")
    env = {**os.environ, "EXPORTC_CACHE_DIR": str(tmp_path / "cache"), "EXPORTC_RUN_STORE": str(tmp_path / "runs")}
    loaded = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env,
                             cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        loaded.append(out.stderr.strip().splitlines()[-1])
    return loaded


def test_a_warm_run_does_not_load_the_compiler(tmp_path: Path) -> None:
    """A profile found in the compiled-profile cache runs without importing the compiler's
    passes or lark (start-up time of every warm `exportc run`); a cold one compiles. Neither
    imports Pydantic, nor, for a profile that writes one document, what only a profile writing a
    document per record needs."""
    examples = ROOT / "examples" / "i-reserve"
    args = ["run", str(ROOT / "profiles" / "exact-online" / "exact-online.map"), "--param", "invoice_export=true",
            "--source", f"customers={examples / 'customers.jsonl'}",
            "--source", f"invoices={examples / 'invoices.jsonl'}", "--db", str(tmp_path / "h.db")]
    assert _loaded_twice(args, tmp_path, (*_HEAVY, *_DOCUMENTS)) == [_COLD, "LOADED []"]


def test_a_warm_check_does_not_load_the_compiler(tmp_path: Path) -> None:
    """`exportc check` of the shipped profiles (the Peppol one has two document kinds) is
    answered from the cache once it is warm: none of the compiler's passes is imported."""
    assert _loaded_twice(["check", str(ROOT / "profiles")], tmp_path) == [_COLD, "LOADED []"]


def test_commands_that_touch_no_history_do_not_load_sqlalchemy(tmp_path: Path) -> None:
    """`exportc params` and `exportc run PROFILE --help` read a profile, never a history: with a
    warm cache they load neither SQLAlchemy nor the compiler's passes."""
    exact = str(ROOT / "profiles" / "exact-online" / "exact-online.map")
    for args in (["params", exact], ["run", exact, "--help"]):
        assert _loaded_twice(args, tmp_path, ("sqlalchemy", *_HEAVY))[1] == "LOADED []", args
