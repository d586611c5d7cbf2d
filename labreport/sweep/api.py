"""`labreport.sweep(...)` in a notebook: the command `labreport sweep`, with the same defaults and files.

    import labreport
    result = labreport.sweep(vary={"max_length": [100, 300, 800]}, seeds=2, models=["rnn", "gru", "lstm"],
                             quick=True)
    result                  # the sweep's accuracy table, and its report in the cell
    result.pdf("ko")        # the Korean PDF, to download
    result.file("docx", "en")  # any format asked for with formats=[...], e.g. "docx", "hwpx"
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Iterable

from labreport.core import LabreportError
from labreport.core.config import SWEEP_OUT
from labreport.report.formats import DEFAULT_FORMATS, FORMATS, LANGUAGES
from labreport.report.numbers import format_percent


class SweepReport:
    """What a sweep wrote: `summary` is `OUT/sweep.json`; a notebook shows its table and its report."""

    def __init__(self, out: Path, summary: dict, outcomes: list):
        self.out, self.summary, self.outcomes = out, summary, outcomes

    def file(self, fmt: str, lang: str = LANGUAGES[0]) -> Path:
        """Path of the sweep report in format `fmt` (any of `labreport.report.formats.FORMATS`) and `lang`.

        Raises:
            LabreportError: a format that is not one (one line).
        """
        if fmt not in FORMATS:
            raise LabreportError(f"no report format {fmt!r}: choose among {', '.join(FORMATS)}")
        return self.out / f"sweep.{lang}.{fmt}"

    def html(self, lang: str = LANGUAGES[0]) -> Path:
        return self.file("html", lang)

    def pdf(self, lang: str = LANGUAGES[0]) -> Path:
        return self.file("pdf", lang)

    @property
    def failed(self) -> list[str]:
        """The ids of the runs that failed (their reasons are in `summary["runs"]`)."""
        return [run["id"] for run in self.summary["runs"] if run["status"] == "failed"]

    def __repr__(self) -> str:
        return f"SweepReport(out={str(self.out)!r}, runs={len(self.summary['runs'])}, failed={len(self.failed)})"

    def _repr_html_(self) -> str:
        names = self.summary["display_names"]
        head = "".join(f"<th>{html.escape(names[m])}</th>" for m in self.summary["models"])
        rows = ""
        for point in self.summary["points"]:
            label = ", ".join(f"{k}={v}" for k, v in point["point"].items()) or "–"
            cells = "".join(f"<td style='text-align:right'>{format_percent(point['models'][m]['accuracy']['mean'])}</td>"
                            for m in self.summary["models"])
            rows += f"<tr><td>{html.escape(label)}</td>{cells}</tr>"
        table = f"<table><thead><tr><th>grid point</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
        page = next((self.html(lang) for lang in self.summary["languages"] if self.html(lang).is_file()), None)
        if page is None:
            return table
        return (table + f'<iframe srcdoc="{html.escape(page.read_text(encoding="utf-8"), quote=True)}" '
                'style="width:100%;height:640px;border:1px solid #ccc" title="labreport sweep report"></iframe>')


def sweep(vary: dict[str, list] | None = None, *, out: str | Path = SWEEP_OUT, quick: bool = False,
          data: str | Path | None = None, data_dir: str | Path | None = None, config: str | Path | None = None,
          address: str | None = None, cpus_per_run: int | None = None, keep_models: bool = False,
          lang: Iterable[str] = LANGUAGES, formats: Iterable[str] = DEFAULT_FORMATS, progress: bool = True,
          **settings) -> SweepReport:
    """Trains a grid of runs on Ray and writes the sweep report, like `labreport sweep`.

    Args:
        vary: {setting: values}, e.g. {"max_length": [100, 300]}; default the `[sweep]` table's `vary`.
        out: the sweep's folder; a second call trains only the runs that are not complete.
        quick: the IMDB sample shipped with labreport and small models (offline).
        data, data_dir, config: as for `labreport.build`.
        address: a running Ray cluster (default: $RAY_ADDRESS, else a local instance).
        cpus_per_run: Ray CPUs and TensorFlow threads of each run (default 1).
        keep_models: keep each run's trained models.
        lang, formats: the report's languages and formats (html, pdf by default; docx and hwpx on request).
        progress: one line per finished run on stderr.
        **settings: any setting by its name in labreport.toml, e.g. `seeds=2`, `models=["gru", "lstm"]`.
    """
    import sys

    from labreport.core.config import keyword_settings
    from labreport.sweep import command as command_module
    from labreport.sweep import summary as summary_module

    flags, words = keyword_settings(settings)
    command = ["sweep", "--out", str(out), *(["--quick"] if quick else []), *(["--data", str(data)] if data else []),
               *words, *[f"--vary={key}={','.join(map(str, values))}" for key, values in (vary or {}).items()]]
    request = command_module.SweepRequest(out=out, vary=vary, settings=flags, config=config, quick=quick, data=data,
                                          data_dir=data_dir, address=address, cpus_per_run=cpus_per_run,
                                          keep_models=keep_models, languages=_listed(lang), formats=_listed(formats),
                                          command=tuple(command))
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if progress else (lambda line: None)
    swept = command_module.sweep(request, say)
    summary = summary_module.load_summary(out) if (Path(out) / summary_module.SUMMARY_FILE).is_file() else {}
    return SweepReport(Path(out), summary, swept.outcomes)


def _listed(values: Iterable[str] | str) -> list[str]:
    """A list of names, or one name, each of which may also be a comma-separated list ("ko,en")."""
    from labreport.core.config import comma_list

    return [name for value in ([values] if isinstance(values, str) else values) for name in comma_list(value)]
