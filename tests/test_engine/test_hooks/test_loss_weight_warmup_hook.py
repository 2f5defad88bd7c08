"""LossWeightWarmupHook: schedule values, attribute resolution, runner integration."""
import math
from types import SimpleNamespace

import pytest
import torch.nn as nn
from mmengine.logging import MessageHub

from mmcontrast.engine.hooks import LossWeightWarmupHook


class _Loss(nn.Module):

    def __init__(self):
        super().__init__()
        self.loss_weight = 0.5


class _Model(nn.Module):

    def __init__(self):
        super().__init__()
        self.terms = nn.ModuleDict({'supcon': nn.Module()})
        self.terms.supcon.loss = _Loss()


def _runner(model, cur_iter=0):
    return SimpleNamespace(model=model, iter=cur_iter, message_hub=MessageHub.get_instance('warmup_test'))


def test_linear_and_cosine_factors():
    linear = LossWeightWarmupHook('w', warmup_iters=10)
    assert [linear.factor(i) for i in (0, 5, 10, 50)] == [0.0, 0.5, 1.0, 1.0]
    cosine = LossWeightWarmupHook('w', warmup_iters=10, mode='cosine', start_factor=0.2)
    assert cosine.factor(0) == pytest.approx(0.2)
    assert cosine.factor(5) == pytest.approx(0.2 + 0.8 * 0.5 * (1 - math.cos(math.pi * 0.5)))
    assert cosine.factor(10) == pytest.approx(1.0)
    delayed = LossWeightWarmupHook('w', warmup_iters=4, begin_iter=10)
    assert [delayed.factor(i) for i in (0, 10, 12, 14)] == [0.0, 0.0, 0.5, 1.0]
    assert LossWeightWarmupHook('w', warmup_iters=0, begin_iter=3).factor(2) == 0.0
    assert LossWeightWarmupHook('w', warmup_iters=0, begin_iter=3).factor(3) == 1.0


def test_sets_the_weight_every_iteration_and_restores_it():
    model = _Model()
    hook = LossWeightWarmupHook('terms.supcon.loss.loss_weight', warmup_iters=4)
    runner = _runner(model)
    hook.before_train(runner)
    assert model.terms.supcon.loss.loss_weight == 0.0
    for it, expected in ((1, 0.125), (2, 0.25), (7, 0.5)):
        runner.iter = it
        hook.before_train_iter(runner, batch_idx=it)
        assert model.terms.supcon.loss.loss_weight == pytest.approx(expected)
        assert runner.message_hub.get_scalar('train/terms_supcon_loss_loss_weight').current() == pytest.approx(
            expected)
    # resuming mid-warm-up lands on the same value: the factor depends on the iteration only
    resumed = LossWeightWarmupHook('terms.supcon.loss.loss_weight', warmup_iters=4)
    model2 = _Model()
    resumed.before_train(_runner(model2, cur_iter=2))
    assert model2.terms.supcon.loss.loss_weight == pytest.approx(0.25)
    hook.after_train(runner)
    assert model.terms.supcon.loss.loss_weight == 0.5


def test_unwraps_model_wrappers_and_reports_bad_paths():
    from mmengine.model import MMDistributedDataParallel
    model = _Model()
    wrapped = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    nn.Module.__init__(wrapped)
    wrapped.module = model
    hook = LossWeightWarmupHook('terms.supcon.loss.loss_weight', warmup_iters=2)
    hook.before_train(_runner(wrapped))
    assert model.terms.supcon.loss.loss_weight == 0.0
    with pytest.raises(AttributeError, match="no 'terms.pcl'"):
        LossWeightWarmupHook('terms.pcl.loss.loss_weight').before_train(_runner(_Model()))
    with pytest.raises(AttributeError, match='must name a float attribute'):
        LossWeightWarmupHook('terms.supcon.loss').before_train(_runner(_Model()))


def test_invalid_arguments():
    with pytest.raises(ValueError, match='mode'):
        LossWeightWarmupHook('w', mode='step')
    with pytest.raises(ValueError, match='start_factor'):
        LossWeightWarmupHook('w', start_factor=2.0)
    with pytest.raises(ValueError, match='warmup_iters'):
        LossWeightWarmupHook('w', warmup_iters=-1)
