"""The report a student makes their own: notes with live numbers, cover and hand-in, references,
numbering, vector figures, catalogs (a third language from a templates folder), and bad input."""

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labreport import LabreportError
from labreport.report import files as report_files
from labreport.report import notes, render, templates
from labreport.report.numbers import format_p_value, format_percent

PLACEHOLDER = re.compile(r"\{[A-Za-z_][\w.]*(?:![rsa])?(?::[^{}]*)?\}|\{\{|\}\}|\{%|%\}")


def unfilled(text: str) -> list[str]:
    """Placeholder-like text in a page's visible text (styles and code aside): `{value:.0f}`, `{{`, `{%`."""
    body = text[text.find("<body"):] if "<body" in text else text
    body = re.sub(r"<(style|script|pre)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return PLACEHOLDER.findall(re.sub(r"<[^>]+>", " ", body))


def visible(page: str) -> str:
    body = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", page[page.find("<body"):], flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def pdf_text(path: Path) -> str:
    import pypdf  # a test dependency: a missing one fails, not skips
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "labreport", *args], capture_output=True, text=True, timeout=600, cwd=cwd)


def test_the_placeholder_check_catches_what_it_guards():
    # The table header that once showed a raw format field, and template syntax left in a page.
    assert unfilled("<body><th>Median ({value:.0f})</th></body>") == ["{value:.0f}"]
    assert unfilled("<body><p>{{ models.gru }}</p></body>")
    assert not unfilled("<body><p>2 × 3·h·(d + h + 2)</p><style>a { color: red }</style></body>")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_no_placeholder_reaches_a_page(rendered_with_notes, lang):
    out = rendered_with_notes
    assert unfilled((out / f"report.{lang}.html").read_text(encoding="utf-8")) == []
    assert not re.findall(r"\{\{|\{%|\{[a-z_]+(:[^}]*)?\}", pdf_text(out / f"report.{lang}.pdf"))


# ---------------------------------------------------------------------------------------------
# Notes


NOTES_KO = """\
<!-- 질문은 지운다 -->
# 나의 고찰

BiLSTM의 정확도는 {{ models.lstm.test.accuracy | pct }}였고 McNemar p값은 {{ analysis.pairs[0].mcnemar.p_value | pval }}이다.

<script>alert("x")</script>

## 세부

| 모델 | 정확도 |
| --- | --- |
| GRU | {{ models.gru.test.accuracy | pct(1) }} |

# 나의 결론

에포크 {{ config.train.epochs }}번이면 충분했다.
"""


@pytest.fixture(scope="module")
def rendered_with_notes(tmp_path_factory, checked_in_record):
    out = tmp_path_factory.mktemp("notes")
    (out / "results.json").write_text(json.dumps(checked_in_record, ensure_ascii=False), encoding="utf-8")
    (out / "notes.ko.md").write_text(NOTES_KO, encoding="utf-8")
    report_files.render_all(out, ["ko", "en"], ["html", "pdf"])
    return out


def test_notes_become_numbered_sections_in_the_toc_and_pdf(rendered_with_notes, checked_in_record):
    out, r = rendered_with_notes, checked_in_record
    html = (out / "report.ko.html").read_text(encoding="utf-8")
    toc = html[html.index('<nav class="toc"'):html.index("</nav>")]
    assert "5. 나의 고찰" in toc and "6. 나의 결론" in toc
    assert toc.index("4. 토의") < toc.index("5. 나의 고찰") < toc.index("참고 문헌") < toc.index("부록")
    body = visible(html)
    accuracy = format_percent(r["models"]["lstm"]["test"]["accuracy"])
    p_value = format_p_value(r["analysis"]["pairs"][0]["mcnemar"]["p_value"])
    assert f"BiLSTM의 정확도는 {accuracy}였고 McNemar p값은 {p_value}이다." in body
    assert "<td>" + format_percent(r["models"]["gru"]["test"]["accuracy"], 1) + "</td>" in html  # the Markdown table
    assert "<h3>5.1 세부</h3>" in html  # a second-level heading is a numbered subsection, like 4.1
    assert "질문은 지운다" not in html
    text = re.sub(r"\s+", "", pdf_text(out / "report.ko.pdf"))
    assert "5.나의고찰" in text and "6.나의결론" in text and accuracy in text


def test_raw_html_in_notes_is_shown_as_text(rendered_with_notes):
    html = (rendered_with_notes / "report.ko.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<script>" not in html


def test_a_language_without_notes_gets_no_own_section(rendered_with_notes):
    html = (rendered_with_notes / "report.en.html").read_text(encoding="utf-8")
    assert "나의 고찰" not in html
    assert 'id="notes-' not in html


def test_starter_asks_about_this_run_and_is_never_overwritten(tmp_path, record):
    catalog = templates.load_catalog("en")
    path = notes.write_starter(tmp_path, "en", record, catalog)
    text = path.read_text(encoding="utf-8")
    assert "# Discussion" in text and "# Conclusion" in text
    assert "BiLSTM beat BiGRU" in text  # the checked-in run's winner
    assert "In McNemar's test p is below 0.0001." in text
    path.write_text("my own words", encoding="utf-8")
    with pytest.raises(LabreportError, match="already exists"):
        notes.write_starter(tmp_path, "en", record, catalog)
    assert path.read_text(encoding="utf-8") == "my own words"
    # Swap the results: the question follows the winner.
    record["models"]["gru"]["test"], record["models"]["lstm"]["test"] = record["models"]["lstm"]["test"], record["models"]["gru"]["test"]
    assert "BiGRU beat BiLSTM" in notes.starter(record, catalog)


def test_a_starter_file_renders_to_its_two_headings_only(tmp_path, record):
    """The questions are comments: a file the student has not touched yet adds two empty sections."""
    path = notes.write_starter(tmp_path, "ko", record, templates.load_catalog("ko"))
    sections = notes.sections(path, record, "ko")
    assert [str(s.title) for s in sections] == ["고찰", "결론"]


@pytest.mark.parametrize("source, needle", [
    ("# A\n\nline\n{{ models.gruu.test.accuracy | pct }}\n", r"line 4: `models.gruu` is not in the record \(closest: `models.gru`\)"),
    ("# A\n{{ models.gru.test.acuracy }}\n", r"line 2: `models.gru.test.acuracy` is not in the record \(closest: `models.gru.test.accuracy`\)"),
    ("# A\n{{ analysis.pairs[7].a }}\n", r"line 2: `analysis.pairs\[7\]` is not in the record"),
    ("# A\n\n{{ models.gru.test.accuracy | pct \n", r"line 3: placeholder syntax error"),
    ("# A\n{{ models.gru.__class__ }}\n", r"line 2: `models.gru.__class__` is not in the record"),
    ("# A\n{{ models.gru.test.accuracy.real }}\n", r"line 2: .*reaches outside the record"),
    ("# A\n{{ models.items() }}\n", r"line 2: only placeholders like"),
    ("# A\n{% import 'os' as os %}\n", r"line 2: only placeholders like"),
    ("# A\n{% for m in models %}x{% endfor %}\n", r"line 2: only placeholders like"),
    ("# A\n{{ models.gru.test.accuracy | attr('x') }}\n", r"line 2: unknown filter `attr`"),
    ("# A\n{{ models.gru }}\n", r"line 2: a placeholder must name one value: `models.gru` has the keys name, "),
    ("# A\n{{ models.gru.params.total | num }}\n", r"line 2: a placeholder must name one value: `models.gru.params.total` has "
                                                  r"the keys derived, keras, ok: write `models.gru.params.total.derived`"),
    ("# A\n{{ analysis.pairs | num }}\n", r"line 2: a placeholder must name one value: `analysis.pairs` is a list of 1 "
                                          r"entry: write `analysis.pairs\[0\]`"),
])
def test_bad_placeholders_stop_with_file_line_and_reason(tmp_path, record, source, needle):
    path = tmp_path / "notes.en.md"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(LabreportError, match=re.escape(str(path)) + ", " + needle):
        notes.sections(path, record, "en")


def test_notes_that_are_not_utf8_or_missing_are_named(tmp_path, record):
    path = tmp_path / "notes.ko.md"
    path.write_bytes("# 고찰\n".encode("cp949"))
    with pytest.raises(LabreportError, match=r"notes\.ko\.md is not UTF-8"):
        notes.sections(path, record, "ko")
    with pytest.raises(LabreportError, match=r"notes file not found: .*missing\.md"):
        notes.sections(tmp_path / "missing.md", record, "ko")


def test_bad_notes_leave_the_previous_report_untouched(record_dir):
    report_files.render_all(record_dir, ["en"], ["html"])
    before = (record_dir / "report.en.html").read_bytes()
    (record_dir / "notes.en.md").write_text("# Mine\n{{ models.nope }}\n", encoding="utf-8")
    result = run_cli("render", "--out", str(record_dir), "--lang", "en", "--format", "html")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("labreport: error:") == 1 and "notes.en.md, line 2" in result.stderr
    assert (record_dir / "report.en.html").read_bytes() == before


def test_cli_notes_flag_takes_another_file_and_refuses_a_missing_one(tmp_path, record_dir):
    mine = tmp_path / "mine.en.md"
    mine.write_text("# Elsewhere\n\nWritten in {{ config.train.epochs }} epochs.\n", encoding="utf-8")
    result = run_cli("render", "--out", str(record_dir), "--lang", "en", "--format", "html", "--notes", str(mine))
    assert result.returncode == 0, result.stderr
    html = (record_dir / "report.en.html").read_text(encoding="utf-8")
    assert "Elsewhere" in html and f"Written in {4} epochs." in visible(html)
    result = run_cli("render", "--out", str(record_dir), "--lang", "en", "--notes", f"en={tmp_path / 'nope.md'}")
    assert result.returncode == 2 and "notes file not found" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Cover, hand-in, references, numbering, figures


def cover_title(html: str) -> str:
    """The text of the cover's <h1>, its lines (labreport.report.render.title_lines) joined by spaces."""
    return re.sub(r"<[^>]+>", "", re.search(r"<h1>(.*?)</h1>", html, re.S)[1])


def test_cover_title_per_language_and_korean_default(record):
    record["config"]["report"]["lab_title"] = ""
    assert cover_title(render.render_html(record, "ko", figures=FIGURES)) == "실습 5: BiGRU와 BiLSTM을 이용한 IMDB 영화 리뷰 감성 분류"
    record["config"]["report"]["lab_title"] = {"ko": "제5장 실습", "en": "Chapter 5 lab"}
    assert "<h1><span class=\"title-line\">제5장 실습</span></h1>" in render.render_html(record, "ko", figures=FIGURES)
    assert cover_title(render.render_html(record, "en", figures=FIGURES)) == "Chapter 5 lab"


def test_submission_pdfs_get_the_students_name(tmp_path, record_dir):
    config = tmp_path / "labreport.toml"
    config.write_text('[report]\nname = "홍길동"\nstudent_id = "2024/0042"\n', encoding="utf-8")
    result = run_cli("render", "--out", str(record_dir), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    for lang in ("ko", "en"):
        handed_in = record_dir / f"2024_0042_홍길동_lab05.{lang}.pdf"
        assert handed_in.read_bytes() == (record_dir / f"report.{lang}.pdf").read_bytes()
    assert "홍길동" in (record_dir / "report.ko.html").read_text(encoding="utf-8")  # the cover follows [report]


def test_render_warns_once_when_the_cover_has_no_name(record_dir):
    result = run_cli("render", "--out", str(record_dir), "--format", "html")
    assert result.returncode == 0
    assert result.stderr.count("warning: the cover has no name or student ID") == 1


FIGURES = {name: f"<svg>{name}</svg>" for name in
           ["lengths", "comparison", "confusion", "gradients", "learned", "convergence_gru", "convergence_lstm",
            "convergence_rnn"]}


def reference_list(html: str) -> list[str]:
    block = html[html.index('<ol class="references">'):]
    return re.findall(r'<li id="ref-([a-z0-9]+)">', block[:block.index("</ol>")])


def test_references_are_numbered_by_first_citation_and_only_for_sections_present(record):
    html = render.render_html(record, "en", figures=FIGURES)
    cited = reference_list(html)
    assert cited[:2] == ["hochreiter1997", "cho2014"]
    assert {"maas2011", "kingma2015", "srivastava2014", "mcnemar1947", "efron1979", "bengio1994", "pascanu2013"} <= set(cited)
    assert "elman1990" not in cited  # no plain RNN trained, no RNN reference
    first = re.search(r'The LSTM <span class="cite">\[<a href="#ref-([a-z0-9]+)">(\d+)</a>', html)
    assert first.groups() == ("hochreiter1997", "1")
    del record["analysis"]
    without = reference_list(render.render_html(record, "en", figures=FIGURES))
    assert "mcnemar1947" not in without and "efron1979" not in without
    record["models"]["rnn"] = {**record["models"]["gru"], "name": "rnn", "display_name": "BiRNN"}
    assert "elman1990" in reference_list(render.render_html(record, "en", figures=FIGURES))


def test_numbers_come_from_the_renderer_and_cross_references_resolve(record):
    html = render.render_html(record, "en", figures=FIGURES)
    figures = re.findall(r"<figcaption>Figure (\d+)\.", html)
    tables = re.findall(r"<figcaption>Table (\d+)\.", html)
    assert figures == [str(i) for i in range(1, len(figures) + 1)]
    assert tables == [str(i) for i in range(1, len(tables) + 1)]
    flow_number = re.search(r'<figure id="fig-flow"[^>]*>.*?Figure (\d+)\.', html, re.S).group(1)
    assert f"Figure {flow_number} shows the path of one review." in visible(html)
    cell_update = re.search(r"c</var><sub>t</sub> = <var>f</var>.*?\((\d+)\)", html).group(1)
    assert f"updated additively (equation {cell_update})" in html
    assert re.findall(r"<h2>(\d+)\. ", html) == ["1", "2", "3", "4"]
    assert "<h3>3.2 Training and convergence</h3>" in html


def test_the_threshold_in_the_text_is_the_records(record):
    record["decision_threshold"] = 0.7
    html = visible(render.render_html(record, "en", figures=FIGURES))
    assert "exceeds 0.7." in html
    assert "exceeds 0.5" not in html


def test_pdf_figures_are_vectors_with_their_text_in_the_embedded_font(rendered_with_notes):
    """Figures reach the PDF as SVG: no bitmap image, and a figure's axis label is PDF text."""
    import pypdf  # a test dependency: a missing one fails, not skips
    images = set()
    for page in pypdf.PdfReader(rendered_with_notes / "report.ko.pdf").pages:
        for name, xobject in (page["/Resources"].get("/XObject") or {}).items():
            if xobject.get_object().get("/Subtype") == "/Image":
                images.add(name)
    assert images == set()
    assert "리뷰 안의 위치 (토큰)" in pdf_text(rendered_with_notes / "report.ko.pdf")  # the gradient figure's x label
    html = (rendered_with_notes / "report.ko.html").read_text(encoding="utf-8")
    figure = html[html.index('<figure id="fig-gradients">'):]
    figure = figure[:figure.index("</figure>")]
    assert "<svg" in figure and "리뷰 안의 위치 (토큰)" in figure and "<img" not in figure
    assert len(set(re.findall(r'<clipPath id="([^"]+)"', html))) == len(re.findall(r'<clipPath id="', html))  # ids unique


def test_the_flow_diagram_is_page_text_with_this_runs_sizes(record):
    html = render.render_html(record, "en", figures=FIGURES)
    diagram = html[html.index('<ol class="flow"'):html.index("</ol>", html.index('<ol class="flow"'))]
    assert "2,000 train / 1,000 test" in diagram and "5,000 → 32" in diagram and "2 ×\u00a016" in diagram
    assert "p(positive) &gt;\u00a00.5" in diagram


# ---------------------------------------------------------------------------------------------
# Catalogs: one per language, found in the template folders


def toy_japanese(folder: Path) -> Path:
    """A third language made from the English catalog with Japanese words in a few places."""
    text = (templates.builtin_templates() / "lang" / "en.toml").read_text(encoding="utf-8")
    text = text.replace('name = "English"', 'name = "日本語"').replace('fonts = ["Labreport Gothic"]', "fonts = []")
    text = text.replace('date = "{month_name} {day}, {year}"', 'date = "{year}年{month}月{day}日"')
    text = text.replace('objective = "Objective and program flow"', 'objective = "実験の目的とプログラムの流れ"')
    text = text.replace('figure = "Figure"', 'figure = "図"').replace('table = "Table"', 'table = "表"')
    text = text.replace('loss = "loss"', 'loss = "損失"', 1)
    (folder / "lang").mkdir(parents=True, exist_ok=True)
    (folder / "lang" / "ja.toml").write_text(text, encoding="utf-8")
    return folder


def test_a_third_language_from_a_templates_folder_renders(tmp_path, record_dir):
    custom = toy_japanese(tmp_path / "course")
    assert "ja" in templates.languages(custom)
    result = run_cli("render", "--out", str(record_dir), "--lang", "ja", "--templates", str(custom))
    assert result.returncode == 0, result.stderr
    html = (record_dir / "report.ja.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in html and "実験の目的とプログラムの流れ" in html and "図 1." in html
    assert "損失" in html  # the figure's title, inside the page
    assert unfilled(html) == []
    assert (record_dir / "report.ja.pdf").read_bytes().startswith(b"%PDF")
    assert "損失" in (record_dir / "figures" / "convergence_gru.ja.svg").read_text(encoding="utf-8")


def test_a_catalog_missing_a_message_is_named(tmp_path, record_dir):
    custom = toy_japanese(tmp_path / "course")
    path = custom / "lang" / "ja.toml"
    path.write_text(re.sub(r"\nintro_table = .*\n", "\n", path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(LabreportError, match=r"the ja catalog \(.*ja\.toml\) lacks the message `training\.intro_table`"):
        report_files.render_all(record_dir, ["ja"], ["html"], user_templates=custom)
    assert not (record_dir / "report.ja.html").exists()


def test_an_unknown_language_names_the_known_ones(tmp_path):
    result = run_cli("render", "--out", str(tmp_path), "--lang", "ja")
    assert result.returncode == 2 and "unknown language 'ja'" in result.stderr and "Traceback" not in result.stderr


def test_sentences_are_chosen_once_for_all_languages():
    """No template holds a sentence or a choice between sentences: the catalogs are words only."""
    for path in (templates.builtin_templates() / "lang").iterdir():
        assert path.suffix == ".toml", path
    report = (templates.builtin_templates() / "report.html").read_text(encoding="utf-8")
    assert "facts" not in report and "winner" not in report
    assert not re.search(r"Figure \d|Table \d|equation \d|0\.5", report)


def test_layer_notes_explain_each_kind_once_and_skip_the_input(record):
    text = visible(render.render_html(record, "en", figures=FIGURES))
    assert "no formula for layers of type InputLayer" not in text
    assert text.count("The Bidirectional wrapper holds two independent copies") == 2  # one per model
    record["models"]["gru"]["params"]["layers"].append(
        {"name": "conv", "type": "Conv1D", "kind": "unknown", "unknown_type": "Conv1D", "formula": None,
         "formula_with_values": None, "derived": None, "keras": 99, "ok": None, "output_shape": None})
    assert "this report has no formula for layers of type Conv1D; Keras counts 99." in visible(
        render.render_html(record, "en", figures=FIGURES))


STRUCTURE_CASES = [
    ("\n".join(f"# h{i}" for i in range(8000)),
     "line 51: more than 50 sections (top-level headings); notes hold at most that many"),
    ("# A\n\n" + "\n".join("- x" for _ in range(3000)),
     "line 2002: more than 2,000 blocks (paragraphs, headings, list items, table rows); notes hold at most that many"),
    ("# A\n\n" + "\n\n".join("words" for _ in range(3000)),
     "line 4001: more than 2,000 blocks (paragraphs, headings, list items, table rows); notes hold at most that many"),
    ("# A\n\n" + "> " * 12 + "deep", "line 3: lists and quotes are nested more than 8 deep"),
    ("# A\n\n- a\n" + "".join("  " * level + "- b\n" for level in range(1, 12)),
     "line 11: lists and quotes are nested more than 8 deep"),
    ("# A\n\n{{ 1" + "9" * 5000 + " }}\n", "line 3: a number in a placeholder has more than 4,300 digits"),
    ("# A\n{{ models.gru.test.accuracy | num(" + "9" * 5000 + ") }}\n",
     "line 2: a number in a placeholder has more than 4,300 digits"),
    ("# A\n\n{{ " + "(" * 2000 + "models" + ")" * 2000 + " }}\n",
     "line 3: a placeholder is nested too deeply to read (brackets, indices or filters)"),
    ("# A\n{{ models" + "[0]" * 3000 + " }}\n",
     "line 2: a placeholder is nested too deeply to read (brackets, indices or filters)"),
    ("# A\n{{ models.gru.test.accuracy" + " | pct" * 3000 + " }}\n",
     "line 2: a placeholder is nested too deeply to read (brackets, indices or filters)"),
]


@pytest.mark.parametrize("source, expected", STRUCTURE_CASES, ids=[case[1][:40] for case in STRUCTURE_CASES])
def test_notes_bounded_by_their_structure_are_one_line(tmp_path, record, source, expected):
    """Within 256 KiB, 8,000 headings took 391 s and 4.25 GB to render; a 5,000-digit number and deep
    placeholders were tracebacks."""
    path = tmp_path / "notes.en.md"
    path.write_text(source, encoding="utf-8")
    assert len(source.encode()) <= notes.MAX_NOTES_BYTES
    with pytest.raises(LabreportError) as raised:
        notes.sections(path, record, "en")
    assert str(raised.value) == f"{path}, {expected}"


def test_notes_at_the_structure_limits_render(tmp_path, record):
    """50 sections and 2,000 blocks: 50 headings, 1,949 list items, 1 paragraph."""
    source = "\n".join(f"# h{i}\n\n- x" for i in range(50)) + "\n\ntext\n\n" + "\n".join("- y" for _ in range(1899))
    path = tmp_path / "notes.en.md"
    path.write_text(source, encoding="utf-8")
    assert len(notes.sections(path, record, "en")) == 50
