"""One side of the epoch benchmark, run in its own process by ``benchmarks/run.py``.

Usage: ``python benchmarks/epoch_worker.py SIDE MODEL --threads T --epochs E``, with SIDE
``numpy`` (the mlderive trainer) or ``torch`` (PyTorch CPU eager), MODEL ``mlp``
(784-256-10 ReLU), ``softmax`` (784-10) or ``cnn`` (the book's small CNN, no batch norm or
dropout: conv 3x3x16 - ReLU - pool - conv 3x3x32 - ReLU - pool - dense 10, on Fashion-MNIST).
The process fixes its thread count before importing numpy or torch, loads the data, measures
its library's float32 matmul rate, runs one warm-up epoch and then E timed epochs (SGD,
batch 128, shuffled, float32), and prints one JSON line: the epoch times and the measured
matmul rates.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SIZES = {"mlp": [784, 256, 10], "softmax": [784, 10]}
MODELS = [*SIZES, "cnn"]
CNN_CHANNELS = (16, 32)
LEARNING_RATE = 0.1
BATCH_SIZE = 128
PEAK_SHAPES = {"128x784x256": (128, 784, 256), "2048^3": (2048, 2048, 2048)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("side", choices=["numpy", "torch"])
    parser.add_argument("model", choices=MODELS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs after the warm-up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="BATCHES",
        help="time each layer over this many batches (scaled to an epoch) instead of epochs",
    )
    return parser.parse_args(argv)


def median_seconds(run, repeats: int, budget: float = 1.5) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls (fewer if ``budget`` s runs out)."""
    times = []
    deadline = time.perf_counter() + budget
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        if time.perf_counter() > deadline and len(times) >= 3:
            break
    times.sort()
    return times[len(times) // 2]


def matmul_rates(make, matmul) -> dict[str, float]:
    """GFLOP/s of float32 ``A @ B`` for each shape in PEAK_SHAPES (median of repeats)."""
    rates = {}
    for name, (m, k, n) in PEAK_SHAPES.items():
        A, B = make(m, k), make(k, n)
        matmul(A, B)  # warm-up
        repeats = 200 if m * k * n < 1e8 else 7
        rates[name] = 2 * m * k * n / median_seconds(lambda A=A, B=B: matmul(A, B), repeats) / 1e9
    return rates


def max_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (``ru_maxrss``; Linux: KiB)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def load_data(model_name: str):
    """Training images ``(60000, 784)`` float32 and labels: Fashion-MNIST for the CNN, MNIST
    for the dense models (the shapes, and so the times, are the same)."""
    from mlderive.data import load_fashion_mnist, load_mnist

    X, y, _, _ = load_fashion_mnist() if model_name == "cnn" else load_mnist()
    return X, y


def run_numpy(model_name: str, epochs: int, threads: int, seed: int, profile: int = 0) -> dict:
    import numpy as np
    from threadpoolctl import threadpool_info

    from mlderive.cnn import small_cnn
    from mlderive.models import MLP
    from mlderive.optim import SGD
    from mlderive.training import train

    blas = [(p["internal_api"], p["version"], p["num_threads"]) for p in threadpool_info()]
    rng = np.random.default_rng(0)
    rates = matmul_rates(lambda r, c: rng.random((r, c), dtype=np.float32), np.matmul)
    X, y = load_data(model_name)
    if model_name == "cnn":
        model = small_cnn(CNN_CHANNELS, seed=seed)
    else:
        model = MLP(SIZES[model_name], seed=seed)  # [784, 10] is softmax regression
    library = f"numpy {np.__version__}, " + ", ".join(f"{a} {v} ({t} threads)" for a, v, t in blas)
    if profile:
        from layer_profile import profile_numpy

        from mlderive.allocator import keep_freed_memory

        keep_freed_memory()  # as train() does
        times = profile_numpy(model, X, y, profile, BATCH_SIZE, LEARNING_RATE)
        return {"library": library, "profile": times}
    baseline = max_rss_mb()
    # CPU seconds per epoch: a clock read after every backward pass (the epochs' boundaries
    # are known), so the data checks that train() runs first are not counted.
    stamps, backward = [], model.backward
    model.backward = lambda cache: (backward(cache), stamps.append(time.process_time()))
    steps = -(-X.shape[0] // BATCH_SIZE)
    cpu_start = time.process_time()
    history = train(
        model,
        SGD(LEARNING_RATE),
        X,
        y,
        epochs=1 + epochs,
        batch_size=BATCH_SIZE,
        seed=seed,
        progress=False,
    )
    return {
        "library": library,
        "peak_mb": [baseline, max_rss_mb()],
        "cpu_per_wall": (time.process_time() - cpu_start) / sum(history.epoch_times),
        "epoch_times": [float(t) for t in history.epoch_times[1:]],
        "epoch_cpu_times": [
            stamps[(e + 1) * steps - 1] - stamps[e * steps - 1] for e in range(1, 1 + epochs)
        ],
        "warmup_time": float(history.epoch_times[0]),
        "final_loss": float(history.train_loss[-1]),
        "matmul_gflops": rates,
    }


def run_torch(model_name: str, epochs: int, threads: int, seed: int, profile: int = 0) -> dict:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rates = matmul_rates(lambda r, c: torch.rand(r, c, dtype=torch.float32), torch.matmul)
    X_np, y_np = load_data(model_name)
    X, y = torch.from_numpy(X_np), torch.from_numpy(y_np)
    if model_name == "cnn":
        X = X.reshape(-1, 1, 28, 28)
        c1, c2 = CNN_CHANNELS
        nn = torch.nn
        model = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.MaxPool2d(2),  # pool, then ReLU: the order small_cnn uses (the two commute)
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, 10),
        )
    else:
        sizes = SIZES[model_name]
        layers = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if i > 0:
                layers.append(torch.nn.ReLU())
            layers.append(torch.nn.Linear(d_in, d_out))
        model = torch.nn.Sequential(*layers)
    library = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if profile:
        from layer_profile import profile_torch

        times = profile_torch(model, X, y, profile, BATCH_SIZE, LEARNING_RATE)
        return {"library": library, "profile": times}
    baseline = max_rss_mb()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    times, losses = [], []
    cpu_start = time.process_time()
    cpu_times = []
    for _ in range(1 + epochs):
        cpu = time.process_time()
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for first in range(0, n, BATCH_SIZE):
            rows = order[first : first + BATCH_SIZE]
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * rows.shape[0]  # the loss is read every step, as ours is
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
        losses.append(total / n)
    return {
        "library": library,
        "peak_mb": [baseline, max_rss_mb()],
        "cpu_per_wall": (time.process_time() - cpu_start) / sum(times),
        "epoch_times": times[1:],
        "epoch_cpu_times": cpu_times[1:],
        "warmup_time": times[0],
        "final_loss": losses[-1],
        "matmul_gflops": rates,
    }


def main(argv=None) -> None:
    args = parse_args(argv)
    for variable in THREAD_VARIABLES:  # before numpy / torch start their thread pools
        os.environ[variable] = str(args.threads)
    run = run_numpy if args.side == "numpy" else run_torch
    result = run(args.model, args.epochs, args.threads, args.seed, args.profile)
    result.update(side=args.side, model=args.model, threads=args.threads)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
