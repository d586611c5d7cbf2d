"""Word attributions: integrated gradients checked on a hand-made model, and their page."""

import html as html_module
import re

import numpy as np
import pytest

from labreport.report import discussion, render, tables
from tests.report.test_own_words import FIGURES, visible


def one_token_model():
    """The lab's layout with weights set by hand so that only word 3 at the last position matters.

    Word 3 embeds to (1, 0), word 4 to (0, 1), padding and the rest to (0, 0). Recurrent weights are
    zero and the input weight reads the first dimension only, so the forward state after the last
    word is tanh(2·e₀) and the backward state reads the first word; the dense layer reads the
    forward state alone.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(6, 2, name="embedding")(inputs)
    x = layers.Bidirectional(layers.SimpleRNN(1), name="bidirectional")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="dense")(x)
    model = keras.Model(inputs, outputs)
    embedding = np.zeros((6, 2), dtype=np.float32)
    embedding[3] = (1, 0)
    embedding[4] = (0, 1)
    model.get_layer("embedding").set_weights([embedding])
    kernel, recurrent, bias = np.array([[2.0], [0.0]]), np.zeros((1, 1)), np.zeros(1)
    model.get_layer("bidirectional").set_weights([kernel, recurrent, bias, kernel, recurrent, bias])
    model.get_layer("dense").set_weights([np.array([[3.0], [0.0]]), np.zeros(1)])
    return model


def test_a_model_that_reads_one_word_gives_it_all_the_attribution():
    from labreport.experiment import attributions
    model = one_token_model()
    tokens = np.array([0, 0, 4, 5, 4, 3], dtype=np.int32)
    values, error, steps, f_x, f_base = attributions.explain(model, tokens)
    assert f_base == pytest.approx(0.5) and f_x == pytest.approx(1 / (1 + np.exp(-3 * np.tanh(2))), rel=1e-5)
    assert error < attributions.COMPLETENESS_LIMIT
    assert values[-1] == pytest.approx(f_x - f_base, rel=0.02)  # word 3 takes (almost) all of f(x) − f(baseline)
    assert np.abs(values[:-1]).max() < 1e-6  # word 4 moves the input but not the output; padding is the baseline
    # Completeness: the shares add up to the change of the output.
    assert values.sum() == pytest.approx(f_x - f_base, rel=attributions.COMPLETENESS_LIMIT)


def test_more_steps_are_taken_until_completeness_holds(monkeypatch):
    from labreport.experiment import attributions
    model = one_token_model()
    tokens = np.array([0, 4, 3], dtype=np.int32)
    one_step, _, _ = attributions.integrated_gradients(model, tokens[None], 1)
    rough = attributions.completeness_error(one_step, *attributions.integrated_gradients(model, tokens[None], 1)[1:])[0]
    assert rough > attributions.COMPLETENESS_LIMIT  # one step is not enough for tanh's curve
    monkeypatch.setattr(attributions, "START_STEPS", 1)
    _, error, steps, _, _ = attributions.explain(model, tokens)
    assert error < attributions.COMPLETENESS_LIMIT and steps > 1


def test_randomised_weights_lower_the_rank_correlation():
    from labreport.experiment import attributions
    model = one_token_model()
    rng = np.random.default_rng(0)
    reviews = [rng.integers(1, 6, 12).astype(np.int32) for _ in range(6)]
    trained = [attributions.explain(model, x)[0] for x in reviews]
    same = attributions.randomization_check(model, model.get_layer("bidirectional").get_weights(), reviews, trained)
    fresh = [rng.normal(size=w.shape).astype(np.float32) for w in model.get_layer("bidirectional").get_weights()]
    randomized = attributions.randomization_check(model, fresh, reviews, trained)
    assert same["spearman"] == pytest.approx(1.0)
    assert randomized["spearman"] < same["spearman"] - 0.2
    assert model.get_layer("bidirectional").get_weights()[0][0, 0] == pytest.approx(2.0)  # trained weights put back


# ---------------------------------------------------------------------------------------------
# The page


def test_the_checked_in_record_has_complete_attributions(record):
    for entry in record["models"].values():
        a = entry["attributions"]
        assert {r["kind"] for r in a["reviews"]} == {"sample", "disagreement"}
        for review in a["reviews"]:
            total = sum(v for _, v in review["tokens"])
            gap = review["probability"] - review["baseline_probability"]
            assert review["completeness_error"] < a["completeness_limit"]
            assert abs(total - gap) <= a["completeness_limit"] * abs(gap) + 1e-5
        assert a["learned"]["positive"] and a["learned"]["negative"]


def test_shading_follows_the_records_values(record):
    review = record["models"]["gru"]["attributions"]["reviews"][0]
    html = render.render_html(record, "en", figures=FIGURES)
    strongest = max(review["tokens"], key=lambda t: abs(t[1]))
    spans = re.findall(r'<span class="w" style="background: rgba\((\d+),(\d+),(\d+),([0-9.]+)\)[^"]*" title="([^"]+)">([^<]*)</span>',
                       html)
    first = spans[:len(review["tokens"])]
    assert [html_module.unescape(s[5]) for s in first] == [w for w, _ in review["tokens"]]
    alphas = [float(s[3]) for s in first]
    assert alphas[review["tokens"].index(strongest)] == max(alphas) == 0.85
    for (r, g, b, _alpha, title, _word), (_, value) in zip(first, review["tokens"]):
        assert float(title.replace("\u2212", "-")) == pytest.approx(value, abs=1e-4)  # the page prints − for minus
        if value > 0:
            assert (int(r), int(g), int(b)) == tables.POSITIVE_RGB
        elif value < 0:
            assert (int(r), int(g), int(b)) == tables.NEGATIVE_RGB


def test_review_markup_stays_escaped_in_the_shading(record):
    record["models"]["gru"]["attributions"]["reviews"][0]["tokens"][0][0] = '<script>alert("x")</script>'
    html = render.render_html(record, "ko", figures=FIGURES)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>" in html
    assert "<script>alert" not in html


def test_sentences_follow_where_the_evidence_sits(record):
    del record["analysis"]  # its tables would need the third model too
    rnn = {**record["models"]["gru"], "name": "rnn", "display_name": "BiRNN"}
    record["models"]["rnn"] = rnn
    FIGURES_RNN = {**FIGURES, "convergence_rnn": "<svg></svg>"}
    for entry, last in ((record["models"]["gru"], 0.40), (record["models"]["lstm"], 0.45)):
        entry["attributions"] = {**entry["attributions"], "learned": {**entry["attributions"]["learned"],
                                                                       "position": {**entry["attributions"]["learned"]["position"], "last": last}}}
    rnn["attributions"] = {**rnn["attributions"], "learned": {**rnn["attributions"]["learned"],
                                                               "position": {**rnn["attributions"]["learned"]["position"], "last": 0.90}}}
    assert discussion.facts(record)["crowded"] is True
    assert "The plain RNN's evidence is crowded at the end" in visible(render.render_html(record, "en", figures=FIGURES_RNN))
    rnn["attributions"]["learned"]["position"]["last"] = 0.44
    assert discussion.facts(record)["crowded"] is False
    assert "is not crowded at the end more than the gated cells'" in visible(render.render_html(record, "en", figures=FIGURES_RNN))


def test_without_attributions_the_section_is_left_out(record):
    for entry in record["models"].values():
        del entry["attributions"]
    html = render.render_html(record, "en", figures=FIGURES)
    assert "Which words decided" not in html and "sundararajan2017" not in html
