"""What the cover says: a sample or partial run marked as such, a balanced title, one lab number;
and numbers that never break from their sign or unit."""

from __future__ import annotations

import re

import pytest

from labreport.core.settings import FULL_TEST_REVIEWS, FULL_TRAIN_REVIEWS, LAB_NUMBER
from labreport.report import render
from labreport.report.numbers import NO_BREAK, join_numbers
from labreport.report.page import with_joined_numbers
from labreport.report.templates import load_catalog, make_environment

FIGURES = {name: f"<svg>{name}</svg>" for name in
           ["lengths", "comparison", "confusion", "gradients", "learned", "convergence_gru", "convergence_lstm",
            "convergence_rnn"]}


def catalog(lang):
    return load_catalog(lang, None)


def full_run(record: dict) -> dict:
    dataset = record["dataset"]
    dataset["source"] = "archive"
    dataset["splits"]["train"]["total"] = FULL_TRAIN_REVIEWS - 5_000
    dataset["splits"]["validation"]["total"] = 5_000
    dataset["splits"]["test"]["total"] = FULL_TEST_REVIEWS
    return record


@pytest.mark.parametrize(("lang", "expected"), [
    ("ko", "표본 2,000개로 학습한 예시 보고서 — 실습 결과가 아님"),
    ("en", "Example report trained on a 2,000-review sample — not the lab's results"),
])
def test_a_sample_run_says_so_on_the_cover_and_the_banner(record, lang, expected):
    splits = record["dataset"]["splits"]
    assert record["dataset"]["source"] == "sample" and splits["train"]["total"] + splits["validation"]["total"] == 2_000
    page = render.render_html(record, lang, figures=FIGURES)
    assert f'<p class="run-notice">{expected}</p>' in page.replace("&#39;", "'")
    assert f'<div class="run-banner" role="note">{expected}</div>' in page.replace("&#39;", "'")


def test_the_notice_takes_its_numbers_from_the_record(record):
    record["dataset"]["splits"]["train"]["total"] = 1_234
    assert render.run_notice(record, catalog("en")).startswith("Example report trained on a 1,634-review sample")


def test_a_partial_run_says_so_and_a_full_run_does_not(record):
    record = full_run(record)
    assert render.run_notice(record, catalog("ko")) == ""
    page = render.render_html(record, "ko", figures=FIGURES)
    assert "run-notice" not in page.split("</style>", 1)[1] and "run-banner" not in page.split("</style>", 1)[1]
    record["dataset"]["splits"]["test"]["total"] = 10_000
    assert render.run_notice(record, catalog("ko")) == "IMDB 학습 리뷰 25,000개 중 25,000개로 학습한 예시 보고서 — 실습 결과가 아님"
    record["dataset"]["splits"]["test"]["total"] = FULL_TEST_REVIEWS
    record["dataset"]["splits"]["train"]["total"] = 7_000
    assert render.run_notice(record, catalog("en")) == \
        "Example report trained on 12,000 of IMDB's 25,000 training reviews — not the lab's results"


def test_both_languages_number_the_lab_alike(record):
    record["config"]["report"]["lab_title"] = ""
    assert render.lab_title(record["config"]["report"], catalog("ko")).startswith(f"실습 {LAB_NUMBER}:")
    assert render.lab_title(record["config"]["report"], catalog("en")).startswith(f"Lab {LAB_NUMBER}:")


@pytest.mark.parametrize("title", ["실습 5: BiGRU와 BiLSTM을 이용한 IMDB 영화 리뷰 감성 분류",
                                   "Lab 5: IMDB sentiment classification with BiGRU and BiLSTM"])
def test_a_title_that_wraps_is_cut_into_balanced_lines(title):
    lines = render.title_lines(title)
    assert " ".join(lines) == title and len(lines) == 2
    widths = [render._title_width(line) for line in lines]
    assert max(widths) <= render.TITLE_LINE_POINTS
    assert min(widths) > 0.6 * max(widths), lines  # no word alone: the greedy cut leaves "분류" by itself
    assert render.title_lines("Lab 5") == ["Lab 5"]


@pytest.mark.parametrize(("text", "joined"), [
    ("p &lt; 0.0001", "p &lt;\u00a00.0001"),
    ("p < 0.0001", "p <\u00a00.0001"),
    ("d × h = 32 × 16", "d × h =\u00a032 ×\u00a016"),
    ("a gap of 12 %p", "a gap of 12\u00a0%p"),
    ("1,234 개의 리뷰", "1,234\u00a0개의 리뷰"),
    ("took 3.5 s.", "took 3.5\u00a0s."),
    ("5 seeds and 3 epochs", "5 seeds and 3 epochs"),
    ("Lab 5 is", "Lab 5 is"),
])
def test_numbers_keep_their_sign_and_unit(text, joined):
    assert join_numbers(text) == joined


def test_the_page_joins_prose_but_not_code_styles_or_figures():
    page = '<style>a { width: 5 %; }</style><p>p &lt; 0.0001</p><pre>= 5</pre><svg><text>x = 1</text></svg><p title="= 2">= 3</p>'
    assert with_joined_numbers(page) == page.replace("&lt; 0.0001", f"&lt;{NO_BREAK}0.0001").replace(">= 3<", f">={NO_BREAK}3<")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_report_joins_its_numbers_to_their_signs(record, lang):
    page = render.render_html(record, lang, figures=FIGURES, env=make_environment(None))
    prose = re.sub(r"<(style|svg|pre)\b.*?</\1>", "", page, flags=re.DOTALL)
    assert re.search(r">[^<]*(&lt;|&gt;|=|×) [0-9]", prose) is None
    # The p-values are read in words now ("0.0001보다 작으므로"); the products and equalities remain.
    assert f"×{NO_BREAK}" in prose and f"={NO_BREAK}" in prose
