"""How fast would a compiled GRU loop be? A measurement for #16's next step, not part of labreport.

    .venv/bin/python benchmarks/compiled_loop.py [--width 300] [--batch 64]

Builds benchmarks/compiled/gru_forward.cc (the forward loop of Keras' GRU over a whole sequence as
one TensorFlow op, Eigen inside) with g++ and TensorFlow's own compile and link flags into a
temporary folder, checks its result against labreport's fused GRU (`labreport.fused._gru_last_state`)
and times both forward passes, one direction, on one intra-op thread (labreport's pools), against
the arithmetic floor of the loop's h·U products. Needs g++ and the TensorFlow headers that the
tensorflow wheel ships; prints why not where they are missing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SOURCE = Path(__file__).resolve().parent / "compiled" / "gru_forward.cc"


def build(folder: Path) -> Path:
    import tensorflow as tf

    library = folder / "gru_forward.so"
    command = ["g++", "-shared", "-fPIC", "-O3", "-march=native", str(SOURCE), "-o", str(library),
               *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags()]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    print(f"built in {time.perf_counter() - start:.1f} s: {' '.join(command[:6])} …")
    return library


def timed(function, repeats: int = 15) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function().numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("g++") is None:
        raise SystemExit("compiled_loop: g++ is not installed here")

    from labreport import inference

    threads = inference.configure_threads()
    import numpy as np
    import tensorflow as tf

    from labreport.fused import _gru_last_state

    with tempfile.TemporaryDirectory() as folder:
        compiled = tf.load_op_library(str(build(Path(folder))))
    units = 64
    rng = np.random.default_rng(0)
    projected = tf.constant(rng.normal(size=(args.width, args.batch, 3 * units)).astype("float32"))
    h0 = tf.constant(rng.normal(size=(args.batch, units)).astype("float32"))
    kernel = tf.constant(rng.normal(scale=0.2, size=(units, 3 * units)).astype("float32"))
    bias = tf.constant(rng.normal(size=(3 * units,)).astype("float32"))
    op = tf.function(lambda: compiled.gru_sequence(projected, h0, kernel, bias))
    loop = tf.function(lambda: _gru_last_state(projected, h0, kernel, bias))
    difference = float(tf.reduce_max(tf.abs(op() - loop())))

    @tf.function
    def products():
        total = tf.zeros((args.batch, 3 * units))
        for _ in tf.range(args.width):
            total += tf.matmul(h0, kernel)
        return total

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores, {platform.platform()}; Python {platform.python_version()}, "
          f"TensorFlow {tf.__version__}, threads {threads}")
    print(f"GRU forward over {args.batch} x {args.width}, one direction, 64 units; largest difference {difference:.1e}")
    seconds = {"compiled op": timed(op), "labreport fused loop": timed(loop), "h·U products alone (TF loop)": timed(products)}
    for name, value in seconds.items():
        print(f"  {name:30} {value * 1000:7.2f} ms  ({value / seconds['labreport fused loop']:.2f} of the fused loop)")


if __name__ == "__main__":
    main()
