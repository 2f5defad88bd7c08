"""A DDP wrapper for models that run their own backward passes inside ``train_step``."""
from typing import Dict, Union

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from mmcontrast.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class UDADistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that lets the model schedule its backward passes.

    DDP reduces gradients from autograd hooks armed by its own ``forward``, once per
    forward; a model that backpropagates several stages of one step (DAFormer's
    sequential backward) would be reduced after the first stage only. Here the model's
    ``train_step(data, optim_wrapper, grad_sync)`` runs the step outside DDP's forward
    (the reducer stays idle) and calls :meth:`sync_gradients` once, after its last
    backward: an all-reduce of every gradient, averaged over the ranks, as DDP does.
    Models without a ``grad_sync`` argument (``supports_grad_sync`` unset) train as
    under ``MMDistributedDataParallel``.

    Args:
        module (nn.Module): The model.
        **kwargs: Arguments of ``MMDistributedDataParallel``.
    """

    def train_step(self, data: Union[dict, tuple, list], optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """Run the model's own train step with one gradient synchronisation."""
        if not getattr(self.module, 'supports_grad_sync', False):
            return super().train_step(data, optim_wrapper)
        return self.module.train_step(data, optim_wrapper, grad_sync=self.sync_gradients)

    @torch.no_grad()
    def sync_gradients(self) -> None:
        """Average the gradients of all trainable parameters over the ranks (one flat all-reduce)."""
        params = [p for p in self.module.parameters() if p.requires_grad]
        # A parameter may get a gradient on some ranks only: every rank must reduce the same list.
        has_grad = torch.tensor([p.grad is not None for p in params], dtype=torch.uint8, device=self._device())
        dist.all_reduce(has_grad, op=dist.ReduceOp.MAX)
        reduced = [p for p, flag in zip(params, has_grad.tolist()) if flag]
        for p in reduced:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        if not reduced:
            return
        world_size = dist.get_world_size()
        for dtype in {p.grad.dtype for p in reduced}:
            grads = [p.grad for p in reduced if p.grad.dtype == dtype]
            flat = _flatten_dense_tensors(grads)
            dist.all_reduce(flat)
            flat.div_(world_size)
            for grad, synced in zip(grads, _unflatten_dense_tensors(flat, grads)):
                grad.copy_(synced)

    def _device(self) -> torch.device:
        param = next(self.module.parameters(), None)
        return param.device if param is not None else torch.device('cpu')
