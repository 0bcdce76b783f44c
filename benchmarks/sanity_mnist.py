"""Sanity run: train the 784-256-10 ReLU MLP on MNIST with mlderive's trainer.

Prints the test accuracy and the epoch times. Not a test and not part of the book: a quick
check that the package core learns what it should (the E5 chapter aims at >= 97.5%).

    MLDERIVE_DATA=<the data folder> python benchmarks/sanity_mnist.py

(``MLDERIVE_DATA`` names the folder that holds the datasets, as for the book; see the
how-to page.)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from mlderive.data import load_mnist
from mlderive.models import MLP
from mlderive.optim import SGD, Adam, Momentum
from mlderive.training import train

OPTIMIZERS = {
    "sgd": lambda lr: SGD(lr),
    "momentum": lambda lr: Momentum(lr, beta=0.9),
    "adam": lambda lr: Adam(lr),
}
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 1e-3}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="momentum")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    args = parser.parse_args(argv)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]

    X_train, y_train, X_test, y_test = load_mnist()
    model = MLP([784, 256, 10], activation="relu", seed=args.seed)
    start = time.perf_counter()
    with threadpool_limits(args.threads):
        history = train(
            model,
            OPTIMIZERS[args.optimizer](lr),
            X_train,
            y_train,
            args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            validation=(X_test, y_test),
            progress=False,
        )
    wall = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(X_test, y_test)
    print(
        f"MLP 784-256-10 ReLU, {args.optimizer} lr={lr}, batch {args.batch_size}, "
        f"{args.epochs} epochs, seed {args.seed}, float32, BLAS threads: {args.threads or 'all'}"
    )
    for epoch, (tl, ta, vl, va, t) in enumerate(
        zip(
            history.train_loss,
            history.train_accuracy,
            history.val_loss,
            history.val_accuracy,
            history.epoch_times,
            strict=True,
        ),
        1,
    ):
        print(
            f"  epoch {epoch:2d}: train loss {tl:.4f} acc {ta:.4f} | test loss {vl:.4f} "
            f"acc {va:.4f} | {t:.2f} s"
        )
    print(
        f"test accuracy {test_accuracy:.4f}, test loss {test_loss:.4f}; epoch time median "
        f"{np.median(history.epoch_times):.2f} s (min {history.epoch_times.min():.2f}, max "
        f"{history.epoch_times.max():.2f}); wall {wall:.1f} s incl. evaluation"
    )


if __name__ == "__main__":
    main()
