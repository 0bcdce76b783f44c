"""How much training the CNN chapter's network needs for a given test accuracy.

Usage: ``MLDERIVE_DATA=<the data folder> python benchmarks/cnn_accuracy_budget.py
[--epochs 15] [--channels 16,32] [--lr 2e-3] [--threads 1]``.

Trains the chapter's network (``parallel_runs.chapter_network``; ``--channels 32,64``
makes it twice as wide) with Adam on all 60,000 Fashion-MNIST training images,
the learning rate following a cosine from ``--lr`` towards 0 over ``--epochs`` epochs (one
value per epoch). After every epoch it prints the epoch's seconds, the running total and
the test accuracy. Nothing is asserted, and ``make bench`` does not run it: one run takes
minutes.
"""

from __future__ import annotations

import argparse
import math


def cosine_rate(lr: float, epoch: int, epochs: int) -> float:
    """Epoch ``epoch``'s rate (0-based, of ``epochs``): ``lr (1 + cos(pi epoch / epochs)) / 2``."""
    return lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--channels", default="16,32", help="filters of the two convolutions")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's first learning rate")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    channels = tuple(int(c) for c in args.channels.split(","))

    from parallel_runs import chapter_network
    from threadpoolctl import threadpool_limits

    from mlderive.data import load_fashion_mnist
    from mlderive.optim import Adam
    from mlderive.training import train

    threadpool_limits(args.threads)
    X, y, X_test, y_test = load_fashion_mnist()
    network = chapter_network(args.seed, channels)
    adam = Adam(args.lr)
    print(
        f"channels {channels}, {network.num_parameters:,} parameters, Adam {args.lr:g} "
        f"with cosine decay, {args.epochs} epoch(s), {args.threads} BLAS thread(s)"
    )
    total = 0.0
    for epoch in range(args.epochs):
        adam.lr = cosine_rate(args.lr, epoch, args.epochs)
        history = train(network, adam, X, y, epochs=1, seed=args.seed + epoch)
        total += history.epoch_times[0]
        print(
            f"epoch {epoch + 1:2d}  lr {adam.lr:.2e}  {history.epoch_times[0]:5.1f} s "
            f"(total {total:6.1f} s)  test accuracy {network.accuracy(X_test, y_test):.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
