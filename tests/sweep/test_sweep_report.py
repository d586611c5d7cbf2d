"""The sweep report from edited records, without training: sentences flip when the numbers do.

Each test builds the grid the sweep would build, gives every run a copy of the checked-in record
with its test accuracies (and gradient flow) edited, and reads what the report says.
"""

from __future__ import annotations

import copy
import json
import os
import re

import pytest

from labreport import LabreportError
from labreport.core import cells
from labreport.report import templates as templates_module
from labreport.sweep import grid as grid_module
from labreport.sweep import outline
from labreport.sweep import summary as summary_module
from labreport.sweep.driver import Outcome

MODELS = ["rnn", "gru", "lstm"]
NOISE = {42: 0.002, 43: -0.002}
"""Seed-to-seed variation added to every accuracy: 0.28 points of sd between two seeds."""


@pytest.fixture
def lab_grid(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no labreport.toml of the repository's
    flags = {"model": {"models": MODELS}, "train": {"seeds": 2}}
    return grid_module.build_grid({"max_length": [100, 800]}, flags, quick=True)


def outcomes(record: dict, grid, accuracy, middle_share=None) -> list[Outcome]:
    """One complete outcome per run: the checked-in record with each model's accuracy set to
    `accuracy(model, max_length) + NOISE[seed]` and, given `middle_share(model, max_length)`, its
    gradient flow shaped so the middle third holds that share of the ends' gradient."""
    result = []
    for spec in grid.runs:
        edited = copy.deepcopy(record)
        edited["config"] = spec.config.to_dict()
        length = dict(spec.point)["max_length"]
        models = {}
        for name in MODELS:
            entry = copy.deepcopy(record["models"].get(name) or record["models"]["gru"])
            entry.update(name=name, display_name={"rnn": "BiRNN", "gru": "BiGRU", "lstm": "BiLSTM"}[name])
            entry["test"]["accuracy"] = accuracy(name, length) + NOISE[spec.seed]
            if middle_share is not None:
                share = middle_share(name, length)
                entry["gradient_flow"] = {"reviews": 64, "norms": [1.0] * 10 + [share] * 10 + [1.0] * 10}
            models[name] = entry
        edited["models"] = models
        result.append(Outcome(spec, "complete", attempts=1, record=edited))
    return result


def said(summary: dict, lang: str = "en") -> str:
    """Every sentence and table cell of the report, as plain text."""
    catalog = templates_module.load_catalog(lang)
    parts = []
    for section in outline.outline(summary, catalog, lang):
        for block in section["blocks"]:
            if block["kind"] == "paragraph":
                parts.append(str(block["html"]))
            elif block["kind"] == "table":
                parts += [str(cell["html"]) for row in block["rows"] for cell in row["cells"]]
    return re.sub(r"<[^>]+>", "", " ".join(parts))


def build(record, grid, accuracy, middle_share=None) -> dict:
    summary = summary_module.build(grid, outcomes(record, grid, accuracy, middle_share))
    return summary_module.validate_summary(json.loads(summary_module.summary_json(summary)))


def gated_lead(gru, lstm, rnn_short, rnn_long):
    return lambda model, length: {"gru": gru, "lstm": lstm}.get(model, rnn_short if length == 100 else rnn_long)


def test_the_leader_flips_with_the_accuracies(record, lab_grid):
    gru_ahead = said(build(record, lab_grid, gated_lead(0.86, 0.82, 0.70, 0.70)))
    assert "BiGRU led BiLSTM at 2 of 2 grid points" in gru_ahead
    assert "BiLSTM never led the BiGRU by more than the seeds' spread" in gru_ahead
    lstm_ahead = said(build(record, lab_grid, gated_lead(0.82, 0.86, 0.70, 0.70)))
    assert "BiLSTM led BiGRU at 2 of 2 grid points" in lstm_ahead
    assert "The BiLSTM led the BiGRU at 2 of 2 grid points" in lstm_ahead
    assert "BiGRU led BiLSTM" not in lstm_ahead


def test_a_difference_within_the_seeds_spread_cannot_tell(record, lab_grid):
    """0.1 points apart on average, but the two models' seeds move in opposite directions."""
    accuracy = lambda model, length: {"gru": 0.801, "lstm": 0.800}.get(model, 0.7)  # noqa: E731
    steady = said(build(record, lab_grid, accuracy))
    assert "BiGRU led BiLSTM at 2 of 2 grid points" in steady  # the same shift per seed cancels in the pairing
    outs = outcomes(record, lab_grid, accuracy)
    for outcome in outs:
        outcome.record["models"]["lstm"]["test"]["accuracy"] = 0.800 - 2 * NOISE[outcome.spec.seed]
    unclear = said(summary_module.build(lab_grid, outs))
    assert "At 2 of 2 grid points the data cannot tell BiGRU and BiLSTM apart" in unclear
    assert "BiGRU led BiLSTM" not in unclear


def test_the_trend_sentence_flips_with_the_numbers(record, lab_grid):
    rising = said(build(record, lab_grid, lambda model, length: (0.80 if length == 100 else 0.86) - (model == "rnn") * 0.1))
    assert "From max_length = 100 to 800, accuracy rose by more than the seeds' spread: BiRNN from 70.00% to 76.00% (6.00 points)" in rising
    falling = said(build(record, lab_grid, lambda model, length: 0.86 if length == 100 else 0.80))
    assert "accuracy fell by more than the seeds' spread" in falling and "rose" not in falling
    flat = said(build(record, lab_grid, lambda model, length: 0.80 if length == 100 else 0.801))
    assert "accuracy changed within the seeds' spread" in flat


def test_models_whose_accuracy_went_the_same_way_share_one_sentence(record, lab_grid):
    """Each model with its own numbers in one sentence; a model that went another way has its own."""
    accuracy = lambda model, length: {"rnn": (0.80, 0.60), "gru": (0.80, 0.86), "lstm": (0.78, 0.88)}[model][length != 100]  # noqa: E731
    summary = build(record, lab_grid, accuracy)
    en, ko = said(summary), said(summary, "ko")
    assert ("From max_length = 100 to 800, accuracy rose by more than the seeds' spread: "
            "BiGRU from 80.00% to 86.00% (6.00 points), BiLSTM from 78.00% to 88.00% (10.00 points). Each scored highest at 800.") in en
    assert "BiRNN went from 80.00% at max_length = 100 to 60.00% at 800, a fall of 20.00 points" in en
    assert ("max_length = 100에서 800으로 가면서 정확도는 BiGRU가 80.00%에서 86.00%로 6.00%p, "
            "BiLSTM이 78.00%에서 88.00%로 10.00%p 올랐고, 모두 시드에 따른 변동보다 크다. 가장 높았던 곳은 모두 800이다.") in ko
    assert "BiRNN의 정확도는 max_length = 100에서 80.00%, 800에서 60.00%로 20.00%p 떨어졌고" in ko
    assert "BiGRU의 정확도는" not in ko and "BiLSTM의 정확도는" not in ko
    # The BiLSTM's accuracy falls too: it leaves the BiGRU's sentence and joins the BiRNN's.
    flipped = lambda model, length: {"rnn": (0.80, 0.60), "gru": (0.80, 0.86), "lstm": (0.88, 0.78)}[model][length != 100]  # noqa: E731
    ko = said(build(record, lab_grid, flipped), "ko")
    assert ("정확도는 BiRNN이 80.00%에서 60.00%로 20.00%p, BiLSTM이 88.00%에서 78.00%로 10.00%p 떨어졌고, "
            "모두 시드에 따른 변동보다 크다. 가장 높았던 곳은 모두 100이다.") in ko
    assert "BiGRU의 정확도는 max_length = 100에서 80.00%, 800에서 86.00%로 6.00%p 올랐고" in ko


def test_the_gated_lead_over_the_rnn_grows_or_shrinks_with_the_numbers(record, lab_grid):
    grows = said(build(record, lab_grid, gated_lead(0.85, 0.85, 0.80, 0.60)))
    assert ("From 100 to 800 tokens, the lead over the plain BiRNN grew by more than the seeds' spread, as the claim "
            "predicts: BiGRU's from 5.00 to 25.00 points, BiLSTM's from 5.00 to 25.00 points.") in grows
    shrinks = said(build(record, lab_grid, gated_lead(0.85, 0.85, 0.60, 0.80)))
    assert "shrank by more than the seeds' spread, against what the claim predicts" in shrinks


def test_gated_leads_that_went_the_same_way_share_one_sentence(record, lab_grid):
    both = said(build(record, lab_grid, gated_lead(0.85, 0.83, 0.80, 0.60)), "ko")
    assert ("토큰 100개에서 800개로 가면서 기본 BiRNN에 대한 우위는 BiGRU가 5.00%p에서 25.00%p로, "
            "BiLSTM이 3.00%p에서 23.00%p로 벌어졌다. 모두 시드에 따른 변동보다 크게 벌어졌으므로") in both
    assert "기본 BiRNN에 대한 BiGRU의 우위는" not in both
    # The BiLSTM's lead shrinks where the BiGRU's grows: two sentences, each of one model.
    accuracy = lambda model, length: {"gru": (0.85, 0.85), "lstm": (0.90, 0.55), "rnn": (0.80, 0.60)}[model][length != 100]  # noqa: E731
    split = said(build(record, lab_grid, accuracy), "ko")
    assert "기본 BiRNN에 대한 BiGRU의 우위는 토큰 100개에서 5.00%p, 800개에서 25.00%p였다. 시드에 따른 변동보다 크게 벌어졌으므로" in split
    assert "기본 BiRNN에 대한 BiLSTM의 우위는 토큰 100개에서 10.00%p, 800개에서 −5.00%p였다." in split
    assert "모두 시드에 따른" not in split.split("실습의 주장은")[1].split("주장이 가리키는")[0]


def test_the_gradient_sentence_follows_the_measure(record, lab_grid):
    accuracy = gated_lead(0.85, 0.85, 0.80, 0.60)
    vanishing = said(build(record, lab_grid, accuracy, lambda model, length: 0.01 if model == "rnn" else 0.5))
    assert ("From 100 to 800 tokens, that share went from 1.0% to 1.0% for BiRNN, from 50.0% to 50.0% for BiGRU, "
            "from 50.0% to 50.0% for BiLSTM.") in vanishing
    ko = said(build(record, lab_grid, accuracy, lambda model, length: {"rnn": 0.01, "gru": 0.5}.get(model, 0.3 if length == 100 else 0.4)), "ko")
    assert "토큰 100개에서 800개로 가면서 이 비율은 BiRNN이 1.0%에서 1.0%로, BiGRU가 50.0%에서 50.0%로, BiLSTM이 30.0%에서 40.0%로 바뀌었다." in ko
    assert "BiRNN:" not in ko
    assert "the plain RNN's gradient reached the middle least" in vanishing
    not_vanishing = said(build(record, lab_grid, accuracy, lambda model, length: 0.9 if model == "rnn" else 0.5))
    assert "did not reach the middle less than the gated models' did" in not_vanishing


def test_one_seed_says_it_cannot_tell(record, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = grid_module.build_grid({"max_length": [100, 800]}, {"model": {"models": MODELS}}, quick=True)
    text = said(build(record, grid, gated_lead(0.86, 0.82, 0.80, 0.60)))
    assert "with one seed per point there is no spread" in text
    assert "cannot compare the BiGRU and the BiLSTM" in text
    assert "Each grid point was trained with a single seed" in text
    # Said once for the three pairs, not once per pair.
    assert text.count("At 2 grid points there was a single seed, so no two models were compared there.") == 1
    assert "no comparison was made there" not in text
    assert said(build(record, grid, gated_lead(0.86, 0.82, 0.80, 0.60)), "ko").count("시드가 하나뿐이어서") == 1
    assert not re.search(r"Bi(RNN|GRU|LSTM) led", text)


def test_korean_sentences_take_the_right_particles(record, lab_grid):
    text = said(build(record, lab_grid, gated_lead(0.82, 0.86, 0.70, 0.70)), "ko")
    assert "BiLSTM이 BiGRU를 앞선 격자점은 2개 중 2개다" in text
    assert "BiRNN이 BiGRU를" not in text


def test_the_report_numbers_are_the_edited_numbers(record, lab_grid):
    summary = build(record, lab_grid, gated_lead(0.86, 0.82, 0.70, 0.60))
    point = next(p for p in summary["points"] if p["point"] == {"max_length": 800})
    assert point["models"]["rnn"]["accuracy"]["values"] == [0.602, 0.598]
    assert "60.00% ± 0.28% (n=2)" in said(summary)


def test_no_placeholder_reaches_either_page(record, lab_grid):
    from labreport.sweep import report

    summary = build(record, lab_grid, gated_lead(0.86, 0.82, 0.70, 0.60), lambda m, n: 0.2)
    for lang in ("ko", "en"):
        page = report.render_page(summary, lang, None, inline=True)
        assert "Content-Security-Policy" in page
        assert not re.search(r"\{[a-z_]+\}", re.sub(r"<(style|svg|script)\b.*?</\1>", "", page, flags=re.S))


def test_a_page_with_an_unfilled_placeholder_is_refused(record, lab_grid, tmp_path):
    from labreport.sweep import report

    templates = tmp_path / "templates"
    (templates / "lang").mkdir(parents=True)
    catalog = (templates_module.builtin_templates() / "lang" / "en.toml").read_text(encoding="utf-8")
    catalog = catalog.replace('[sweep.runs]\nintro = "', '[sweep.runs]\nintro = "{{literal}} ')
    (templates / "lang" / "en.toml").write_text(catalog, encoding="utf-8")
    summary = build(record, lab_grid, gated_lead(0.86, 0.82, 0.70, 0.60))
    with pytest.raises(LabreportError, match=r"unfilled placeholder \{literal\}"):
        report.render_page(summary, "en", str(templates), inline=True)


# ---------------------------------------------------------------------------------------------
# sweep.json: its schema, written and read


def test_sweep_json_is_checked_when_written_and_read(record, lab_grid, tmp_path):
    summary = summary_module.build(lab_grid, outcomes(record, lab_grid, gated_lead(0.86, 0.82, 0.7, 0.6)))
    (tmp_path / "sweep.json").write_text(summary_module.summary_json(summary), encoding="utf-8")
    assert summary_module.load_summary(tmp_path)["points"] == summary["points"]
    broken = copy.deepcopy(summary)
    broken["runs"][0]["models"]["gru"]["accuracy"] = 1.5
    with pytest.raises(LabreportError, match=r"runs\.0\.models\.gru\.accuracy should be at most 1"):
        summary_module.summary_json(broken)
    text = (tmp_path / "sweep.json").read_text(encoding="utf-8")
    (tmp_path / "sweep.json").write_text(text.replace('"mean": 0.', '"mean": NaN, "x": 0.', 1), encoding="utf-8")
    with pytest.raises(LabreportError, match="is NaN"):
        summary_module.load_summary(tmp_path)


def test_sweep_json_refuses_a_cell_the_registry_lacks(record, lab_grid):
    # sweep.schema.json lists no cells: labreport fills `$defs/cell_name` from labreport.core.cells.
    summary = summary_module.build(lab_grid, outcomes(record, lab_grid, gated_lead(0.86, 0.82, 0.7, 0.6)))
    assert summary["sweep_version"] == summary_module.SUMMARY_VERSION == 2
    broken = copy.deepcopy(summary)
    broken["models"][0] = "mgu"
    listed = ", ".join(json.dumps(name) for name in cells.NAMES)
    with pytest.raises(LabreportError, match=rf'^sweep.json: models.0 is "mgu", not one of {listed}$'):
        summary_module.summary_json(broken)
    broken = copy.deepcopy(summary)
    broken["runs"][0]["models"]["mgu"] = broken["runs"][0]["models"]["gru"]
    with pytest.raises(LabreportError, match=r'^sweep.json: runs.0.models has the key "mgu", not one of'):
        summary_module.summary_json(broken)
    older = {**summary, "sweep_version": 1}  # version 1 has the fields of 2, and is still read
    assert summary_module.validate_summary(older) is older


def test_a_linked_sweep_json_is_not_read(tmp_path):
    (tmp_path / "elsewhere.json").write_text("{}", encoding="utf-8")
    (tmp_path / "sweep.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(LabreportError, match="no sweep summary"):
        summary_module.load_summary(tmp_path)


def test_the_csv_has_a_row_per_run_and_model_and_neutralises_formulas(record, lab_grid):
    outs = outcomes(record, lab_grid, gated_lead(0.86, 0.82, 0.7, 0.6))
    outs[0] = Outcome(outs[0].spec, "failed", reason="=HYPERLINK(\"x\")", attempts=2)
    text = summary_module.csv_bytes(summary_module.build(lab_grid, outs)).decode("utf-8")
    lines = text.strip().splitlines()
    assert len(lines) == 1 + 1 + 3 * 3  # header, the failed run, three runs of three models
    assert "'=HYPERLINK" in text


def test_partial_data_is_named_against_the_full_splits(record, lab_grid):
    summary = build(record, lab_grid, gated_lead(0.87, 0.87, 0.82, 0.79))
    summary["data"] = {**summary["data"], "source": "archive", "train": 12_000, "validation": 3_000, "test": 10_000}
    assert ("The runs trained on 15,000 training reviews (3,000 of them held out for validation) and 10,000 test "
            "reviews, fewer than the full 25,000 and 25,000.") in said(summary, "en")
    assert "전체 데이터(25,000개와 25,000개)보다 적다." in said(summary, "ko")


def svg_texts(svg: bytes) -> list[str]:
    """The text of every <text> element of a figure (drawn with svg.fonttype none: text stays text)."""
    import html

    return [html.unescape(text) for text in re.findall(r"<text\b[^>]*>([^<]*)</text>", svg.decode("utf-8"))]


def test_the_figures_print_numbers_and_names_not_code(record, lab_grid):
    """The log axes' ticks (figure 2's gradient share) are plain numbers, not mathtext such as
    `$\\mathdefault{6\\times10^{1}}$`; a backslash in a model's name reaches the figure as a backslash."""
    from labreport.sweep import plots, report

    summary = build(record, lab_grid, gated_lead(0.86, 0.82, 0.70, 0.60), lambda m, n: 0.6 if n == 100 else 0.05)
    summary["display_names"]["gru"] = "Bi\\GRU"
    for lang in ("ko", "en"):
        drawn = plots.all_figures(summary, report.figure_label(templates_module.load_catalog(lang)))
        assert "mechanism" in drawn
        for name, files in drawn.items():
            svg = files["svg"]
            assert not [code for code in ("$", "\\mathdefault", "₩") if code in svg.decode("utf-8")], (lang, name)
            texts = svg_texts(svg)
            assert "Bi\\GRU" in texts, (lang, name)  # every figure's legend
        assert [text for text in svg_texts(drawn["mechanism"]["svg"]) if re.fullmatch(r"\d+(\.\d+)?", text)]


def test_korean_lists_and_shared_measurements_read_as_one_sentence(record, lab_grid):
    text = said(build(record, lab_grid, gated_lead(0.86, 0.82, 0.70, 0.60)), "ko")
    assert "이 스윕은 BiRNN, BiGRU와 BiLSTM을 격자점 2개에서" in text  # 과/와 by the name's last sound
    assert "바꾼 설정은 max_length이고," in text
    assert re.search(r"격자 전체 평균 에포크당 시간은 BiRNN [\d.]+초, BiGRU [\d.]+초, BiLSTM [\d.]+초였다\.", text)
    assert "BiGRU의 에포크당 시간은" not in text
    english = said(build(record, lab_grid, gated_lead(0.86, 0.82, 0.70, 0.60)))
    assert re.search(r"Averaged over the grid, an epoch took [\d.]+ s for BiRNN, [\d.]+ s for BiGRU, [\d.]+ s for BiLSTM\.", english)


def test_parameter_counts_that_change_along_an_axis_are_one_sentence():
    from labreport.sweep import sentences
    summary = {"display_names": {"gru": "BiGRU", "lstm": "BiLSTM"}, "points": []}
    facts = {"models": ["gru", "lstm"], "threads": [], "params_accuracy": {"kind": "none"},
             "axes": [{"name": "hidden_units", "slices": [{"params": {"gru": [52_000, 86_000], "lstm": [58_000, 99_000]}}]}]}
    said_ko = " ".join(sentences.cost(summary, facts, templates_module.load_catalog("ko"))[1])
    assert "hidden_units에 따라 파라미터는 BiGRU가 52,000개에서 86,000개로, BiLSTM이 58,000개에서 99,000개로 달라진다." in said_ko
    said_en = " ".join(sentences.cost(summary, facts, templates_module.load_catalog("en"))[1])
    assert "Along hidden_units, the parameters go from 52,000 to 86,000 for BiGRU, from 58,000 to 99,000 for BiLSTM." in said_en
    facts["axes"][0]["slices"][0]["params"]["lstm"] = [58_000, 58_000]  # the BiLSTM's count stays: only the BiGRU's changes
    said_ko = " ".join(sentences.cost(summary, facts, templates_module.load_catalog("ko"))[1])
    assert "hidden_units에 따라 BiGRU의 파라미터는 52,000개에서 86,000개로 달라진다." in said_ko


# ---------------------------------------------------------------------------------------------
# Every format through the report's exporters


@pytest.fixture(scope="module")
def office_files(checked_in_record, tmp_path_factory):
    """The sweep report of the two-length grid in both languages as HTML, DOCX and HWPX, rendered once."""
    from labreport.sweep import report

    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("sweep-office"))  # no labreport.toml of the repository's
    try:
        grid = grid_module.build_grid({"max_length": [100, 800]}, {"model": {"models": MODELS}, "train": {"seeds": 2}},
                                      quick=True)
    finally:
        os.chdir(previous)
    summary = build(copy.deepcopy(checked_in_record), grid, gated_lead(0.86, 0.82, 0.70, 0.60), lambda m, n: 0.2)
    said_lines = []
    return summary, report.rendered(summary, ("ko", "en"), ("html", "docx", "hwpx"), None, said_lines.append), said_lines


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_sweep_report_is_written_as_docx_with_its_tables_and_figures(office_files, lang):
    import html as html_module
    import io

    docx = pytest.importorskip("docx", reason="python-docx (the office extra) is not installed")
    summary, files, said_lines = office_files
    assert said_lines == []  # nothing skipped
    assert {name for name in files if name.startswith("sweep.")} >= {
        f"sweep.{lang}.{fmt}" for fmt in ("html", "docx", "hwpx")} and f"sweep.{lang}.pdf" not in files
    page = files[f"sweep.{lang}.html"].decode("utf-8")
    document = docx.Document(io.BytesIO(files[f"sweep.{lang}.docx"]))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    text += "\n".join(cell.text for table in document.tables for row in table.rows for cell in row.cells)
    body = page[page.index("</nav>"):]
    assert len(document.tables) == body.count("<table") >= 3
    alts = [html_module.unescape(alt) for alt in re.findall(r'<div class="plot" role="img" aria-label="([^"]*)"', page)]
    shapes = document.inline_shapes
    assert len(shapes) == len(alts) == 4  # accuracy, mechanism, cost, accuracy against parameters
    assert [shape._inline.docPr.get("descr") for shape in shapes] == alts
    for shape in shapes:  # the sweep's figures reach the DOCX as print-resolution PNG
        image = document.part.related_parts[shape._inline.graphic.graphicData.pic.blipFill.blip.embed].image
        assert image.content_type == "image/png" and image.horz_dpi >= 200
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading ")]
    assert len(headings) == len(re.findall(r"<h[2-6][ >]", body)) >= 5
    assert "60.00% ± 0.28% (n=2)" in text.replace("\xa0", " ")
    assert document.core_properties.created.date().isoformat() == summary["written_at"][:10]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_sweep_report_is_written_as_a_valid_hwpx_with_its_figures(office_files, lang):
    import io
    import zipfile

    hwpx = pytest.importorskip("hwpx", reason="python-hwpx (the office extra) is not installed")
    _, files, _ = office_files
    data = files[f"sweep.{lang}.hwpx"]
    document = hwpx.HwpxDocument.open(data)
    assert document.validate().issues == ()
    pictures = [name for name in zipfile.ZipFile(io.BytesIO(data)).namelist() if name.startswith("BinData/")]
    assert pictures == [f"BinData/BIN{n:04d}.png" for n in range(1, 5)]
    assert "60.00% ± 0.28% (n=2)" in document.text.plain().replace("\xa0", " ")
    title = {"ko": "스윕", "en": "Sweep report"}[lang]
    assert title in document.text.plain()


def test_the_sweep_html_and_pdf_are_the_pages_exporters_output(office_files):
    """The HTML is the page as it was before the exporters (figures inline, the CSP); the sweep's
    figures are drawn as SVG for the pages and as PNG only for the formats that need it."""
    from labreport.sweep import report

    summary, files, _ = office_files
    page = files["sweep.en.html"].decode("utf-8")
    assert "Content-Security-Policy" in page and "<svg" in page and "data:image/png" not in page
    assert files["sweep.en.html"].decode("utf-8") == report.render_page(summary, "en", None, inline=True)
    assert set(report.sweep_page(summary, "en", None, ("html",)).figures["accuracy_params"]) == {"svg"}
    assert set(report.sweep_page(summary, "en", None, ("docx", "hwpx")).figures["accuracy_params"]) == {
        "svg", "png@300", "png"}


def test_the_sweep_command_takes_every_format(tmp_path, monkeypatch):
    import subprocess
    import sys

    from labreport.report.formats import FORMATS
    from labreport.sweep import command

    monkeypatch.chdir(tmp_path)
    options = command.sweep_options({}, tmp_path / "out", quick=True, formats=["html", "pdf", "docx", "hwpx"])
    assert options.formats == ("html", "pdf", "docx", "hwpx") == FORMATS
    with pytest.raises(LabreportError, match="unknown format 'odt': choose among html, pdf, docx, hwpx"):
        command.sweep_options({}, tmp_path / "out", quick=True, formats=["odt"])
    usage = subprocess.run([sys.executable, "-m", "labreport", "sweep", "--help"], capture_output=True, text=True)
    words = " ".join(usage.stdout.split())
    assert "report formats among html,pdf,docx,hwpx (html,pdf)" in words and "word-processor" not in words


def test_the_notebooks_result_names_each_formats_file(tmp_path):
    from labreport.sweep.api import SweepReport

    result = SweepReport(tmp_path, {}, [])
    assert result.file("docx", "en") == tmp_path / "sweep.en.docx"
    assert result.file("hwpx") == tmp_path / "sweep.ko.hwpx" and result.pdf("en") == tmp_path / "sweep.en.pdf"
    with pytest.raises(LabreportError, match="no report format 'odt': choose among html, pdf, docx, hwpx"):
        result.file("odt")
