"""The Python API as a notebook uses it: the Colab cells of docs/notebook.md, run as plain Python on the shipped
sample, as a plain script (no `if __name__ == "__main__":`) under every start method, and as a real
notebook in a Jupyter kernel."""

from __future__ import annotations

import ast
import html
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import labreport
from labreport import LabreportError
from labreport.core import record as record_module

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_PAGE = ROOT / "docs" / "notebook.md"

# Read by `labreport.build(quick=True)` from the working folder (./labreport.toml, over --quick's
# settings), so the documentation's cells run word for word on models small enough to train in seconds.
TINY_LAB = """\
[data]
vocab_size = 500
max_length = 32

[model]
embedding_dim = 8
hidden_units = 4

[train]
epochs = 1
attributions = false
compiled = false
"""


def notebook_page_cells() -> list[str]:
    """The code cells of the notebook page (docs/notebook.md), in order (shell cells start with `!`)."""
    text = NOTEBOOK_PAGE.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def run_cell(source: str, namespace: dict):
    """Runs a cell as Jupyter does: every statement, then the value of a last bare expression."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), namespace)
    if last is not None:
        return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
    return None


@pytest.mark.training
def test_the_documented_colab_cells_build_show_and_download_the_report(tmp_path, monkeypatch, capfd):
    cells = notebook_page_cells()
    assert len(cells) == 3 and cells[0].lstrip().startswith("!pip install")
    downloaded = []
    colab = types.ModuleType("google.colab")
    colab.files = types.SimpleNamespace(download=lambda path: downloaded.append(Path(path)))
    import google  # the namespace package protobuf installs; Colab's module joins it only here

    monkeypatch.setattr(google, "colab", colab, raising=False)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "labreport.toml").write_text(TINY_LAB, encoding="utf-8")

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


def with_labreport_on_path() -> dict:
    """The environment of a process started in another folder that must import this labreport."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


@pytest.mark.training
@pytest.mark.parametrize("start_method", [None, "spawn", "forkserver"])
def test_the_notebook_page_cells_run_as_a_plain_script_under_every_start_method(tmp_path, start_method):
    """Pasted into report.py without a main guard. The report's render workers must not import the
    script again (multiprocessing's spawn and forkserver do, which trained again and stopped at the
    output folder's lock: `RendererStopped`)."""
    if start_method is not None and start_method not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip(f"no {start_method} start method on this platform")
    chosen = f"import multiprocessing\nmultiprocessing.set_start_method({start_method!r})\n" if start_method else ""
    cells = notebook_page_cells()
    script = chosen + cells[1] + '\nprint("PDF", report.pdf("ko"), report.pdf("ko").stat().st_size)\n'
    (tmp_path / "report.py").write_text(script, encoding="utf-8")
    (tmp_path / "labreport.toml").write_text(TINY_LAB, encoding="utf-8")
    done = subprocess.run([sys.executable, "report.py"], cwd=tmp_path, env=with_labreport_on_path(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("wrote output/results.json") == 1, done.stderr  # trained once, not in a worker
    assert "PDF output/report.ko.pdf" in done.stdout
    assert (tmp_path / "output" / "report.ko.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "output" / "report.en.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.training
def test_the_notebook_page_cells_run_in_a_jupyter_kernel(tmp_path, monkeypatch):
    """The notebook page's cells executed end to end by nbclient in an IPython kernel, as Jupyter runs them
    (Colab's download cell replaced by a check that the PDF to download exists)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = notebook_page_cells()
    download = 'from pathlib import Path\nassert Path(report.pdf("ko")).read_bytes().startswith(b"%PDF")\nreport.pdf("ko")'
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cells[1]), nbformat.v4.new_code_cell(download)])
    (tmp_path / "labreport.toml").write_text(TINY_LAB, encoding="utf-8")
    for name, value in with_labreport_on_path().items():  # the kernel inherits this environment
        monkeypatch.setenv(name, value)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on an error in any cell
    [shown] = [output for output in notebook.cells[0].outputs if output["output_type"] == "execute_result"]
    assert '<iframe srcdoc="' in shown["data"]["text/html"] and "BiGRU" in shown["data"]["text/html"]
    [path] = [output for output in notebook.cells[1].outputs if output["output_type"] == "execute_result"]
    assert "report.ko.pdf" in path["data"]["text/plain"]
    assert (tmp_path / "output" / "report.ko.pdf").read_bytes().startswith(b"%PDF")


def test_load_render_and_their_errors(record_dir):
    record = labreport.load(record_dir)
    written = json.loads((record_dir / "results.json").read_text(encoding="utf-8"))
    assert record == written and record["schema_version"] <= record_module.SCHEMA_VERSION
    assert "<table>" in record._repr_html_()
    report = labreport.render(record_dir, lang=["en"], formats=["html"])
    assert report.html("en") == Path(record_dir) / "report.en.html"
    with pytest.raises(LabreportError, match="no report.en.pdf was written"):
        report.pdf("en")
    with pytest.raises(LabreportError, match="no report.en.docx was written"):
        report.file("docx", "en")
    with pytest.raises(LabreportError, match="no report format 'rtf': choose among html, pdf, docx, hwpx"):
        report.file("rtf", "en")
    word = labreport.render(record_dir, lang=["en"], formats=["docx"])
    assert word.file("docx", "en").read_bytes().startswith(b"PK")
    with pytest.raises(LabreportError, match="unknown language 'fr'"):
        labreport.render(record_dir, lang=["fr"])
    with pytest.raises(LabreportError, match=r"unknown format 'rtf': choose among html, pdf, docx, hwpx"):
        labreport.render(record_dir, formats="rtf")
    with pytest.raises(LabreportError, match=r"unknown setting 'epoch' \(did you mean epochs\?\)"):
        labreport.build(record_dir, quick=True, epoch=2)
    with pytest.raises(AttributeError):
        labreport.no_such_function  # noqa: B018
