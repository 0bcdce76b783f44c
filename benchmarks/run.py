"""Epoch-time benchmark: the mlderive NumPy trainer against PyTorch CPU eager, on MNIST
(dense models) and Fashion-MNIST (the book's small CNN).

One command runs everything and prints the table::

    MLDERIVE_DATA=<the data folder> python benchmarks/run.py

(``MLDERIVE_DATA`` names the folder that holds the datasets, as for the book; see the
how-to page.)

Method (see the project's benchmarking notes): each measurement is a fresh process
(``benchmarks/epoch_worker.py``) with a fixed thread count for BLAS/OpenMP on both sides;
the processes alternate NumPy, PyTorch, NumPy, PyTorch, ... for ``--rounds`` rounds, each
with a warm-up epoch before ``--epochs`` timed epochs. Reported: median epoch time, min-max,
the achieved GFLOP/s and its fraction of the float32 matmul rate measured in the same run
(the best process's median), and the ratio ours / PyTorch three ways: of the medians, paired
by round (the median of the per-round ratios; the two processes of a round ran back to back,
so a busy phase of the host hits both), and best epoch against best epoch.

FLOPs are counted per matrix product, ``2 m k n``: the forward pass, the weight gradients,
and the input gradient of every layer but the first (which needs none); a convolution
counts as the matrix product of its im2col form. Element-wise work
(bias, ReLU, softmax, the update) is not counted. Benchmarks are never tests: nothing here
asserts a time. PyTorch is a benchmark-only dependency (benchmarks/requirements.txt); without
it only our side runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE / "epoch_worker.py"
sys.path.insert(0, str(HERE))
from epoch_worker import BATCH_SIZE, CNN_CHANNELS, MODELS, SIZES  # noqa: E402

N_TRAIN = 60_000


def epoch_flops(sizes: list[int], n: int = N_TRAIN) -> float:
    """Matrix-product FLOPs of one training epoch of a dense network with these sizes.

    Per example and layer ``d_in -> d_out``: forward ``2 d_in d_out``, weight gradient
    ``2 d_in d_out``, input gradient ``2 d_in d_out`` except for the first layer.
    """
    per_example = 0
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        products = 2 if i == 0 else 3
        per_example += products * 2 * d_in * d_out
    return float(per_example * n)


def cnn_epoch_flops(channels: tuple[int, int] = CNN_CHANNELS, n: int = N_TRAIN) -> float:
    """Matrix-product FLOPs of one epoch of the small CNN (3x3 convolutions, padding 1).

    A convolution from ``c_in`` to ``c_out`` channels on an ``s x s`` map is the product of
    ``(s^2, 9 c_in)`` and ``(9 c_in, c_out)`` per example; then the dense layer ``c2 7 7 -> 10``.
    """
    c1, c2 = channels
    products = [(28 * 28, 9 * 1, c1), (14 * 14, 9 * c1, c2), (1, c2 * 7 * 7, 10)]
    per_example = 0
    for i, (m, k, out) in enumerate(products):
        per_example += (2 if i == 0 else 3) * 2 * m * k * out
    return float(per_example * n)


LABELS = {"mlp": "MLP 784-256-10 ReLU", "softmax": "softmax regression", "cnn": "small CNN 16-32"}


def model_flops(model: str) -> float:
    return cnn_epoch_flops() if model == "cnn" else epoch_flops(SIZES[model])


def torch_problem() -> str | None:
    """Why PyTorch cannot be used here, or None if it can be imported."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (pip install -r benchmarks/requirements.txt)"
    check = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True)
    if check.returncode:
        return "import torch failed: " + (check.stderr.strip().splitlines() or ["?"])[-1]
    return None


def run_worker(
    side: str, model: str, threads: int, epochs: int, timeout: float, profile: int = 0
) -> dict:
    command = [
        sys.executable,
        str(WORKER),
        side,
        model,
        "--threads",
        str(threads),
        "--epochs",
        str(epochs),
        "--profile",
        str(profile),
    ]
    # The worker finds the data as the book does: MLDERIVE_DATA, then the cache, then a download.
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def epoch_times(results: dict, side: str, model: str) -> list[float]:
    return [t for run in results.get((side, model), []) for t in run["epoch_times"]]


def paired_ratios(results: dict, model: str) -> list[float]:
    """Per round: median of our epochs / median of PyTorch's epochs in the same round.

    The two processes of a round ran back to back, so they saw nearly the same host load;
    the median of these ratios is less sensitive to busy phases than the ratio of medians.
    """
    ours, theirs = results.get(("numpy", model), []), results.get(("torch", model), [])
    return [
        statistics.median(a["epoch_times"]) / statistics.median(b["epoch_times"])
        for a, b in zip(ours, theirs, strict=False)
    ]


def matmul_peaks(results: dict) -> dict[str, tuple[float, float]]:
    """For each ``side shape``: (median, best) over the processes of their median rates."""
    rates: dict[str, list[float]] = {}
    for (side, _), runs in results.items():
        for run in runs:
            for shape, rate in run["matmul_gflops"].items():
                rates.setdefault(f"{side} {shape}", []).append(rate)
    return {key: (statistics.median(v), max(v)) for key, v in rates.items()}


def print_table(results: dict, threads: int, sides: list[str], models: list[str]) -> None:
    print(f"\nThreads per process: {threads} (OMP/OpenBLAS/MKL_NUM_THREADS, torch.set_num_threads)")
    for side in sides:
        library = next(runs[0]["library"] for (s, _), runs in results.items() if s == side)
        print(f"  {side}: {library}")
    peaks = matmul_peaks(results)
    print("float32 matmul rate, GFLOP/s, per process (median of repeats): median / best process")
    for key in sorted(peaks):
        print(f"  {key:<20} {peaks[key][0]:7.1f} / {peaks[key][1]:7.1f}")
    square = max(best for key, (_, best) in peaks.items() if key.endswith("2048^3"))
    batch_shape = max(best for key, (_, best) in peaks.items() if key.endswith("128x784x256"))
    print(
        f"Peak used below: {square:.1f} GFLOP/s (best 2048^3) and {batch_shape:.1f} (best "
        "128x784x256, the first layer's forward product).\n"
    )

    header = (
        f"{'model':<21}{'side':<7}{'median s':>9}{'min-max s':>15}{'n':>4}"
        f"{'GFLOP/s':>9}{'% peak':>8}{'% 128x784x256':>15}"
    )
    print(header)
    print("-" * len(header))
    for model in models:
        label = LABELS[model]
        flops = model_flops(model)
        for side in sides:
            times = epoch_times(results, side, model)
            median, low, high = summarise(times)
            rate = flops / median / 1e9
            busy = f"  busy host: max/min = {high / low:.1f}" if high > 1.5 * low else ""
            print(
                f"{label:<21}{side:<7}{median:9.3f}{f'{low:.3f}-{high:.3f}':>15}{len(times):>4}"
                f"{rate:9.1f}{100 * rate / square:7.0f}%{100 * rate / batch_shape:14.0f}%{busy}"
            )
        print(f"{'':<21}({flops / 1e9:.2f} GFLOP per epoch, batch {BATCH_SIZE}, {N_TRAIN} images)")

    if threads == 1:
        print("\nCPU seconds per epoch (one thread: the work done, whatever the host's load)")
        for model in models:
            line = f"  {LABELS[model]:<21}"
            medians = {}
            for side in sides:
                cpu = [t for run in results.get((side, model), []) for t in run["epoch_cpu_times"]]
                medians[side] = statistics.median(cpu)
                line += f"{side} {medians[side]:.3f} ({min(cpu):.3f}-{max(cpu):.3f})   "
            if "torch" in medians:
                line += f"ours / PyTorch {medians['numpy'] / medians['torch']:.2f}"
            print(line)
    if "torch" not in sides:
        return
    print("\nours / PyTorch, wall time (below 1: ours is faster)")
    print(
        f"{'model':<21}{'ratio of medians':>17}{'paired by round: median (min-max)':>36}"
        f"{'best / best':>13}"
    )
    for model in models:
        label = LABELS[model]
        ours, theirs = epoch_times(results, "numpy", model), epoch_times(results, "torch", model)
        pairs = paired_ratios(results, model)
        paired = f"{statistics.median(pairs):.2f} ({min(pairs):.2f}-{max(pairs):.2f})"
        print(
            f"{label:<21}{statistics.median(ours) / statistics.median(theirs):17.2f}"
            f"{paired:>36}{min(ours) / min(theirs):13.2f}"
        )


def print_per_process(results: dict, sides: list[str], models: list[str]) -> None:
    """Each process's median epoch in run order, and its CPU use: a process can settle in a
    slow mode for its whole life (seen for the MLP: 0.39 s in some processes, 0.7 s in
    others), which medians over all epochs hide. CPU seconds / wall seconds near the thread
    count means the threads were computing (or spinning); far below it, the process waited
    for a core (a busy host)."""
    print("\nPer process: median epoch s [CPU s / wall s over the timed epochs], in run order")
    for model in models:
        for side in sides:
            runs = results.get((side, model), [])
            cells = []
            for run in runs:
                use = run.get("cpu_per_wall")
                use = f" [{use:.1f}]" if use is not None else ""
                cells.append(f"{statistics.median(run['epoch_times']):.3f}{use}")
            medians = [statistics.median(run["epoch_times"]) for run in runs]
            spread = max(medians) / min(medians)
            note = f"  spread {spread:.2f}x" + ("  <- bimodal or busy?" if spread > 1.3 else "")
            print(f"  {LABELS[model]:<21}{side:<7}" + "  ".join(cells) + note)


def print_peak_memory(results: dict, sides: list[str], models: list[str]) -> None:
    """Peak resident memory (ru_maxrss) per process: after loading the data and building the
    model, and at the end (warm-up and timed epochs); the difference is what training adds."""
    print("\nPeak resident memory per process, MB (ru_maxrss; median over processes):")
    print(f"{'model':<21}{'side':<7}{'before training':>16}{'after':>8}{'training adds':>15}")
    for model in models:
        for side in sides:
            runs = [run["peak_mb"] for run in results.get((side, model), []) if "peak_mb" in run]
            if runs:
                before = statistics.median(b for b, _ in runs)
                after = statistics.median(a for _, a in runs)
                extra = statistics.median(a - b for b, a in runs)
                print(f"{LABELS[model]:<21}{side:<7}{before:16.0f}{after:8.0f}{extra:15.0f}")


def print_profiles(profiles: dict[str, list[dict]]) -> None:
    """Per-layer forward / backward CPU seconds per epoch (median over processes), per side."""
    sides = list(profiles)
    print("\nSmall CNN, per layer: CPU seconds per epoch (469 batches of 128), forward / backward")
    print("(one thread per process; CPU time, so a busy host inflates it less than wall time)")
    header = f"{'layer':<16}" + "".join(f"{side + ' fwd':>11}{side + ' bwd':>11}" for side in sides)
    print(header)
    print("-" * len(header))
    names = list(profiles[sides[0]][0])
    other = {side: list(profiles[side][0]) for side in sides}
    totals = dict.fromkeys(sides, 0.0)
    for row, name in enumerate(names):
        line = f"{name:<16}"
        for side in sides:
            key = other[side][row] if row < len(other[side]) else None
            if key is None:
                line += f"{'':>22}"
                continue
            fwd = statistics.median(p[key][0] for p in profiles[side])
            bwd = statistics.median(p[key][1] for p in profiles[side])
            totals[side] += fwd + bwd
            line += f"{fwd:11.3f}{bwd:11.3f}"
        print(line)
    print(f"{'total':<16}" + "".join(f"{totals[side]:22.3f}" for side in sides))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="NumPy (mlderive) vs PyTorch epoch times.")
    parser.add_argument("--rounds", type=int, default=6, help="A B alternations per model")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per process")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per process")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="BATCHES",
        help="also time each CNN layer over this many batches, one thread, per side "
        "(--rounds processes each; e.g. --profile 100)",
    )
    parser.add_argument("--profile-only", action="store_true", help="skip the epoch table")
    args = parser.parse_args(argv)

    problem = torch_problem()
    sides = ["numpy"] if problem else ["numpy", "torch"]
    if problem:
        print(f"PyTorch side skipped: {problem}. Showing our side only.")
    profiles: dict[str, list[dict]] = {}
    for round_number in range(1, args.rounds + 1 if args.profile else 1):
        for side in sides:
            run = run_worker(side, "cnn", 1, 0, args.timeout, args.profile)
            profiles.setdefault(side, []).append(run["profile"])
            total = sum(f + b for f, b in run["profile"].values())
            print(
                f"profile {round_number}/{args.rounds}  cnn {side:<6} {total:.2f} CPU s per epoch",
                flush=True,
            )
    if profiles:
        print_profiles(profiles)
    if args.profile_only:
        return
    results: dict[tuple[str, str], list[dict]] = {}
    for round_number in range(1, args.rounds + 1):
        for model in args.models:
            for side in sides:
                run = run_worker(side, model, args.threads, args.epochs, args.timeout)
                results.setdefault((side, model), []).append(run)
                times = ", ".join(f"{t:.3f}" for t in run["epoch_times"])
                print(
                    f"round {round_number}/{args.rounds}  {model:<8} {side:<6} epochs: {times} s",
                    flush=True,
                )
    print_table(results, args.threads, sides, args.models)
    print_per_process(results, sides, args.models)
    print_peak_memory(results, sides, args.models)
    if profiles:
        print_profiles(profiles)


if __name__ == "__main__":
    main()
