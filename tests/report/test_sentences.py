"""Sentences chosen by the data: a fact the models share is said once of them together, two models
are compared (not ranked), a p-value under the floor is read as words, and a value that is the
extreme is called the extreme. Each test flips the record's numbers and checks that the sentence flips.
"""

import re

import pytest

from labreport.report import render


def figure_placeholders(record):
    names = ["lengths", "comparison", "confusion", "gradients", "learned"] + [f"convergence_{n}" for n in record["models"]]
    return {name: f"<svg>{name}</svg>" for name in names}


def text(record, lang):
    html = render.render_html(record, lang, figures=figure_placeholders(record))
    html = re.sub(r"<(style|svg|script|head)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_a_shared_checkpoint_is_one_sentence(record):
    # In the checked-in run both models' best checkpoint is their last epoch.
    ko, en = text(record, "ko"), text(record, "en")
    assert "BiGRU와 BiLSTM 모두 최적 체크포인트가 마지막 에포크이므로 두 평가가 같은 가중치를 쓴다." in ko
    assert "BiGRU는 최적 체크포인트가" not in ko and "BiLSTM은 최적 체크포인트가" not in ko
    assert "For BiGRU and BiLSTM alike the best checkpoint is the last epoch" in en


def test_a_checkpoint_only_one_model_has_is_said_of_that_model(record):
    record["models"]["gru"]["best_epoch"] = 3
    ko = text(record, "ko")
    assert "BiLSTM은 최적 체크포인트가 마지막 에포크이므로" in ko
    assert "모두 최적 체크포인트가" not in ko
    assert "BiGRU의 최적 체크포인트(3 에포크)" in ko


def test_a_shared_rank_correlation_is_one_sentence(record):
    ko, en = text(record, "ko"), text(record, "en")  # both 0.22 once rounded
    assert "BiGRU와 BiLSTM 모두 학습된 모델의 기여도와의 순위 상관이 0.22로 떨어진다" in ko
    assert ko.count("순환층의 가중치를 새로 초기화하면") == 1
    assert "the attributions of BiGRU and BiLSTM alike keep a rank correlation of 0.22" in en


def test_different_rank_correlations_are_still_one_sentence(record):
    record["models"]["lstm"]["attributions"]["randomization"]["spearman"] = 0.31
    ko, en = text(record, "ko"), text(record, "en")
    assert "학습된 모델의 기여도와의 순위 상관이 BiGRU는 0.22, BiLSTM은 0.31로 떨어진다" in ko
    assert ko.count("순환층의 가중치를 새로 초기화하면") == 1
    assert "0.22 for BiGRU, 0.31 for BiLSTM" in en


def test_two_models_are_compared_not_ranked(record):
    ko, en = text(record, "ko"), text(record, "en")
    assert "더 약하게 전달되는 모델은 BiGRU, 더 잘 전달되는 모델은 BiLSTM이다" in ko
    assert "가장 약하게" not in ko and "most weakly" not in en


def test_one_measurement_of_every_model_is_one_sentence(record):
    ko = text(record, "ko")
    assert "양 끝의 기울기는 가운데보다 BiGRU가 395.7배, BiLSTM이 1.4배 크다." in ko
    assert "BiGRU는 양 끝의 기울기가" not in ko


def test_where_the_evidence_sits_is_one_sentence_for_all_models(record):
    ko, en = text(record, "ko"), text(record, "en")
    assert "기여도 절댓값 가운데 리뷰의 마지막 50단어와 처음 50단어에 있는 비율은 BiGRU " in ko
    assert "BiGRU는 기여도 절댓값의" not in ko and "In BiGRU," not in en


def test_the_lower_loss_names_both_models(record):
    assert "BiLSTM의 손실이 0.4859로 BiGRU의 0.6230보다 낮다." in text(record, "ko")


@pytest.mark.parametrize("p_value, ko, en", [
    (3.8e-11, "p값이 0.0001보다 작으므로 이 차이는", "gives p below 0.0001, so"),
    (0.0123, "p값이 0.0123이므로 이 차이는", "gives p = 0.0123, so"),
])
def test_a_p_value_is_read_as_words(record, p_value, ko, en):
    record["analysis"]["pairs"][0]["mcnemar"]["p_value"] = p_value
    ko_text, en_text = text(record, "ko"), text(record, "en")
    assert ko in ko_text and en in en_text
    assert "< 0.0001이므로" not in ko_text and "p값은 <" not in ko_text


def test_the_lowest_loss_is_called_the_lowest(record):
    ko, en = text(record, "ko"), text(record, "en")  # the last epoch has the lowest validation loss
    assert "검증 손실은 마지막 에포크(0.6058)에서 가장 낮았으므로" in ko
    assert "가장 낮은 수준이거나" not in ko and "가까웠으므로" not in ko
    assert "The validation loss was lowest in the last epoch (0.6058)" in en


def test_a_near_lowest_loss_is_hedged(record):
    record["models"]["gru"]["history"]["val_loss"][2] = 0.6050  # just under the last epoch's 0.6058
    ko = text(record, "ko")
    assert "검증 손실은 마지막 에포크(0.6058)에도 가장 낮은 값에 가까웠으므로" in ko
    assert "검증 손실은 마지막 에포크(0.4696)에서 가장 낮았으므로" in ko  # the other model's is still the lowest


def test_two_names_are_joined_by_the_particle_they_take(record):
    assert "게이트 구조 [1, 2]인 BiGRU와 BiLSTM을 같은 조건에서 비교" in text(record, "ko")
    record["models"] = dict(reversed(list(record["models"].items())))
    assert "BiLSTM과 BiGRU" in text(record, "ko")


def first_runs_messages(record, found):
    from labreport.report import discussion
    return [(i, msg.id) for i, (_, paras) in enumerate(discussion.paragraphs(record, found))
            for para in paras for msg in para.msgs if msg.id.startswith("discussion.first_runs")]


def test_which_runs_the_tests_compare_is_said_once_for_all_pairs(record):
    import copy

    from labreport.report import discussion
    from tests.report.test_render import with_seeds
    seeded = with_seeds(record, {"gru": [0.68, 0.70], "lstm": [0.78, 0.80]})
    found = discussion.facts(seeded)
    assert first_runs_messages(seeded, found) == [(0, "discussion.first_runs")]
    # Three tested pairs (as with BiRNN, BiGRU and BiLSTM): the first says it of every pair, the others not again.
    found["pairs"] = [found["pairs"][0], copy.deepcopy(found["pairs"][0]), copy.deepcopy(found["pairs"][0])]
    assert first_runs_messages(seeded, found) == [(0, "discussion.first_runs_all")]
    ko = text(seeded, "ko")
    assert ko.count("각 모델의 첫 번째 실행(시드 42)끼리 비교한다") == 1


def test_a_negative_number_takes_the_minus_sign(record):
    # The checked-in bootstrap interval of BiGRU − BiLSTM is −15.4 to −8.7 points.
    ko, en = text(record, "ko"), text(record, "en")
    assert "95% 구간은 −15.40%p부터 −8.70%p까지" in ko
    assert "−15.40" in en and "-15.40" not in en and "-15.40" not in ko


@pytest.mark.parametrize("value, written", [(-15.4, "−15.40"), (15.4, "15.40"), (-0.001, "0.00"), (0.0, "0.00")])
def test_points_are_signed_with_a_minus_and_never_minus_zero(value, written):
    from labreport.report.numbers import format_points
    assert format_points(value) == written


def checkpoints(record, gru_last, lstm_last):
    """Both models' best checkpoint an earlier epoch than their last, with these last-epoch accuracies."""
    for name, last in (("gru", gru_last), ("lstm", lstm_last)):
        entry = record["models"][name]
        entry["best_epoch"] = entry["epochs_run"] - 1
        entry["test_last_epoch"]["accuracy"] = last
    return record


def test_checkpoints_that_did_alike_are_one_sentence(record):
    gru, lstm = (record["models"][n]["test"]["accuracy"] for n in ("gru", "lstm"))
    beat = checkpoints(record, gru - 0.01, lstm - 0.02)
    ko, en = text(beat, "ko"), text(beat, "en")
    assert "최적 체크포인트는 테스트 데이터에서 마지막 에포크의 가중치보다 BiGRU가 1.00%p(3 에포크 대 4 에포크), BiLSTM이 2.00%p" in ko
    assert "BiGRU의 최적 체크포인트" not in ko and "BiLSTM의 최적 체크포인트" not in ko
    assert "beat the last epoch's weights on the test split by 1.00 points for BiGRU (epoch 3 against 4), 2.00 points for BiLSTM" in en
    # The BiLSTM's last epoch does better: two sentences, one per way.
    ko = text(checkpoints(record, gru - 0.01, lstm + 0.02), "ko")
    assert "BiGRU의 최적 체크포인트(3 에포크)는 테스트 데이터에서 마지막 에포크(4)의 가중치보다 1.00%p 높았다." in ko
    assert "BiLSTM의 최적 체크포인트(3 에포크)는 테스트 데이터에서 마지막 에포크(4)의 가중치보다 2.00%p 낮았다." in ko
