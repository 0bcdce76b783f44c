"""Per-layer forward and backward times of the small CNN, our side and PyTorch's.

Used by ``epoch_worker.py --profile``. Both sides run the same loop over ``batches``
training batches of 128 Fashion-MNIST images, layer by layer, with a clock read around every
layer's forward pass and every layer's backward pass:

* ours: ``layer.forward`` / ``layer.backward`` of each layer of the
  :class:`mlderive.models.Network` that :func:`mlderive.cnn.small_cnn` builds, then the
  loss layer and the SGD update (what :meth:`Network.loss` and ``backward`` do, unrolled);
* PyTorch: each module of the ``nn.Sequential`` on a detached input that requires a gradient,
  so that ``out.backward(grad)`` runs that module's backward only; then the loss and the
  update. Autograd's bookkeeping is spread over the layers as it is in a normal step.

The totals are scaled to one epoch (469 batches) so they read next to the epoch times.
"""

from __future__ import annotations

import time

STEPS_PER_EPOCH = 469  # ceil(60000 / 128)


def _scaled(times: dict[str, list[float]], batches: int) -> dict[str, list[float]]:
    return {name: [t * STEPS_PER_EPOCH / batches for t in pair] for name, pair in times.items()}


def _add(times, names, forward, backward, loss_time: float, update_time: float) -> None:
    """Add one step's per-layer forward and backward times (and the loss's and the
    update's) to the running totals ``times``."""
    for name, f, b in zip(names, forward, backward, strict=True):
        times[name][0] += f
        times[name][1] += b
    times["loss"][0] += loss_time
    times["update"][0] += update_time


def profile_numpy(model, X, y, batches: int, batch_size: int, lr: float) -> dict:
    """``{layer name: [forward s, backward s]}`` per epoch, in the layers' order."""
    import numpy as np

    from mlderive.optim import SGD

    optimizer = SGD(lr)
    rng = np.random.default_rng(0)
    names = [f"{i} {type(layer).__name__}" for i, layer in enumerate(model.layers)]
    times = {name: [0.0, 0.0] for name in [*names, "loss", "update"]}
    clock = time.process_time  # CPU seconds: steady on a busy host (run with one thread)
    for step in range(batches + 5):
        rows = rng.integers(0, X.shape[0], batch_size)
        out = model._input(X[rows])
        caches, spent = [], []
        for layer in model.layers:
            start = clock()
            out, cache = layer.forward(out)
            spent.append(clock() - start)
            caches.append(cache)
        start = clock()
        _, loss_cache = model.loss_layer.forward(out, y[rows])
        upstream = model.loss_layer.backward(loss_cache)
        loss_time = clock() - start
        back = [0.0] * len(model.layers)
        for index in range(len(model.layers) - 1, -1, -1):
            layer = model.layers[index]
            start = clock()
            if getattr(layer, "skips_input_gradient", False):
                upstream = layer.backward(upstream, caches[index], index > 0)
            else:
                upstream = layer.backward(upstream, caches[index])
            back[index] = clock() - start
        start = clock()
        optimizer.step(model.params, model.grads)
        update_time = clock() - start
        if step >= 5:  # the first 5 steps are a warm-up
            _add(times, names, spent, back, loss_time, update_time)
    return _scaled(times, batches)


def profile_torch(model, X, y, batches: int, batch_size: int, lr: float) -> dict:
    """Same as :func:`profile_numpy` for an ``nn.Sequential`` ``model``."""
    import torch
    import torch.nn.functional as F

    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    names = [f"{i} {type(module).__name__}" for i, module in enumerate(model)]
    times = {name: [0.0, 0.0] for name in [*names, "loss", "update"]}
    clock = time.process_time  # CPU seconds: steady on a busy host (run with one thread)
    for step in range(batches + 5):
        rows = torch.randint(0, X.shape[0], (batch_size,), generator=generator)
        out = X[rows]
        inputs, outputs, spent = [], [], []
        optimizer.zero_grad(set_to_none=True)
        for module in model:
            x = out.detach().requires_grad_(bool(inputs))  # the first input needs no gradient
            start = clock()
            out = module(x)
            spent.append(clock() - start)
            inputs.append(x)
            outputs.append(out)
        start = clock()
        logits = out.detach().requires_grad_(True)
        loss = F.cross_entropy(logits, y[rows])
        loss.backward()
        loss.item()
        upstream = logits.grad
        loss_time = clock() - start
        back = [0.0] * len(outputs)
        for index in range(len(outputs) - 1, -1, -1):
            start = clock()
            outputs[index].backward(upstream)
            upstream = inputs[index].grad
            back[index] = clock() - start
        start = clock()
        optimizer.step()
        update_time = clock() - start
        if step >= 5:  # the first 5 steps are a warm-up
            _add(times, names, spent, back, loss_time, update_time)
    return _scaled(times, batches)
