"""labreport versus the lab's notebook, side by side on one machine, in one run.

Times, on the same IMDB archive with the same settings and seed:

  (a) a bare replica of the lab's notebook pipeline, written as a student would: read the reviews,
      vectorize, pad to 300, `model.fit(..., validation_split=0.2)` with early stopping and a
      checkpoint, `model.evaluate` — both models;
  (b) `labreport train` with the same settings — both models;
  (c) `labreport render` of (b)'s record, both languages, HTML and PDF; and `labreport build --quick`.

Before (b), labreport's compiled loops (labreport/kernels) are built into a cache folder of this run
(WORKDIR/cache) and the build is timed on its own: a student pays it once per machine, not per run.

Each variant runs in its own process, so its peak resident memory (VmHWM) is its own. It prints
wall seconds per epoch, total wall, peak memory and test accuracy of each model, the ratios (b)/(a),
the machine and the library versions, and writes them to benchmarks/RESULTS.md.

    python benchmarks/notebook_vs_labreport.py --data ../shared/data/aclImdb_v1_labeled.tar.gz

Targets: (b) wall ≤ 0.33 × (a) wall with the lab's defaults (10 epochs, early stopping), each model's
accuracy no lower than labreport's earlier runs (87.02 % BiGRU, 87.43 % BiLSTM); (b) peak < 2 GiB;
render < 15 s; build --quick < 90 s. Run it in both orders (--order ab, then ba).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------------------------
# (a) The notebook, as a student writes it (Keras 3: TextVectorization + pad_sequences).


def notebook(archive: str, epochs: int, workdir: Path) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    start = time.perf_counter()
    keras.utils.set_random_seed(42)
    texts = {"train": [], "test": []}
    labels = {"train": [], "test": []}
    with tarfile.open(archive) as tar:
        for member in tar:
            match = re.search(r"aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt$", member.name)
            if match:
                texts[match[1]].append(tar.extractfile(member).read().decode("utf-8"))
                labels[match[1]].append(1 if match[2] == "pos" else 0)
    # tfds serves the training split shuffled; the archive is sorted by class, so shuffle as tfds would.
    order = np.random.permutation(len(texts["train"]))
    x_train_str = [texts["train"][i] for i in order]
    y_train = np.array(labels["train"])[order]
    x_test_str, y_test = texts["test"], np.array(labels["test"])

    vectorizer = keras.layers.TextVectorization(max_tokens=10000)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(x_train_str).batch(1024))
    to_lists = lambda xs: [row[row != 0].tolist() for row in vectorizer(xs).numpy()]  # noqa: E731
    x_train = keras.utils.pad_sequences(to_lists(x_train_str), maxlen=300)
    x_test = keras.utils.pad_sequences(to_lists(x_test_str), maxlen=300)

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.t)
            print(f"  notebook epoch {epoch + 1}: {self.seconds[-1]:.1f} s, val_accuracy {logs['val_accuracy']:.4f}",
                  file=sys.stderr, flush=True)

    results = {}
    for name, cell in (("gru", keras.layers.GRU), ("lstm", keras.layers.LSTM)):
        keras.utils.set_random_seed(42)
        model = keras.Sequential([
            keras.Input(shape=(300,)),
            keras.layers.Embedding(10000, 128),
            keras.layers.Bidirectional(cell(64)),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=4)
        mc = keras.callbacks.ModelCheckpoint(str(workdir / f"{name}.keras"), monitor="val_accuracy",
                                             mode="max", save_best_only=True)
        timer = EpochTimer()
        model.fit(x_train, y_train, batch_size=64, epochs=epochs, callbacks=[es, mc, timer],
                  validation_split=0.2, verbose=0)
        loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
        results[name] = {"epoch_seconds": timer.seconds, "test_accuracy": float(accuracy), "test_loss": float(loss)}
    return {"wall_seconds": time.perf_counter() - start, "models": results, "peak_rss_mib": peak_rss_mib()}


# ---------------------------------------------------------------------------------------------
# (b) labreport train, in process, so the peak memory is its own.


def labreport_train(archive: str, epochs: int, out: Path) -> dict:
    from labreport.cli import main

    start = time.perf_counter()
    code = main(["train", "--data", archive, "--out", str(out), "--epochs", str(epochs)])
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(code)
    record = json.loads((out / "results.json").read_text())
    models = {
        name: {"epoch_seconds": entry["epoch_seconds"], "test_accuracy": entry["test"]["accuracy"],
               "test_accuracy_last_epoch": entry["test_last_epoch"]["accuracy"], "test_loss": entry["test"]["loss"],
               "best_epoch": entry["best_epoch"], "recurrent_loop": entry.get("recurrent_loop")}
        for name, entry in record["models"].items()
    }
    return {"wall_seconds": wall, "models": models, "peak_rss_mib": peak_rss_mib()}


def child(variant: str, args) -> dict:
    """Runs one variant in a fresh process and returns its JSON result."""
    command = [sys.executable, __file__, "--child", variant, "--data", args.data, "--epochs", str(args.epochs),
               "--workdir", str(args.workdir)]
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def build_kernels() -> tuple[float, str]:
    """Builds the compiled loops into this run's cache (LABREPORT_CACHE_DIR); seconds and labreport's note."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", "from labreport.experiment import kernels; print(kernels.default().note)"],
                            stdout=subprocess.PIPE, text=True, check=True)
    return time.perf_counter() - start, result.stdout.strip().splitlines()[-1]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def machine() -> dict:
    cpu = platform.processor()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    versions = {}
    for package in ("tensorflow", "keras", "numpy", "weasyprint", "jinja2", "matplotlib"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            **versions}


def summarize(name: str, result: dict) -> list[str]:
    lines = []
    for model, m in result["models"].items():
        per_epoch = statistics.median(m["epoch_seconds"])
        each = ", ".join(f"{s:.0f}" for s in m["epoch_seconds"])
        loop = f" ({m['recurrent_loop']} loop)" if m.get("recurrent_loop") else ""
        lines.append(f"| {name} | {model}{loop} | {len(m['epoch_seconds'])} | {per_epoch:.1f} ({each}) | {m['test_accuracy']:.4f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="aclImdb_v1.tar.gz")
    parser.add_argument("--epochs", type=int, default=10, help="at most this many epochs (10, the lab's)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", choices=["notebook", "labreport"], help=argparse.SUPPRESS)
    parser.add_argument("--no-results-file", action="store_true", help="print only; add nothing to RESULTS.md")
    parser.add_argument("--order", choices=["ab", "ba"], default="ab",
                        help="which variant runs first; alternate between runs on a noisy machine (ab)")
    args = parser.parse_args()

    if args.child:
        args.workdir.mkdir(parents=True, exist_ok=True)
        if args.child == "notebook":
            result = notebook(args.data, args.epochs, args.workdir)
        else:
            result = labreport_train(args.data, args.epochs, args.workdir / "labreport")
        print(json.dumps(result))
        return

    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="labreport-bench-"))
    command = " ".join([Path(sys.executable).name, "benchmarks/" + Path(__file__).name] + sys.argv[1:])
    print(f"working in {args.workdir}", file=sys.stderr)
    os.environ["LABREPORT_CACHE_DIR"] = str(args.workdir / "cache")  # the children inherit it
    build_seconds, build_note = build_kernels()
    print(f"compiled loops: {build_note} ({build_seconds:.1f} s)", file=sys.stderr)
    if args.order == "ab":
        a = child("notebook", args)
        b = child("labreport", args)
    else:
        b = child("labreport", args)
        a = child("notebook", args)
    render_seconds = timed([sys.executable, "-m", "labreport", "render", "--out", str(args.workdir / "labreport")])
    quick_seconds = timed([sys.executable, "-m", "labreport", "build", "--quick", "--out", str(args.workdir / "quick")])

    ratio = b["wall_seconds"] / a["wall_seconds"]
    epoch_ratio = statistics.median(
        statistics.median(b["models"][m]["epoch_seconds"]) / statistics.median(a["models"][m]["epoch_seconds"])
        for m in a["models"]
    )
    info = machine()
    lines = [
        f"## Benchmark run {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC: the lab's notebook (a) versus "
        f"`labreport train` (b), order {args.order}",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, TensorFlow {info['tensorflow']}, "
        f"Keras {info['keras']}, NumPy {info['numpy']}, WeasyPrint {info['weasyprint']}; {info['platform']}.",
        f"Command: `{command}`",
        "",
        "| variant | model | epochs run | median s/epoch (each epoch) | test accuracy |",
        "| --- | --- | --- | --- | --- |",
        *summarize("(a) notebook", a),
        *summarize("(b) labreport", b),
        "",
        "| figure | (a) notebook | (b) labreport | (b)/(a) | target |",
        "| --- | --- | --- | --- | --- |",
        f"| total wall, both models (s) | {a['wall_seconds']:.0f} | {b['wall_seconds']:.0f} | {ratio:.2f} | ≤ 0.33 |",
        f"| median s/epoch ratio | | | {epoch_ratio:.2f} | |",
        f"| peak resident memory (MiB) | {a['peak_rss_mib']:.0f} | {b['peak_rss_mib']:.0f} | "
        f"{b['peak_rss_mib'] / a['peak_rss_mib']:.2f} | (b) < 2048 |",
        "",
        "| step | seconds | target |",
        "| --- | --- | --- |",
        f"| `labreport render` (ko+en, HTML+PDF) | {render_seconds:.1f} | < 15 |",
        f"| `labreport build --quick` | {quick_seconds:.1f} | < 90 |",
        f"| compiled loops' build, once per machine, before (b) | {build_seconds:.1f} | |",
        "",
        "Accuracy: (b)'s best checkpoint versus (a)'s last-epoch model (what the notebook reports): "
        + "; ".join(
            f"{m} {b['models'][m]['test_accuracy'] - a['models'][m]['test_accuracy']:+.4f}" for m in a["models"]
        )
        + ".",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_results_file:  # appended: the file keeps every run's figures
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as results:
            results.write("\n" + text)


if __name__ == "__main__":
    main()
