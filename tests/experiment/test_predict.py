"""`labreport predict`'s table in a terminal: columns by display width, no verdict without a known word."""

from __future__ import annotations

import pytest

from labreport.experiment.predict import REVIEW_COLUMNS, display_width, fit_to_width, format_predictions

NAMES = {"gru": "BiGRU", "lstm": "BiLSTM"}


def review(text: str, known: int, gru: float, lstm: float) -> dict:
    decide = (lambda p: "positive" if p > 0.5 else "negative") if known else (lambda p: None)
    return {"text": text, "known_words": known,
            "predictions": {"gru": {"probability": gru, "decision": decide(gru)},
                            "lstm": {"probability": lstm, "decision": decide(lstm)}}}


@pytest.mark.parametrize("text, width", [
    ("film", 4), ("영화", 4), ("ｆｉｌｍ", 8), ("🎬", 2), ("e\u0301", 1), ("\u1112\u1161\u11ab", 2),
    ("a\u200bb", 2), ("", 0),
])
def test_display_width_counts_terminal_columns(text, width):
    assert display_width(text) == width


def test_columns_line_up_for_korean_english_and_emoji_reviews():
    reviews = [review("A wonderful film.", 3, 0.9, 0.8),
               review("배우들의 연기가 훌륭했고 이야기도 감동적이었다", 4, 0.7, 0.2),
               review("정말 재미있는 영화였다 배우들의 연기가 훌륭했고 이야기도 감동적이었다 다시 보고 싶다", 6, 0.3, 0.6),
               review("🎬 great 🎬", 1, 0.6, 0.6)]
    lines = format_predictions({"models": ["gru", "lstm"], "reviews": reviews}, NAMES).splitlines()
    columns = {display_width(line[:line.index("BiGRU")]) for line in lines}
    assert columns == {REVIEW_COLUMNS + 2}
    assert {display_width(line) for line in lines} == {display_width(lines[0])}
    assert lines[2][:lines[2].index("BiGRU")].rstrip().endswith("...")


def test_a_review_without_a_known_word_gets_no_verdict():
    reviews = [review("🎬👍🎬", 0, 0.41, 0.47), review("A wonderful film.", 3, 0.9, 0.2)]
    nothing, something = format_predictions({"models": ["gru", "lstm"], "reviews": reviews}, NAMES).splitlines()
    assert "positive" not in nothing and "negative" not in nothing
    assert "BiGRU 0.410" in nothing and "BiLSTM 0.470" in nothing
    assert nothing.endswith("(no word of the vocabulary: the probability says nothing about this review)")
    assert "BiGRU 0.900 positive" in something and "BiLSTM 0.200 negative" in something
    # The note begins two columns after where the verdicts end.
    assert display_width(nothing[:nothing.index("(no word")]) == display_width(something) + 2


def test_control_characters_do_not_reach_the_terminal():
    [line] = format_predictions({"models": ["gru", "lstm"], "reviews": [review("red \x1b[31mfilm\x07", 2, 0.9, 0.9)]},
                                NAMES).splitlines()
    assert "\x1b" not in line and "\x07" not in line and "\ufffd[31mfilm\ufffd" in line


def test_fit_to_width_never_splits_a_wide_character_over_the_limit():
    cut = fit_to_width("가" * 40, 9)
    assert cut == "가" * 3 + "..." and display_width(cut) == 9
