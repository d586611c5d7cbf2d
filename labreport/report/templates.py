"""Where the report's templates and catalogs are found, and the sandboxed Jinja2 environment that renders them.

Templates are looked up in order: the user's `--templates` folder first, then the built-in
`templates/`. The environment is sandboxed (templates cannot reach Python internals) and
autoescapes, because review texts are data and may hold markup. A template's error becomes one
line naming the template and its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from labreport.core import LabreportError
from labreport.report import catalog as catalog_module
from labreport.report.numbers import FILTERS

REPORT_TEMPLATE = "report.html"


def builtin_templates() -> Path:
    """The built-in `templates/` folder: beside the package when installed, at the repo top in a checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / REPORT_TEMPLATE).is_file():
            return candidate
    raise LabreportError("labreport's built-in templates are missing; reinstall labreport")


def template_folders(user_templates: str | Path | None = None) -> list[Path]:
    """The folders searched for templates and catalogs, in order: the user's first, then the built-in one."""
    folders = []
    if user_templates is not None:
        folder = Path(user_templates)
        if not folder.is_dir():
            raise LabreportError(f"--templates folder not found: {folder}")
        folders.append(folder)
    folders.append(builtin_templates())
    return folders


def languages(user_templates: str | Path | None = None) -> list[str]:
    """Every language with a catalog in the template folders (built in: en, ko)."""
    return catalog_module.languages_in(template_folders(user_templates))


def load_catalog(lang: str, user_templates: str | Path | None = None) -> catalog_module.Catalog:
    return catalog_module.load_catalog(lang, template_folders(user_templates))


def make_environment(user_templates: str | Path | None = None) -> SandboxedEnvironment:
    """The Jinja2 environment: user folder first, then the built-in templates; autoescape on."""
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in template_folders(user_templates)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def template_error(error: Exception) -> LabreportError:
    """A template's error as one line: the template and its line, or what went wrong while rendering."""
    if isinstance(error, jinja2.TemplateSyntaxError):
        where = f"{error.filename or error.name}, line {error.lineno}"
        return LabreportError(f"template error in {where}: {error.message}")
    if isinstance(error, jinja2.TemplateNotFound):
        return LabreportError(f"template not found: {error.name}")
    # Errors raised while rendering: find the template line in the traceback Jinja rewrote.
    tb, where = error.__traceback__, ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".css")):  # a template's own line, not labreport's
            where = f" in {filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return LabreportError(f"template error{where}: {type(error).__name__}: {error}")


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def template_scripts(env: jinja2.Environment, names: Iterable[str]) -> list[str]:
    """The bodies of the inline scripts written in the templates `names` themselves (not in their data)."""
    bodies = []
    for name in names:
        source = env.loader.get_source(env, name)[0]
        bodies += [body for body in _INLINE_SCRIPT.findall(source) if "{{" not in body and "{%" not in body]
    return bodies
