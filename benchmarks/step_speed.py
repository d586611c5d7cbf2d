"""One training step of the lab's models, per recurrent path, side by side in one process.

    .venv/bin/python benchmarks/step_speed.py [--width 300] [--batch 64] [--steps 20]

For the BiGRU and the BiLSTM at the lab's sizes (vocabulary 10,000, embedding 128, 64 units per
direction), times a whole training step (forward, backward, Adam update; traced once, warm-up
excluded) of: Keras' own layer (`keras`), labreport's fused CPU loop written as TensorFlow ops
(`fused`, see labreport/fused.py), the same loop compiled (`compiled`, labreport/kernels; built
first if this machine has no cached build) and, when PyTorch is installed, PyTorch's fused CPU GRU/LSTM (`torch`: an
optional comparison, never a dependency). Prints the median milliseconds per step and per padded
column (step / width), the machine, and the thread pools, which are labreport's
(`inference.configure_threads`) for TensorFlow and the same count of intra-op threads for PyTorch.
The paths alternate step by step rounds, so a slow spell of the machine hits them alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tensorflow_step(cell: str, loop: str, batch: int, width: int):
    import keras
    import numpy as np
    import tensorflow as tf

    from labreport.core.config import load_config
    from labreport.experiment import models

    config = load_config(None, cwd=Path(__file__).resolve().parent)  # the lab's defaults, no labreport.toml
    keras.utils.set_random_seed(0)
    model = models.build_model(cell, config, sequence_length=None, loop=loop)
    optimizer, loss_fn = model.optimizer, keras.losses.BinaryCrossentropy()
    x = tf.constant(np.random.randint(1, 10_000, size=(batch, width)), dtype=tf.int32)
    y = tf.constant(np.random.randint(0, 2, size=(batch, 1)), dtype=tf.float32)

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return lambda: float(step())


def torch_step(cell: str, batch: int, width: int, threads: int):
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    rnn_class = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(10_000, 128)
            self.rnn = rnn_class(128, 64, batch_first=True, bidirectional=True)
            self.dropout = torch.nn.Dropout(0.5)
            self.dense = torch.nn.Linear(128, 1)

        def forward(self, x):
            _, state = self.rnn(self.embedding(x))
            h = state[0] if cell == "lstm" else state
            return self.dense(self.dropout(torch.cat([h[0], h[1]], dim=1)))

    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x = torch.randint(1, 10_000, (batch, width))
    y = torch.randint(0, 2, (batch, 1)).float()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", metavar="INTER,INTRA",
                        help="TensorFlow's thread pools for this run (0 = TensorFlow's default); default labreport's")
    parser.add_argument("--paths", default="keras,fused,compiled,torch",
                        help="which paths to time (keras,fused,compiled,torch)")
    args = parser.parse_args()

    from labreport.experiment import inference
    if args.threads:
        import tensorflow as tf

        inter, intra = (int(n) for n in args.threads.split(","))
        tf.config.threading.set_inter_op_parallelism_threads(inter)
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        threads = {"intra_op": intra, "inter_op": inter}
    else:
        threads = inference.configure_threads()
    wanted = args.paths.split(",")
    if "compiled" in wanted:
        from labreport.experiment import kernels
        loaded = kernels.default(progress=print)
        if loaded.library is None:
            print(f"compiled: {loaded.note}")
            wanted.remove("compiled")
    paths = {}
    for cell in ("gru", "lstm"):
        paths[(cell, "keras")] = tensorflow_step(cell, "keras", args.batch, args.width)
        for loop in ("fused", "compiled"):
            if loop in wanted:
                paths[(cell, loop)] = tensorflow_step(cell, loop, args.batch, args.width)
        if "torch" in wanted:
            try:
                paths[(cell, "torch")] = torch_step(cell, args.batch, args.width, threads["intra_op"] or os.cpu_count())
            except ImportError:
                pass
    times: dict[tuple[str, str], list[float]] = {key: [] for key in paths}
    for step in paths.values():  # trace and warm up
        step(), step()
    for _ in range(args.steps):
        for key, step in paths.items():
            start = time.perf_counter()
            step()
            times[key].append(time.perf_counter() - start)

    import tensorflow as tf

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores, {platform.platform()}; Python {platform.python_version()}, "
          f"TensorFlow {tf.__version__}, threads {threads}")
    print(f"batch {args.batch} x width {args.width}, {args.steps} timed steps per path (median)")
    print(f"{'model':8} {'path':8} {'ms/step':>9} {'ms/column':>10} {'vs keras':>9}")
    for (cell, path), values in times.items():
        median = statistics.median(values)
        keras_median = statistics.median(times[(cell, "keras")])
        print(f"{'Bi' + cell.upper():8} {path:8} {median * 1000:9.1f} {median * 1000 / args.width:10.3f} "
              f"{median / keras_median:9.2f}")


if __name__ == "__main__":
    main()
