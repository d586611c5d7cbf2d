"""Rendering for real: the checked-in record into HTML and PDF in a temporary folder."""

import copy
import json
import re
import subprocess
import sys
import textwrap

import pytest

from labreport import LabreportError
from labreport.report import catalog, discussion, embedding, render, templates
from labreport.report import files as report_files
from labreport.report.numbers import format_number, format_percent


def figure_placeholders(record):
    names = ["lengths", "comparison", "confusion", "gradients", "learned"] + [f"convergence_{n}" for n in record["models"]]
    return {name: f"<svg>{name}</svg>" for name in names}


def quick_html(record, lang):
    return render.render_html(record, lang, figures=figure_placeholders(record))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, checked_in_record):
    """Both languages, both formats, rendered once for the tests that only read them."""
    record = copy.deepcopy(checked_in_record)
    for entry in record["models"].values():
        entry["samples"][0]["text"] = 'Loved it <script>alert("x")</script> & more'
    out = tmp_path_factory.mktemp("report")
    (out / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    written = report_files.render_all(out, ["ko", "en"], ["html", "pdf"])
    return out, record, written


def test_writes_four_files_and_figures(rendered):
    out, _, written = rendered
    assert sorted(p.name for p in written) == ["report.en.html", "report.en.pdf", "report.ko.html", "report.ko.pdf"]
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert "convergence_gru.ko.svg" in figures and "confusion.en.svg" in figures
    assert (out / "figures" / "lengths.ko.svg").read_bytes().startswith(b"<?xml")
    assert not list((out / "figures").glob("*.png"))  # PNG files only on request


def test_png_figure_files_on_request(record_dir):
    report_files.render_all(record_dir, ["en"], ["html"], figure_files=("svg", "png"))
    assert (record_dir / "figures" / "confusion.en.png").read_bytes().startswith(b"\x89PNG")
    assert (record_dir / "figures" / "confusion.en.svg").exists()


def table_rows(html: str, key: str) -> list[list[str]]:
    """The body rows of the report's table `key`, each a list of its cells' text."""
    table = html[html.index(f'id="tab-{key}"'):]
    table = table[table.index("<tbody>"):table.index("</tbody>")]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_html_holds_the_records_numbers_formatted(rendered, lang):
    """Each number sits in its own table cell, in the row of its model and weights."""
    out, record, _ = rendered
    html = (out / f"report.{lang}.html").read_text(encoding="utf-8")
    assert f'<html lang="{lang}">' in html
    test_rows = table_rows(html, "test")
    for i, entry in enumerate(record["models"].values()):
        best, last = test_rows[2 * i], test_rows[2 * i + 1]
        assert best[0] == last[0] == entry["display_name"]
        assert best[3:7] == [format_percent(entry["test"][k]) for k in ("accuracy", "precision", "recall")] + \
            [format_number(entry["test"]["f1"], 4)]
        assert last[3] == format_percent(entry["test_last_epoch"]["accuracy"])
        assert best[2] == format_number(entry["test"]["loss"], 4)
        history = table_rows(html, f"history-{entry['name']}")
        assert [row[3] for row in history] == [format_number(v, 4) for v in entry["history"]["val_loss"]]
        summary = table_rows(html, f"summary-{entry['name']}")
        assert summary[-1][-1] == format_number(entry["total_params"])
        derivation = table_rows(html, f"derivation-{entry['name']}")
        assert [row[4] for row in derivation[:-1]] == [format_number(row["keras"]) for row in entry["params"]["layers"]]
    splits = table_rows(html, "splits")
    assert splits[2][1] == format_number(record["dataset"]["splits"]["test"]["total"])
    assert record["config_hash"] in table_rows(html, "config")[-1][1]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_review_text_is_escaped(rendered, lang):
    out, _, _ = rendered
    html = (out / f"report.{lang}.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in html
    assert "<script>" not in html


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_html_is_self_contained(rendered, lang):
    out, _, _ = rendered
    html = (out / f"report.{lang}.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert "@font-face" in html and "data:font/ttf;base64," in html


def test_pdf_text_holds_korean_and_the_numbers(rendered):
    import pypdf  # a test dependency: a missing one fails, not skips
    out, record, _ = rendered
    text = "".join(page.extract_text() for page in pypdf.PdfReader(out / "report.ko.pdf").pages)
    compact = re.sub(r"\s+", "", text)
    for words in ["실험목적과프로그램흐름", "층별파라미터수설명", "토의"]:
        assert words in compact
    gru = record["models"]["gru"]
    assert format_number(gru["total_params"]) in text
    assert format_percent(gru["test"]["accuracy"]) in text
    english = "".join(page.extract_text() for page in pypdf.PdfReader(out / "report.en.pdf").pages)
    assert "Parameters of each layer" in english
    assert len(pypdf.PdfReader(out / "report.en.pdf").pages) > 5


def test_pdf_embeds_the_korean_font(rendered):
    import pypdf  # a test dependency: a missing one fails, not skips
    out, _, _ = rendered
    fonts = set()
    for page in pypdf.PdfReader(out / "report.ko.pdf").pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any("Labreport-Gothic" in name for name in fonts)


def test_user_templates_folder_is_searched_first(tmp_path, record_dir):
    custom = tmp_path / "course"
    custom.mkdir()
    (custom / "style.css").write_text("body { color: #123456; } /* course-style-marker */")
    report_files.render_all(record_dir, ["en"], ["html"], user_templates=custom)
    html = (record_dir / "report.en.html").read_text(encoding="utf-8")
    assert "course-style-marker" in html
    assert "Parameters of each layer" in html  # the rest still comes from the built-in templates


def test_user_template_can_override_a_block(tmp_path, record):
    custom = tmp_path / "course"
    custom.mkdir()
    (custom / "report.html").write_text(textwrap.dedent("""\
        {% extends "base.html" %}
        {% block title %}Custom{% endblock %}
        {% block content %}<p>accuracy {{ r.models.gru.test.accuracy | pct }}</p>{% endblock %}
    """))
    html = render.render_html(record, "en", templates.make_environment(custom), figures={})
    assert "<title>Custom</title>" in html
    assert f"accuracy {format_percent(record['models']['gru']['test']['accuracy'])}" in html


def test_template_error_names_file_and_line(tmp_path, record_dir):
    custom = tmp_path / "course"
    custom.mkdir()
    (custom / "report.html").write_text('{% extends "base.html" %}\n\n{% if %}\n')
    with pytest.raises(LabreportError, match=r"template error in .*report\.html, line 3"):
        report_files.render_all(record_dir, ["en"], ["html"], user_templates=custom)
    assert not (record_dir / "report.en.html").exists()


def test_catalog_error_names_file_and_line(tmp_path, record_dir):
    custom = tmp_path / "course"
    (custom / "lang").mkdir(parents=True)
    (custom / "lang" / "en.toml").write_text('[language]\nname = "English"\n[page\n')
    with pytest.raises(LabreportError, match=r"catalog .*en\.toml: .*line 3"):
        report_files.render_all(record_dir, ["en"], ["html"], user_templates=custom)
    assert not (record_dir / "report.en.html").exists()


def test_sandbox_blocks_python_internals(tmp_path, record):
    custom = tmp_path / "course"
    custom.mkdir()
    (custom / "report.html").write_text("{{ r.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(LabreportError, match="template error"):
        render.render_html(record, "en", templates.make_environment(custom), figures={})


def test_missing_record_says_what_to_run(tmp_path):
    with pytest.raises(LabreportError, match="run `labreport train`"):
        report_files.render_all(tmp_path, ["en"], ["html"])


def test_invalid_record_names_the_field(tmp_path, record):
    del record["models"]["gru"]["history"]["val_loss"]
    (tmp_path / "results.json").write_text(json.dumps(record))
    with pytest.raises(LabreportError, match=r"models\.gru\.history\.val_loss"):
        report_files.render_all(tmp_path, ["en"], ["html"])


def test_other_schema_version(tmp_path, record):
    record["schema_version"] = 99
    (tmp_path / "results.json").write_text(json.dumps(record))
    with pytest.raises(LabreportError, match="schema_version 99"):
        report_files.render_all(tmp_path, ["en"], ["html"])


def swap_results(record):
    """The same record with the two models' test results exchanged."""
    swapped = copy.deepcopy(record)
    gru, lstm = swapped["models"]["gru"], swapped["models"]["lstm"]
    gru["test"], lstm["test"] = lstm["test"], gru["test"]
    return swapped


@pytest.mark.parametrize("lang, sentence", [
    ("en", "On the test split {winner} scored higher"),
    ("ko", "테스트 데이터에서는 {winner}의 정확도가"),
])
def test_discussion_follows_the_numbers(record, lang, sentence):
    facts = discussion.facts(record)["pairs"][0]
    assert facts["winner"] is not None
    winner = record["models"][facts["winner"]]["display_name"]
    loser = record["models"][facts["loser"]]["display_name"]
    assert sentence.format(winner=winner) in quick_html(record, lang)
    flipped = quick_html(swap_results(record), lang)
    assert sentence.format(winner=loser) in flipped
    assert sentence.format(winner=winner) not in flipped


def test_discussion_calls_a_tie_a_tie(record):
    record["models"]["lstm"]["test"]["accuracy"] = record["models"]["gru"]["test"]["accuracy"]
    assert "the two models are tied" in quick_html(record, "en")
    assert "사실상 같은 성능" in quick_html(record, "ko")


def test_discussion_notes_when_loss_disagrees_with_accuracy(record):
    winner = discussion.facts(record)["pairs"][0]["winner"]
    loser = "lstm" if winner == "gru" else "gru"
    record["models"][winner]["test"]["loss"] = record["models"][loser]["test"]["loss"] + 0.1
    assert "The test loss points the other way" in quick_html(record, "en")


def cli_without_tensorflow(*args: str) -> subprocess.CompletedProcess:
    """Runs `labreport ARGS` in a process where importing TensorFlow, Keras or tensorflow-datasets fails."""
    script = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tensorflow", "keras", "tensorflow_datasets"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        from labreport.cli import main
        code = main({list(args)!r})
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        sys.exit(code)
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def test_render_never_imports_tensorflow(record_dir):
    result = cli_without_tensorflow("render", "--out", str(record_dir), "--format", "html")
    assert result.returncode == 0, result.stderr
    assert (record_dir / "report.ko.html").exists()


def test_pdf_fetches_nothing_from_the_network():
    """A page that asks for an image on a server: the PDF is written and the server never hears of it."""
    import http.server
    import threading

    from labreport.report import pdf
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        data = pdf.html_to_pdf(f'<html><head><link rel="stylesheet" href="{url}/style.css"></head>'
                               f'<body><img src="{url}/x.png"><p>offline</p></body></html>')
    finally:
        server.shutdown()
    assert data.startswith(b"%PDF")
    assert requests == []


@pytest.mark.parametrize("p_value, en, ko", [
    (0.2, "is not significant at the 5% level", "유의수준 5%에서 유의하지 않다"),
    (0.001, "is significant at the 5% level", "유의수준 5%에서 유의하다"),
])
def test_significance_sentence_follows_the_p_value(record, p_value, en, ko):
    record["analysis"]["pairs"][0]["mcnemar"]["p_value"] = p_value
    assert en in quick_html(record, "en")
    assert ko in quick_html(record, "ko")


def test_gradient_sentences_follow_the_numbers(record):
    for entry in record["models"].values():
        n = len(entry["gradient_flow"]["norms"])
        entry["gradient_flow"]["norms"] = [1.0] * n
    record["models"]["lstm"]["gradient_flow"]["norms"][n // 3: 2 * n // 3] = [0.001] * (2 * n // 3 - n // 3)
    html = quick_html(record, "en")
    assert "reaches training more weakly in BiLSTM than in BiGRU" in html  # two models: a comparative
    assert "larger than in the middle by a factor of 1,000.0 for BiLSTM, 1.0 for BiGRU." in html


@pytest.mark.parametrize("word, pair, expected", [
    ("BiGRU", ("이", "가"), "BiGRU가"),
    ("BiLSTM", ("이", "가"), "BiLSTM이"),
    ("BiRNN", ("은", "는"), "BiRNN은"),
    ("BiGRU, BiLSTM", ("을", "를"), "BiGRU, BiLSTM을"),
    ("0.6230", ("으로", "로"), "0.6230으로"),
    ("0.4859", ("으로", "로"), "0.4859로"),
    ("모델", ("으로", "로"), "모델로"),
    ("학습", ("이", "가"), "학습이"),
])
def test_korean_particles_follow_the_last_sound(word, pair, expected):
    assert catalog.korean_particle(word, *pair) == expected


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_sentences_are_separated(record, lang):
    html = quick_html(record, lang)
    body = re.sub(r"<(pre|style)[^>]*>.*?</\1>", "", html[html.index("<body"):], flags=re.S)
    text = re.sub(r"<[^>]+>", " ", body)
    assert not re.findall(r"[a-z가-힣)%]\.[A-Z가-힣]", text)


def test_same_record_gives_the_same_report_bytes(tmp_path, record):
    """With the determinism of training (test_train), the same run gives the same report."""
    outputs = []
    for name in ("one", "two"):
        out = tmp_path / name
        out.mkdir()
        (out / "results.json").write_text(json.dumps(record))
        report_files.render_all(out, ["ko"], ["html"])
        outputs.append(((out / "report.ko.html").read_bytes(), (out / "figures" / "comparison.ko.svg").read_bytes()))
    assert outputs[0] == outputs[1]


def with_seeds(record, accuracies):
    """The record as if each model had run once per value in `accuracies[name]` (first = its own run)."""
    from labreport.core import stats as analysis
    for name, values in accuracies.items():
        entry = record["models"][name]
        runs = []
        for i, accuracy in enumerate(values):
            run = {key: copy.deepcopy(entry[key]) for key in ("history", "epoch_seconds", "epochs_run", "best_epoch",
                                                               "test", "test_last_epoch", "inference")}
            run["seed"] = record["config"]["train"]["seed"] + i
            run["test"]["accuracy"] = accuracy
            runs.append(run)
        entry["runs"], entry["aggregate"] = runs, analysis.across_seeds(runs)
    record["config"]["train"]["seeds"] = len(next(iter(accuracies.values())))
    return record


@pytest.mark.parametrize("lang, sentence", [
    ("en", "On the test split {winner} scored higher on average over 3 seeds"),
    ("ko", "시드 3개의 평균으로 보면 테스트 데이터에서는 {winner}의 정확도가"),
])
def test_with_several_seeds_the_discussion_compares_means(record, lang, sentence):
    first_winner = discussion.facts(record)["pairs"][0]["winner"]
    other = "lstm" if first_winner == "gru" else "gru"
    first = {name: record["models"][name]["test"]["accuracy"] for name in ("gru", "lstm")}
    # The first runs keep their order; the other seeds reverse it on average.
    html = quick_html(with_seeds(record, {first_winner: [first[first_winner], 0.60, 0.61],
                                          other: [first[other], 0.80, 0.81]}), lang)
    assert sentence.format(winner=record["models"][other]["display_name"]) in html
    assert sentence.format(winner=record["models"][first_winner]["display_name"]) not in html


def test_seed_table_and_spread_sentence_follow_the_runs(record):
    mean_gru, mean_lstm = 0.80, 0.70
    wide = with_seeds(copy.deepcopy(record), {"gru": [0.60, 1.00, 0.80], "lstm": [0.50, 0.90, 0.70]})
    narrow = with_seeds(copy.deepcopy(record), {"gru": [0.79, 0.81, 0.80], "lstm": [0.69, 0.71, 0.70]})
    html = quick_html(wide, "en")
    assert "Across 3 seeds" in html
    assert f"{format_percent(mean_gru)} ±\u00a0{format_percent(0.2)}" in html  # mean ± sample sd
    assert "42: 60.00%, 43: 100.00%, 44: 80.00%" in html
    assert "another set of seeds could well reverse the order" in html
    assert "larger than that spread" in quick_html(narrow, "en")
    assert format_percent(mean_lstm) in quick_html(narrow, "en")
    assert "순위가 뒤집힐 수도 있다" in quick_html(wide, "ko")


def test_one_seed_shows_no_seed_table(record):
    assert "Across" not in quick_html(record, "en")
    assert "--seeds N" in quick_html(record, "en")


def test_seed_band_is_mean_and_sd_over_the_runs_that_reached_each_epoch():
    from labreport.report import figures
    runs = [{"history": {"val_loss": [0.6, 0.4, 0.5]}}, {"history": {"val_loss": [0.8, 0.6]}}]
    epochs, mean, sd = figures.across_runs(runs, "val_loss")
    assert epochs == [1, 2, 3]
    assert mean.tolist() == pytest.approx([0.7, 0.5, 0.5])
    assert sd.tolist() == pytest.approx([0.1414213562, 0.1414213562, 0.0])


def test_several_seeds_change_the_convergence_figure(record):
    from labreport.report import figures
    labels = embedding.figure_label(templates.load_catalog("en"))
    one = figures.save(figures.convergence(record["models"]["gru"], labels), ("png",))["png"]
    seeded = with_seeds(record, {"gru": [0.8, 0.7], "lstm": [0.8, 0.7]})
    seeded["models"]["gru"]["runs"][1]["history"]["val_loss"] = [v + 0.05 for v in seeded["models"]["gru"]["history"]["val_loss"]]
    two = figures.save(figures.convergence(seeded["models"]["gru"], labels), ("png",))["png"]
    assert one.startswith(b"\x89PNG") and two.startswith(b"\x89PNG")
    assert one != two


def test_reader_uses_the_training_order_not_the_files_key_order(tmp_path, record):
    from labreport.core import record as record_module
    record["config"]["model"]["models"] = ["lstm", "gru"]
    (tmp_path / "results.json").write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
    assert list(record_module.load_record(tmp_path)["models"]) == ["lstm", "gru"]


def test_a_pair_tested_the_other_way_round_is_read_with_sides_swapped(record):
    test = record["analysis"]["pairs"][0]
    assert (test["a"], test["b"]) == ("gru", "lstm")
    record["models"] = {"lstm": record["models"]["lstm"], "gru": record["models"]["gru"]}
    pair = discussion.facts(record)["pairs"][0]
    assert (pair["a"], pair["b"]) == ("lstm", "gru")
    s = pair["significance"]
    assert (s["a_only"], s["b_only"]) == (test["mcnemar"]["b_only"], test["mcnemar"]["a_only"])
    assert s["low_points"] == pytest.approx(-100 * test["bootstrap"]["high"])
    assert s["high_points"] == pytest.approx(-100 * test["bootstrap"]["low"])
    assert s["p_value"] == test["mcnemar"]["p_value"]


def test_site_never_imports_tensorflow(tmp_path, record):
    """A course site is built from records alone: checks, class figures and pages need no TensorFlow."""
    run = tmp_path / "class" / "student"
    run.mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    for name in ("report.ko.html", "report.en.html", "report.ko.pdf", "report.en.pdf"):
        (run / name).write_text("a report")
    result = cli_without_tensorflow("site", str(tmp_path / "class"), "--out", str(tmp_path / "site"))
    assert result.returncode == 0, result.stderr
    assert "no_predictions" in (tmp_path / "site" / "grades.csv").read_text(encoding="utf-8-sig")


def test_the_appendix_says_where_and_with_which_loop_each_model_trained(record):
    record["models"]["lstm"]["recurrent_loop"] = "fused"
    english = quick_html(record, "en")
    assert "<td>BiGRU trained on</td><td>CPU, Keras' own layer</td>" in english
    assert "<td>BiLSTM trained on</td><td>CPU, Keras' layer with labreport's fused CPU loop</td>" in english
    assert "CPU, Keras 층에 labreport의 CPU 융합 루프" in quick_html(record, "ko")
    record["models"]["gru"]["recurrent_loop"] = "compiled"
    assert "<td>BiGRU trained on</td><td>CPU, Keras' layer with labreport's compiled CPU loop</td>" in quick_html(record, "en")
    assert "CPU, Keras 층에 labreport의 컴파일된 CPU 루프" in quick_html(record, "ko")
    del record["models"]["gru"]["recurrent_loop"]  # a version-5 record: the device alone
    assert "fused CPU loop" in quick_html(record, "en") and "<code>CPU</code>" in quick_html(record, "en")


def draws_a_backslash(font) -> bool:
    """Whether `font` (a fontTools TTFont) draws U+005C as a backslash: one stroke from top left to
    bottom right, not the won sign (₩, four contours) that NanumGothic and most Korean fonts draw."""
    from fontTools.pens.recordingPen import RecordingPen

    pen = RecordingPen()
    font.getGlyphSet()[font.getBestCmap()[ord("\\")]].draw(pen)
    points = [point for _, arguments in pen.value for point in arguments]
    top, bottom = max(points, key=lambda p: (p[1], -p[0])), min(points, key=lambda p: (p[1], p[0]))
    return sum(operator == "closePath" for operator, _ in pen.value) == 1 and top[0] < bottom[0]


def test_figures_and_pages_draw_text_as_text_and_a_backslash_as_a_backslash(tmp_path, record):
    """Every figure holds the record's words and plain numbers, no mathtext (`$`, `\\mathdefault`)
    and no ₩ the record does not hold; a backslash in a review and in a learned word is drawn with
    a backslash glyph in the figures' font, the HTML's embedded font and the PDF's."""
    import base64
    import io

    import pypdf
    from fontTools.ttLib import TTFont

    from labreport.report import figures as figures_module
    from labreport.report.fonts import font_files

    for face in font_files().values():  # the figures (matplotlib) draw with these files
        assert draws_a_backslash(TTFont(str(face)))
    def without_codes(value):  # the record's reviews hold "$5.50" and more: none of it is left
        if isinstance(value, dict):
            return {key: without_codes(item) for key, item in value.items()}
        if isinstance(value, list):
            return [without_codes(item) for item in value]
        return re.sub(r"[$₩\\]", "", value) if isinstance(value, str) else value

    record = without_codes(record)
    record["models"]["gru"]["samples"][0]["text"] = "I saved it as C:\\films\\review.txt and watched it twice"
    record["models"]["gru"]["attributions"]["learned"]["positive"][0]["word"] = "back\\slash"
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    report_files.render_all(out, ["ko", "en"], ["html", "pdf"])
    for lang in ("ko", "en"):
        figures = figures_module.all_figures(record, embedding.figure_label(templates.load_catalog(lang)), ("svg",))
        for name, files in figures.items():
            svg = files["svg"].decode("utf-8")
            assert not [code for code in ("$", "\\mathdefault", "₩") if code in svg], (lang, name)
        assert ">back\\slash</text>" in figures["learned"]["svg"].decode("utf-8")
        html = (out / f"report.{lang}.html").read_text(encoding="utf-8")
        assert "C:\\films\\review.txt" in html and "₩" not in html
        embedded = re.findall(r"data:font/ttf;base64,([A-Za-z0-9+/=]+)", html)
        assert len(embedded) == 2 and all(draws_a_backslash(TTFont(io.BytesIO(base64.b64decode(data))))
                                          for data in embedded)
        gothic = []
        for page in pypdf.PdfReader(out / f"report.{lang}.pdf").pages:
            for font in page["/Resources"]["/Font"].values():
                font = font.get_object()
                if "Labreport-Gothic" in str(font["/BaseFont"]):
                    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
                    face = TTFont(io.BytesIO(descriptor["/FontFile2"].get_object().get_data()))
                    if ord("\\") in face.getBestCmap():
                        gothic.append(face)
        assert gothic and all(draws_a_backslash(face) for face in gothic), lang


def _ran(record, loop, build):
    record["schema_version"] = 8
    for entry in record["models"].values():
        entry["recurrent_loop"], entry["loop_build"] = loop, build
    record["models"]["gru"]["epoch_seconds"] = [5.0] * len(record["models"]["gru"]["epoch_seconds"])
    record["models"]["lstm"]["epoch_seconds"] = [1.0] * len(record["models"]["lstm"]["epoch_seconds"])
    return record


def test_the_appendix_says_which_build_of_the_compiled_loops_ran_and_why(record):
    portable = {"target": "x86-64-v3", "flags": "-march=x86-64-v3", "compiler": "g++", "reason": "native_refused"}
    english = quick_html(_ran(record, "compiled", portable), "en")
    assert ("<td>Compiled loops</td><td>Built by g++ for x86-64-v3 (-march=x86-64-v3), an instruction set many CPUs "
            "share: the compiler refused this CPU's own target (-march=native)") in english
    assert "컴파일러(g++)가 이 CPU 고유의 대상(-march=native)을 거부해서" in quick_html(record, "ko")
    fp16 = {"target": "native-no-avx512fp16", "flags": "-march=native -mno-avx512fp16", "compiler": "g++",
            "reason": "native_refused"}
    english = quick_html(_ran(record, "compiled", fp16), "en")
    assert ("<td>Compiled loops</td><td>Built by g++ for this CPU's own instruction set without AVX512-FP16 "
            "(-march=native -mno-avx512fp16)") in english
    assert "이 CPU 고유의 명령어 집합에서 그 확장만 뺀 설정(-march=native -mno-avx512fp16)으로 빌드했다" in quick_html(record, "ko")
    native = {"target": "native", "flags": "-march=native", "compiler": "c++", "reason": None}
    assert "c++로 이 CPU 고유의 명령어 집합(-march=native)에 맞춰 빌드했다." in quick_html(_ran(record, "compiled", native), "ko")
    failed = {"target": None, "flags": None, "compiler": "g++", "reason": "build_failed"}
    english = quick_html(_ran(record, "fused", failed), "en")
    assert "<td>Compiled loops</td><td>Not used: the C++ compiler (g++) could not build them" in english
    assert "C++ 컴파일러(g++)가 이 컴퓨터의 어떤 명령어 집합으로도 빌드하지 못해서" in quick_html(record, "ko")


def test_a_speed_gap_is_credited_to_tensorflow_s_kernels_only_where_keras_own_layers_ran(record):
    """The larger BiLSTM 5× faster: with Keras' layers the kernels explain it; with the fallback loops
    (the compiled ones off) or labreport's compiled loops, the sentence says so instead."""
    assert "depends on the kernels TensorFlow uses" in quick_html(_ran(record, "keras", None), "en")
    failed = {"target": None, "flags": None, "compiler": "g++", "reason": "build_failed"}
    english, korean = quick_html(_ran(record, "fused", failed), "en"), quick_html(record, "ko")
    assert "kernels TensorFlow uses" not in english and "TensorFlow가 쓰는 연산 커널" not in korean
    assert "the gap says more about this run's loops than about the cells: the compiled loops were off" in english
    assert "이 차이는 두 셀보다는 이번 실행에 쓰인 루프에서 비롯된 면이 크다" in korean
    native = {"target": "native", "flags": "-march=native", "compiler": "c++", "reason": None}
    english = quick_html(_ran(record, "compiled", native), "en")
    assert "kernels TensorFlow uses" not in english and "(here by C++ loops compiled for this machine)" in english
