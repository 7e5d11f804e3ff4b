"""Re-estimating a model's batch-norm statistics, for weights that were averaged rather than trained (an EMA
of the weights, a model soup): their running statistics do not describe their own activations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def batchnorms(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The batch-norm layers of ``model`` (any dimension)."""
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def batch_slices(n: int, size: int) -> list[slice]:
    """Slices of ``n`` items in batches of ``size``, a last batch of one item joined to the one before: a batch
    norm in training mode cannot take a single value per channel (``BatchNorm1d`` after pooling)."""
    starts = list(range(0, n, size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return [slice(a, b) for a, b in zip(starts, [*starts[1:], n])]


@contextmanager
def estimating_batchnorm(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Inside, every batch norm of ``model`` has reset statistics and learns them as a cumulative average over
    the batches passed through the model (momentum None), while the rest of the model (dropout...) is as at
    validation; afterwards, momenta are restored and the model is in eval mode. Call it under ``no_grad``."""
    norms = batchnorms(model)
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    try:
        yield model
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()
