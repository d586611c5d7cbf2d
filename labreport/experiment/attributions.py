"""Which words decided: integrated gradients of each model's output with respect to its embedded input.

For a review x and a baseline x′, integrated gradients (Sundararajan et al., 2017) give each input
position the share ∫₀¹ ∂f(x′ + α(x − x′))/∂x · (x − x′) dα of f(x) − f(x′), summed over the
embedding dimension; the shares add up to f(x) − f(x′) (completeness), which is checked for every
review and the number of integration steps doubled until the error is under 5 %.

The baseline is the review made of padding tokens only: these models read padding as input (no
mask), and a review shorter than the input is padding at every other position, so "no words at all"
is the input the model itself treats as empty, and padding positions get exactly zero attribution.
f is the model's probability that the review is positive, so a positive attribution pushes towards
"positive".

Everything the report shows is computed here, during training, and stored in the record; rendering
needs no TensorFlow.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from labreport.core.config import Config
from labreport.experiment import encoding
from labreport.experiment.batches import width_for

START_STEPS = 32
MAX_STEPS = 512
COMPLETENESS_LIMIT = 0.05
"""Largest completeness error allowed, as a share of |f(x) − f(baseline)|."""
LEARNED_REVIEWS = 200
"""Seeded test reviews the learned-words summary averages over (see `learned_words`)."""
LEARNED_STREAM = 17
"""The random stream of the run's seed the learned-words sample is drawn from."""
LEARNED_STEPS = 16
MIN_COUNT = 10
"""A word is ranked only when it occurs this often in the sampled reviews."""
TOP_WORDS = 10
EDGE_TOKENS = 50
"""The evidence's place in a review: the first and the last this many kept words."""
CHUNK = 256
"""Interpolated reviews per forward/backward pass (bounds memory: chunk × width × embedding)."""


def _head(model, embedded, training: bool = False):
    h = embedded
    for name in ("bidirectional", "dropout", "dense"):
        h = model.get_layer(name)(h, training=training)
    return h[:, 0]


_COMPILED: dict[int, tuple] = {}


def _functions(model):
    """The output and its gradient for embedded inputs, as graphs traced once per model.

    Eagerly, a recurrent layer runs its time steps op by op from Python, which is many times slower;
    the graphs read the model's variables, so new weights (the randomisation check) need no retracing.
    """
    import tensorflow as tf

    key = id(model)
    if key not in _COMPILED:
        spec = [tf.TensorSpec((None, None, model.get_layer("embedding").output_dim), tf.float32)]

        @tf.function(input_signature=spec, autograph=False)
        def gradient(path):
            with tf.GradientTape() as tape:
                tape.watch(path)
                out = _head(model, path)
            return tape.gradient(out, path)

        @tf.function(input_signature=spec, autograph=False)
        def output(embedded):
            return _head(model, embedded)

        _COMPILED.clear()  # one model at a time: the graphs hold its variables
        _COMPILED[key] = (gradient, output)
    return _COMPILED[key]


def _embedded(model, tokens: np.ndarray):
    """The reviews' embedded input and the all-padding baseline's."""
    import tensorflow as tf

    embedding = model.get_layer("embedding")
    tokens = tf.constant(tokens, dtype=tf.int32)
    return embedding(tokens), embedding(tf.zeros_like(tokens))


def batch_attributions(model, tokens: np.ndarray, steps: int) -> np.ndarray:
    """Attribution per position for reviews of one width: (n, width); their interpolation paths share each pass.

    Args:
        model: the lab's model (layers named embedding, bidirectional, dropout, dense).
        tokens: (n, width) word indices, padding 0.
        steps: integration steps (midpoint rule).
    """
    import tensorflow as tf

    gradient, _ = _functions(model)
    x, base = _embedded(model, tokens)
    delta = x - base
    alphas = tf.constant((np.arange(steps) + 0.5) / steps, dtype=x.dtype)
    n, width = tokens.shape
    path = tf.reshape(base[:, None] + alphas[None, :, None, None] * delta[:, None], (n * steps, width, -1))
    grads = tf.concat([gradient(path[start:start + CHUNK]) for start in range(0, n * steps, CHUNK)], axis=0)
    mean = tf.reduce_mean(tf.reshape(grads, (n, steps, width, -1)), axis=1)
    return tf.reduce_sum(mean * delta, axis=-1).numpy()


def integrated_gradients(model, tokens: np.ndarray, steps: int):
    """`batch_attributions` with the outputs completeness is checked against.

    Returns:
        (attributions (n, width), f_x (n,), f_baseline (n,)).
    """
    _, output = _functions(model)
    x, base = _embedded(model, tokens)
    return batch_attributions(model, tokens, steps), output(x).numpy(), output(base).numpy()


def completeness_error(attributions: np.ndarray, f_x: np.ndarray, f_base: np.ndarray) -> np.ndarray:
    """|Σ attributions − (f(x) − f(baseline))| as a share of |f(x) − f(baseline)|."""
    gap = f_x - f_base
    return np.abs(attributions.sum(axis=-1) - gap) / np.maximum(np.abs(gap), 1e-9)


def explain(model, tokens: np.ndarray) -> tuple[np.ndarray, float, int, float, float]:
    """One review's attributions with steps doubled until completeness holds within the limit.

    Returns:
        (attributions (width,), completeness error, steps, f(x), f(baseline)).
    """
    steps = START_STEPS
    while True:
        attributions, f_x, f_base = integrated_gradients(model, tokens[None], steps)
        error = float(completeness_error(attributions, f_x, f_base)[0])
        if error < COMPLETENESS_LIMIT or steps >= MAX_STEPS:
            return attributions[0], error, steps, float(f_x[0]), float(f_base[0])
        steps *= 2


def kept_words(text: str, width: int, side: str) -> list[str]:
    """The words of `text` the model read, in the order of the `width` input positions they fill."""
    words = encoding.tokenize(text)
    return words[-width:] if side == "pre" else words[:width]


def review_attributions(model, text: str, vocabulary: encoding.Vocabulary, width: int, side: str):
    """A review's words with their attribution, for the page: [[word, value], ...] in reading order.

    Returns:
        (the record's entry, the model's input, the attribution at every input position).
    """
    words = kept_words(text, width, side)
    x = encoding.pad([vocabulary.encode(words)], width, side)[0]
    values, error, steps, f_x, f_base = explain(model, x)
    real = values[width - len(words):] if side == "pre" else values[: len(words)]
    entry = {"tokens": [[w, round(float(v), 6)] for w, v in zip(words, real)],
             "completeness_error": round(error, 6), "steps": steps,
             "probability": round(f_x, 6), "baseline_probability": round(f_base, 6)}
    return entry, x, values


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3:
        return float("nan")
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def learned_words(model, split: encoding.Encoded, vocabulary: encoding.Vocabulary, side: str, seed: int) -> dict:
    """Words with the largest mean attribution over a seeded sample of test reviews, and where evidence sits.

    LEARNED_REVIEWS reviews hold tens of thousands of words on the full data, so the few hundred
    words that occur MIN_COUNT times or more get a mean over at least that many uses; rarer words
    are not ranked. LEARNED_STEPS integration steps suffice for a mean over many uses (the
    completeness of each single review is checked on the reviews shown in full).
    """
    rng = np.random.default_rng([seed, LEARNED_STREAM])
    chosen = np.sort(rng.choice(len(split.y), size=min(LEARNED_REVIEWS, len(split.y)), replace=False))
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    first = last = total = 0.0
    edge_reviews = 0
    width = split.x.shape[1]
    for start in range(0, len(chosen), 16):
        idx = chosen[start:start + 16]
        values = batch_attributions(model, split.x[idx], LEARNED_STEPS)
        for row, i in enumerate(idx):
            kept = min(int(split.lengths[i]), width)
            tokens = split.x[i][width - kept:] if side == "pre" else split.x[i][:kept]
            v = values[row][width - kept:] if side == "pre" else values[row][:kept]
            for token, value in zip(tokens, v):
                if token > 1:  # padding and the unknown-word index are not words
                    sums[int(token)] = sums.get(int(token), 0.0) + float(value)
                    counts[int(token)] = counts.get(int(token), 0) + 1
            if kept >= 2 * EDGE_TOKENS:
                a = np.abs(v)
                first += float(a[:EDGE_TOKENS].sum())
                last += float(a[-EDGE_TOKENS:].sum())
                total += float(a.sum())
                edge_reviews += 1
    means = {t: sums[t] / counts[t] for t in sums if counts[t] >= MIN_COUNT}
    ranked = sorted(means, key=means.get)

    def entries(tokens):
        return [{"word": vocabulary.words[t - 2], "mean": round(means[t], 6), "count": counts[t]} for t in tokens]

    return {
        "reviews": int(len(chosen)), "steps": LEARNED_STEPS, "min_count": MIN_COUNT,
        "positive": entries([t for t in reversed(ranked) if means[t] > 0][:TOP_WORDS]),
        "negative": entries([t for t in ranked if means[t] < 0][:TOP_WORDS]),
        "position": {"reviews": edge_reviews, "edge_tokens": EDGE_TOKENS,
                     "first": round(first / total, 6) if total else None,
                     "last": round(last / total, 6) if total else None},
    }


def randomization_check(model, fresh_recurrent_weights: list, reviews: list[np.ndarray], trained: list[np.ndarray]) -> dict:
    """Rank correlation of attributions after the recurrent layer's weights are re-initialised (Adebayo et al., 2018).

    A map that still looks the same with random weights would show the input, not what the model
    learned; the trained weights are put back afterwards.
    """
    layer = model.get_layer("bidirectional")
    kept = layer.get_weights()
    layer.set_weights(fresh_recurrent_weights)
    try:
        correlations = []
        for x, values in zip(reviews, trained):
            randomized, _, _ = integrated_gradients(model, x[None], START_STEPS)
            real = x > 0
            rho = _spearman(values[real], randomized[0][real])
            if not np.isnan(rho):
                correlations.append(rho)
    finally:
        layer.set_weights(kept)
    return {"spearman": round(float(np.mean(correlations)), 6) if correlations else None, "reviews": len(correlations)}


def attribute(model, fresh_recurrent_weights: list, texts: list[tuple[str, int, str]], split: encoding.Encoded,
              vocabulary: encoding.Vocabulary, max_length: int, side: str, bucketing_width, seed: int) -> dict:
    """The record's `attributions` for one model.

    Args:
        texts: (kind "sample" | "disagreement", test index, text) of every review shown in full.
        bucketing_width: the input width evaluation gives a review of n words (so f(x) is the record's probability).
    """
    start = time.perf_counter()
    reviews, inputs, values = [], [], []
    for kind, index, text in texts:
        entry, x, at = review_attributions(model, text, vocabulary, bucketing_width(len(encoding.tokenize(text))), side)
        reviews.append({"kind": kind, "index": int(index), **entry})
        inputs.append(x)
        values.append(at)
    learned = learned_words(model, split, vocabulary, side, seed)
    randomization = randomization_check(model, fresh_recurrent_weights, inputs, values)
    return {
        "method": "integrated_gradients", "baseline": "padding", "output": "probability",
        "completeness_limit": COMPLETENESS_LIMIT, "reviews": reviews, "learned": learned,
        "randomization": randomization, "seconds": round(time.perf_counter() - start, 3),
    }


def explain_model(name: str, path: Path, prepared, config: Config, disagreements: list[dict],
                  samples: list[int], progress) -> dict:
    """The record's `attributions` of one finished model: its best checkpoint, loaded from `path`.

    Args:
        prepared: the run's `prepare.Prepared` (test split and vocabulary).
        disagreements, samples: the reviews the report shows in full.
        progress: where to say what is happening.
    """
    import keras

    from labreport.experiment import models
    progress(f"explaining {models.DISPLAY_NAMES[name]}'s decisions word by word (integrated gradients)")
    model = keras.models.load_model(path)
    keras.utils.set_random_seed(config.train.seed + 1)
    fresh = models.build_model(name, config, sequence_length=None).get_layer("bidirectional").get_weights()
    texts = [("sample", i, encoding.clean(prepared.test.texts[i]).strip()) for i in samples]
    texts += [("disagreement", d["index"], d["text"]) for d in disagreements]
    result = attribute(model, fresh, texts, prepared.test, prepared.vocabulary, config.data.max_length,
                       config.data.padding, lambda n: width_for(n, config.data.max_length, config.train.bucketing),
                       config.train.seed)
    keras.backend.clear_session()
    return result
