"""No module reaches into another's private names: what one module lends another is public, or it moves."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "labreport"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_uses(path: Path, here: str) -> list[str]:
    """`from labreport.x import _name` and `module._name` where `module` is a labreport module this file
    imported; `here` is the file's own module name (its own private names are its own)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:  # relative: resolved against this module's package
                package = here.split(".")[: len(here.split(".")) - node.level + (path.name == "__init__.py")]
                source = ".".join([*package, *([source] if source else [])])
            if not source.startswith("labreport"):
                continue
            for alias in node.names:
                if _private(alias.name) and source != here:
                    found.append(f"{path.name}:{node.lineno} imports {alias.name} from {source}")
                elif not _private(alias.name):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("labreport"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and _private(node.attr)
                and isinstance(node.value, (ast.Name, ast.Attribute)) and ast.unparse(node.value) in modules):
            found.append(f"{path.name}:{node.lineno} reads {ast.unparse(node)}")
    return found


def test_no_module_imports_another_modules_private_names():
    found = [f"{path.relative_to(PACKAGE.parent)}: {use}" for path in sorted(PACKAGE.rglob("*.py"))
             for use in private_uses(path, _module_name(path))]
    assert found == []


def test_the_scan_sees_both_ways_in(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("from labreport.core.record import _validator\n"
                       "from ..core import _private_helper\n"
                       "from labreport.core import record\n"
                       "record._shown(1)\n", encoding="utf-8")
    assert [use.split(" ", 1)[1] for use in private_uses(planted, "labreport.sweep.planted")] == [
        "imports _validator from labreport.core.record", "imports _private_helper from labreport.core",
        "reads record._shown"]
    # A module's own private names are its own.
    own = tmp_path / "own.py"
    own.write_text("from labreport.core.record import _validator\n", encoding="utf-8")
    assert private_uses(own, "labreport.core.record") == []
