"""The Python API as a notebook uses it: the README's Colab cells, run as plain Python on the shipped sample."""

from __future__ import annotations

import ast
import html
import re
import sys
import types
from pathlib import Path

import pytest

import labreport
from labreport import LabreportError
from labreport.core import record as record_module

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_cells() -> list[str]:
    """The code cells of the README's notebook section, in order (shell cells start with `!`)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## In Jupyter or Colab"):]
    section = section[:section.index("\n## ", 3)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_cell(source: str, namespace: dict):
    """Runs a cell as Jupyter does: every statement, then the value of a last bare expression."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), namespace)
    if last is not None:
        return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
    return None


@pytest.mark.training
def test_the_readme_colab_cells_build_show_and_download_the_report(tmp_path, monkeypatch, capfd):
    cells = readme_cells()
    assert len(cells) == 3 and cells[0].lstrip().startswith("!pip install")
    downloaded = []
    colab = types.ModuleType("google.colab")
    colab.files = types.SimpleNamespace(download=lambda path: downloaded.append(Path(path)))
    import google  # the namespace package protobuf installs; Colab's module joins it only here

    monkeypatch.setattr(google, "colab", colab, raising=False)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.chdir(tmp_path)

    namespace: dict = {}
    shown = run_cell(cells[1], namespace)
    page = shown._repr_html_()
    assert '<iframe srcdoc="' in page
    assert html.escape("BiGRU") in page and "<script" not in page.split('srcdoc="', 1)[0]
    assert html.unescape(page.split('srcdoc="', 1)[1].split('"', 1)[0]).startswith("<!DOCTYPE html>")
    run_cell(cells[2], namespace)
    assert [p.resolve() for p in downloaded] == [tmp_path / "output" / "report.ko.pdf"]
    assert downloaded[0].read_bytes().startswith(b"%PDF")

    # Progress in a cell: one line per step, no per-batch redraws, no TensorFlow start-up noise.
    err = capfd.readouterr().err
    assert "\r" not in err
    assert len(err.splitlines()) < 40, err
    assert "cuInit" not in err and "absl" not in err

    record = labreport.load(tmp_path / "output")
    assert record["models"]["gru"]["device"] == "CPU"
    assert "BiLSTM" in record._repr_html_()
    assert record["environment"]["command"] == "labreport build --out output --quick"


def test_load_render_and_their_errors(record_dir):
    record = labreport.load(record_dir)
    assert record["schema_version"] == record_module.SCHEMA_VERSION and "<table>" in record._repr_html_()
    report = labreport.render(record_dir, lang=["en"], formats=["html"])
    assert report.html("en") == Path(record_dir) / "report.en.html"
    with pytest.raises(LabreportError, match="no report.en.pdf was written"):
        report.pdf("en")
    with pytest.raises(LabreportError, match="unknown language 'fr'"):
        labreport.render(record_dir, lang=["fr"])
    with pytest.raises(LabreportError, match=r"unknown format 'docx': choose among html, pdf"):
        labreport.render(record_dir, formats="docx")
    with pytest.raises(LabreportError, match=r"unknown setting 'epoch' \(did you mean epochs\?\)"):
        labreport.build(record_dir, quick=True, epoch=2)
    with pytest.raises(AttributeError):
        labreport.no_such_function  # noqa: B018
