"""The Python API, for Jupyter and Colab: `labreport.build`, `labreport.render`, `labreport.load`.

    import labreport
    report = labreport.build(quick=True)     # trains, writes output/, shows the report in the cell
    report.pdf("ko")                         # Path of the Korean PDF, to download
    record = labreport.load("output")        # results.json as a dict, shown as a table

The functions do what the commands of the same names do, with the same defaults and the same
files. Settings are keyword arguments named as in `labreport.toml` (`epochs=3`, `hidden_units=32`).
Training prints one line per epoch on stderr and no per-batch line (a notebook cell is not a
terminal), so the cell does not fill up; `progress=False` prints nothing.
"""

from __future__ import annotations

import dataclasses
import html
import shlex
from pathlib import Path
from typing import Iterable

from labreport.core import LabreportError
from labreport.core.config import DEFAULT_OUT, keyword_settings
from labreport.report.numbers import format_number, format_percent
from labreport.report.formats import DEFAULT_FORMATS, FORMATS, LANGUAGES


class Record(dict):
    """`OUT/results.json` as a dict, as `labreport.load` returns it; a notebook shows it as a table."""

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr><td>{}</td><td style='text-align:right'>{}</td><td style='text-align:right'>{}</td>"
            "<td style='text-align:right'>{}</td><td>{}</td></tr>".format(
                html.escape(m["display_name"]), format_number(m["total_params"]), m["best_epoch"],
                format_percent(m["test"]["accuracy"]), html.escape(m.get("device", "")))
            for m in self["models"].values()
        )
        return ("<table><thead><tr><th>model</th><th>parameters</th><th>best epoch</th><th>test accuracy</th>"
                f"<th>trained on</th></tr></thead><tbody>{rows}</tbody></table>"
                f"<p><small>schema version {self['schema_version']}, {html.escape(self['dataset']['location'])}"
                "</small></p>")


class Report:
    """What `build` or `render` wrote; a notebook shows the first language's HTML report inline."""

    def __init__(self, out: Path, files: list[Path], record: Record):
        self.out, self.files, self.record = out, files, record

    def file(self, fmt: str, lang: str = LANGUAGES[0]) -> Path:
        """Path of the report in format `fmt` (any of `labreport.report.formats.FORMATS`: "docx", "hwpx", …) and `lang`."""
        from labreport.report.files import report_file

        if fmt not in FORMATS:
            raise LabreportError(f"no report format {fmt!r}: choose among {', '.join(FORMATS)}")
        path = self.out / report_file(lang, fmt)
        if path not in self.files:
            made = ", ".join(p.name for p in self.files) or "nothing"
            raise LabreportError(f"no {path.name} was written this time (written: {made})")
        return path

    def html(self, lang: str = LANGUAGES[0]) -> Path:
        """Path of the HTML report in `lang`."""
        return self.file("html", lang)

    def pdf(self, lang: str = LANGUAGES[0]) -> Path:
        """Path of the PDF report in `lang` (the file to hand in)."""
        return self.file("pdf", lang)

    def __repr__(self) -> str:
        return f"Report(out={str(self.out)!r}, files={[p.name for p in self.files]!r})"

    def _repr_html_(self) -> str:
        listing = ", ".join(f"<code>{html.escape(str(p))}</code>" for p in self.files)
        pages = [p for p in self.files if p.suffix == ".html"]
        if not pages:
            return f"<p>labreport wrote {listing}</p>"
        # The report is a whole page with its own styles and fonts: in an iframe it cannot restyle the notebook.
        page = pages[0].read_text(encoding="utf-8")
        return (f"<p>labreport wrote {listing}</p>"
                f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:640px;'
                'border:1px solid #ccc" title="labreport report"></iframe>')


def load(out: str | Path = DEFAULT_OUT) -> Record:
    """Reads and checks `OUT/results.json` (any schema version this labreport reads)."""
    from labreport.core import record
    return Record(record.load_record(out))


def render(out: str | Path = DEFAULT_OUT, lang: Iterable[str] = LANGUAGES, formats: Iterable[str] = DEFAULT_FORMATS, *,
           config: str | Path | None = None, notes: dict[str, str | Path] | None = None,
           templates: str | Path | None = None, figures: Iterable[str] = ("svg",)) -> Report:
    """Renders `OUT/results.json` (and `OUT/notes.<lang>.md`) into the reports, like `labreport render`.

    Args:
        lang: report languages; formats: among `labreport.report.formats.FORMATS` ("html", "pdf", "docx", "hwpx").
        config: a labreport.toml whose `[report]` section sets the cover (default ./labreport.toml).
        notes: your own sections by language, e.g. {"ko": "my_notes.md"}.
        templates: a folder searched before the built-in templates and catalogs.
        figures: formats of the figure files in `OUT/figures/` ("svg", "png").
    """
    from labreport import commands
    from labreport.core.config import report_settings

    options = commands.RenderOptions.checked(out, _listed(lang), _listed(formats), templates, notes=notes,
                                             figures=_listed(figures))
    rendered = commands.render(dataclasses.replace(options, report=report_settings(config)))
    return Report(Path(out), rendered.files, Record(rendered.record))


def build(out: str | Path = DEFAULT_OUT, *, quick: bool = False, data: str | Path | None = None,
          data_dir: str | Path | None = None, config: str | Path | None = None, lang: Iterable[str] = LANGUAGES,
          formats: Iterable[str] = DEFAULT_FORMATS, progress: bool = True, **settings) -> Report:
    """Trains every model and renders the report, like `labreport build`.

    Args:
        quick: small models on the IMDB sample shipped with labreport (offline, about a minute).
        data: the Stanford archive `aclImdb_v1.tar.gz` or its folder (default: tensorflow-datasets).
        data_dir: where tensorflow-datasets keeps `imdb_reviews` (default: $TFDS_DATA_DIR).
        config: a labreport.toml (default ./labreport.toml if present).
        progress: one line per epoch on stderr.
        **settings: any setting by its name in labreport.toml, e.g. `epochs=3`, `models=["gru"]`.
    """
    from labreport import commands
    from labreport.core.config import load_config, report_settings
    from labreport.experiment import progress as progress_module

    rendering = commands.RenderOptions.checked(out, _listed(lang), _listed(formats))
    flags, command = keyword_settings(settings)
    configuration = load_config(config, flags, quick=quick)
    rendering = dataclasses.replace(rendering, report=report_settings(config))
    command = ["build", "--out", str(out)] + (["--quick"] if quick else []) + (["--data", str(data)] if data else []) + \
              (["--config", str(config)] if config else []) + command
    # One staged swap, as `labreport build`: the new record and its report replace the previous run
    # together, so a failing render leaves the previous run, not a new record beside old reports.
    rendered = commands.build(configuration, commands.TrainOptions(
        out=Path(out), data=str(data) if data else None, quick=quick, data_dir=str(data_dir) if data_dir else None,
        command="labreport " + shlex.join(command),
        progress=progress_module.to_stderr if progress else (lambda line: None)), rendering)
    return Report(Path(out), rendered.files, Record(rendered.record))


def _listed(values: Iterable[str] | str) -> list[str]:
    return [values] if isinstance(values, str) else list(values)
