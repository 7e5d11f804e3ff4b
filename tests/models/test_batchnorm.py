import pytest
import torch

from ferkit.models import create
from ferkit.models.batchnorm import batch_slices, batchnorms, estimating_batchnorm


def test_estimating_batchnorm_learns_the_batches_and_restores_the_model_even_on_error():
    torch.manual_seed(0)
    model = create("vgg_compact", widths=(8, 16), dropout=0.5)
    norms = batchnorms(model)
    assert norms and all(m.momentum == 0.1 for m in norms)
    x = torch.randn(16, 1, 40, 40) * 3 + 1
    with torch.no_grad(), estimating_batchnorm(model):
        assert all(m.training for m in norms) and all(m.momentum is None for m in norms)
        assert not any(m.training for m in model.modules() if isinstance(m, torch.nn.Dropout))
        model(x)
    first = norms[0]
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        torch.testing.assert_close(first.running_mean, conv(x).mean((0, 2, 3)), atol=1e-5, rtol=1e-4)
    assert not model.training and all(m.momentum == 0.1 for m in norms) and int(first.num_batches_tracked) == 1
    with pytest.raises(RuntimeError), estimating_batchnorm(model):
        raise RuntimeError("interrupted")
    assert not model.training and all(m.momentum == 0.1 for m in norms)


def test_batch_slices_never_leave_a_batch_of_one():
    assert batch_slices(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert batch_slices(9, 4) == [slice(0, 4), slice(4, 9)]
    assert batch_slices(8, 4) == [slice(0, 4), slice(4, 8)]
    assert batch_slices(1, 4) == [slice(0, 1)] and batch_slices(0, 4) == []
