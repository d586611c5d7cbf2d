"""Where one training step's time goes: TensorFlow's profiler on labreport's train step, and the floor.

    .venv/bin/python benchmarks/step_profile.py [--cell gru] [--width 200] [--batch 64] [--steps 5]

Runs `train_on_batch` (labreport's models and thread pools, the loop chosen by --loop, default fused)
under `tf.profiler`, reads the trace it writes (XSpace protobuf, no TensorBoard needed) and prints,
per compute thread, the milliseconds per step and calls per step of the costliest ops, and how many
graph nodes each thread ran per step. Then it measures what the arithmetic alone would cost: the
single-thread rate of one large matrix product and of a loop of the step's small ones, and the
step's matrix arithmetic at that rate on all cores (forward x·W and h·U, and in the backward pass
twice each again). The distance between the two is per-op scheduling, not arithmetic.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def profile(cell: str, loop: str, batch: int, width: int, steps: int) -> None:
    import numpy as np
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    from labreport.core.config import load_config
    from labreport.experiment import models

    config = load_config(None, cwd=Path(__file__).resolve().parent)  # the lab's defaults
    model = models.build_model(cell, config, sequence_length=None, loop=loop)
    rng = np.random.default_rng(0)
    x = rng.integers(1, config.data.vocab_size, size=(batch, width)).astype("int32")
    y = rng.integers(0, 2, size=(batch, 1)).astype("float32")
    for _ in range(3):  # trace and warm up
        model.train_on_batch(x, y)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        wall = (time.perf_counter() - start) / steps
        tf.profiler.experimental.stop()
        trace = next(Path(logdir).rglob("*.xplane.pb"))
        space = xplane_pb2.XSpace()
        space.ParseFromString(trace.read_bytes())
    busy, calls, nodes = collections.Counter(), collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                op = plane.event_metadata[event.metadata_id].name.split(":")[-1].split("/")[-1]
                if op == "Process":
                    nodes[line.name] += 1
                    busy[(line.name, "(busy)")] += event.duration_ps / 1e9
                else:
                    busy[(line.name, op)] += event.duration_ps / 1e9
                    calls[(line.name, op)] += 1
    print(f"{models.DISPLAY_NAMES[cell]} {loop} loop, batch {batch} x width {width}: "
          f"{wall * 1000:.1f} ms per step (wall, {steps} steps under the profiler)")
    for index, thread in enumerate(sorted(nodes), 1):
        print(f"  compute thread {index}: busy {busy[(thread, '(busy)')] / steps:.1f} ms, "
              f"{nodes[thread] / steps:,.0f} graph nodes per step")
        ranked = sorted(((ms, op) for (t, op), ms in busy.items() if t == thread and op != "(busy)"), reverse=True)
        for ms, op in ranked[:10]:
            print(f"    {ms / steps:7.2f} ms  {calls[(thread, op)] / steps:6.0f} calls  {op}")


def matmul_floor(cell: str, batch: int, width: int) -> None:
    import numpy as np
    import tensorflow as tf

    embedding, units = 128, 64
    gates = {"gru": 3, "lstm": 4}[cell] * units
    rng = np.random.default_rng(0)
    big_x = tf.constant(rng.random((batch * width, embedding), dtype=np.float32))
    big_w = tf.constant(rng.random((embedding, gates), dtype=np.float32))
    h = tf.constant(rng.random((batch, units), dtype=np.float32))
    u = tf.constant(rng.random((units, gates), dtype=np.float32))
    big = tf.function(lambda: tf.matmul(big_x, big_w))

    @tf.function
    def small():
        total = tf.zeros((batch, gates))
        for _ in tf.range(width):
            total += tf.matmul(h, u)
        return total

    rates = []
    for name, function, flops in (("one large product", big, 2 * batch * width * embedding * gates),
                                  (f"{width} small products", small, 2 * width * batch * units * gates)):
        function()
        times = []
        for _ in range(10):
            start = time.perf_counter()
            function().numpy()
            times.append(time.perf_counter() - start)
        rate = flops / statistics.median(times) / 1e9
        rates.append(rate)
        print(f"  {name}: {rate:.0f} GFLOP/s on one thread")
    # forward x·W and h·U per direction; backward each twice (input and weight gradients)
    step_flops = 2 * 3 * 2 * batch * width * (embedding + units) * gates
    cores = os.cpu_count() or 1
    print(f"  the step's matrix arithmetic: {step_flops / 1e9:.1f} GFLOP = {step_flops / (min(rates) * 1e9 * cores) * 1000:.1f} ms "
          f"on {cores} cores at {min(rates):.0f} GFLOP/s each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    parser.add_argument("--width", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--loop", choices=("keras", "fused", "compiled"), default="fused",
                        help="which recurrent loop (labreport.experiment.models.LOOPS)")
    args = parser.parse_args()

    from labreport.experiment import inference
    threads = inference.configure_threads()
    import tensorflow as tf

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores, {platform.platform()}; Python {platform.python_version()}, "
          f"TensorFlow {tf.__version__}, threads {threads}")
    profile(args.cell, args.loop, args.batch, args.width, args.steps)
    print("floor:")
    matmul_floor(args.cell, args.batch, args.width)


if __name__ == "__main__":
    main()
