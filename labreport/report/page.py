"""One page renderer for every page labreport writes (the report, the sweep report, the course site).

A page is a template of the sandboxed environment (`labreport.report.templates`) rendered with its
context; a template's error becomes one line naming the template and its line. A page that is to be
read as a file gets the font embedded and a Content-Security-Policy allowing only the scripts
written in its templates (`labreport.report.embedding`).
"""

from __future__ import annotations

import jinja2

from labreport.report.embedding import with_content_security_policy, with_embedded_font
from labreport.report.templates import template_error, template_scripts


def render_template(env: jinja2.Environment, name: str, context: dict) -> str:
    """The template `name` rendered with `context`.

    Raises:
        LabreportError: the template's error, in one line.
    """
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateError as error:
        raise template_error(error) from error
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise template_error(error) from error


def finish_page(env: jinja2.Environment, html: str, name: str) -> str:
    """The page `name` rendered as a file to read: its font embedded and its Content-Security-Policy set."""
    return with_content_security_policy(with_embedded_font(html), template_scripts(env, ("base.html", name)))
