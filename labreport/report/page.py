"""One page renderer for every page labreport writes (the report, the sweep report, the course site).

A page is a template of the sandboxed environment (`labreport.report.templates`) rendered with its
context; a template's error becomes one line naming the template and its line. A page that is to be
read as a file gets the font embedded and a Content-Security-Policy allowing only the scripts
written in its templates (`labreport.report.embedding`).
"""

from __future__ import annotations

import re

import jinja2

from labreport.report.embedding import with_content_security_policy, with_embedded_font
from labreport.report.numbers import join_numbers
from labreport.report.templates import template_error, template_scripts

_TAG = re.compile(r"(<[^>]*>)")
_NOT_PROSE = ("style", "script", "svg", "pre", "textarea", "title")
"""Elements whose text is not the page's prose: styles, scripts, figures' labels, code as printed."""


def with_joined_numbers(page: str) -> str:
    """The page with every number joined to its sign and unit in the prose (`numbers.join_numbers`)."""
    parts = _TAG.split(page)
    inside = None
    for index, part in enumerate(parts):
        if index % 2:  # a tag
            name = re.match(r"<(/?)\s*([A-Za-z][\w:-]*)", part)
            if name and inside is None and not name[1] and name[2].lower() in _NOT_PROSE and not part.endswith("/>"):
                inside = name[2].lower()
            elif name and name[1] and name[2].lower() == inside:
                inside = None
        elif inside is None and part:
            parts[index] = join_numbers(part)
    return "".join(parts)


def render_template(env: jinja2.Environment, name: str, context: dict) -> str:
    """The template `name` rendered with `context`.

    Raises:
        LabreportError: the template's error, in one line.
    """
    try:
        page = env.get_template(name).render(context)
    except jinja2.TemplateError as error:
        raise template_error(error) from error
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise template_error(error) from error
    return with_joined_numbers(page)


def finish_page(env: jinja2.Environment, html: str, name: str) -> str:
    """The page `name` rendered as a file to read: its font embedded and its Content-Security-Policy set."""
    return with_content_security_policy(with_embedded_font(html), template_scripts(env, ("base.html", name)))
