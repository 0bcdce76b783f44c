"""Independent training runs: one after another with every BLAS thread, or side by side.

Usage: ``MLDERIVE_DATA=<the data folder> python benchmarks/parallel_runs.py [--runs 8]``.

Each round times the same grid of runs two ways, back to back (which goes first
alternates): ``train`` called once per run in this process, its matrix products using every
thread the process has; and :func:`mlderive.parallel.train_in_parallel`, one process per
available processor with one BLAS thread each, worker start-up included. A run is the CNN
chapter's network (batch norm, dropout, dense 128) trained for one epoch on ``--images``
Fashion-MNIST images. Reported: the wall time of each way per round and their ratio, paired
by round. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time


def chapter_network(seed: int = 0, channels: tuple[int, int] = (16, 32)):
    """The CNN chapter's network (its ``make_network()``: batch norm, dropout 0.25, dense
    128), with other ``channels`` if given."""
    from mlderive.cnn import small_cnn

    return small_cnn(channels, batchnorm=True, dropout=0.25, hidden=128, seed=seed)


def grid(X, y, runs: int) -> list[dict]:
    """``runs`` jobs for train() on ``X: (n, 784)``: the chapter's CNN, one seed each, one
    epoch."""
    from mlderive.optim import Adam

    return [
        dict(
            model=chapter_network(seed=k),
            optimizer=Adam(1e-3),
            X=X,
            y=y,
            epochs=1,
            batch_size=128,
            seed=k,
        )
        for k in range(runs)
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="training runs in the grid")
    parser.add_argument("--images", type=int, default=4000, help="training images per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_info

    from mlderive.data import load_fashion_mnist
    from mlderive.parallel import available_processors, train_in_parallel
    from mlderive.training import train

    X, y, _, _ = load_fashion_mnist()
    X, y = X[: args.images], y[: args.images]

    threads = max(p["num_threads"] for p in threadpool_info())
    processes = available_processors()
    print(
        f"{args.runs} runs of one epoch on {args.images} images: one after another "
        f"({threads} BLAS threads) vs train_in_parallel ({processes} processes, 1 thread each)"
    )

    def one_after_another(jobs):
        for job in jobs:
            train(**job)

    ratios = []
    for round_number in range(1, args.rounds + 1):
        ways = [one_after_another, train_in_parallel]
        seconds = {}
        for way in ways if round_number % 2 else ways[::-1]:  # alternate which goes first
            jobs = grid(X, y, args.runs)
            start = time.perf_counter()
            way(jobs)
            seconds[way] = time.perf_counter() - start
        in_turn, side_by_side = seconds[one_after_another], seconds[train_in_parallel]
        ratios.append(in_turn / side_by_side)
        print(
            f"round {round_number}/{args.rounds}: one after another {in_turn:.1f} s, "
            f"side by side {side_by_side:.1f} s, speed-up {ratios[-1]:.2f}x",
            flush=True,
        )
    print(
        f"speed-up of train_in_parallel, paired by round: median {statistics.median(ratios):.2f}x "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
