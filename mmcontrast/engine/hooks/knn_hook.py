"""kNN monitor of self-supervised pretraining."""
from typing import Callable, Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from torch import Tensor
from torch.utils.data import DataLoader

from mmcontrast.evaluation.metrics.knn import knn_classify
from mmcontrast.registry import HOOKS
from mmcontrast.utils.distributed import gather_no_grad


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP/FSDP wrapper."""
    return model.module if is_model_wrapper(model) else model


@torch.no_grad()
def collect_features(model: torch.nn.Module, dataloader: DataLoader,
                     feat_fn: Callable[[Tensor], Tensor]) -> Tuple[Tensor, Tensor]:
    """Features and labels of a whole dataset, in dataset order, on every rank.

    Each rank runs ``feat_fn`` on the batches of its sampler shard (after the
    model's data preprocessor); the results of all ranks are gathered and put in
    place by ``sample_idx``, so padding duplicates of a distributed sampler vanish.
    The model is put in eval mode and restored afterwards.

    Args:
        model (nn.Module): The (unwrapped) model; its ``data_preprocessor`` is used.
        dataloader (DataLoader): Single-view loader (``PackClsInputs``).
        feat_fn (Callable): Maps a ``[B, C, H, W]`` batch to ``[B, D]`` features.

    Returns:
        tuple[Tensor, Tensor]: ``[N, D]`` float features (on CPU) and ``[N]``
        labels (-1 where the dataset has none).
    """
    was_training = model.training
    model.eval()
    feats, labels, indices = [], [], []
    try:
        for data in dataloader:
            data = model.data_preprocessor(data, False)
            inputs = data['inputs']
            if not isinstance(inputs, Tensor):
                raise ValueError('feature extraction needs single-view batches (PackClsInputs)')
            feats.append(feat_fn(inputs).float())
            samples = data['data_samples']
            labels.append(torch.stack([s.gt_label.reshape(()) for s in samples]).to(feats[-1].device))
            indices.append(torch.tensor([s.sample_idx for s in samples], device=feats[-1].device))
    finally:
        model.train(was_training)
    if not feats:
        raise ValueError('the feature extraction dataloader is empty')
    feats, labels, indices = torch.cat(feats), torch.cat(labels), torch.cat(indices)
    feats, labels, indices = gather_no_grad(feats), gather_no_grad(labels), gather_no_grad(indices)
    num = len(dataloader.dataset)
    out_f = feats.new_zeros(num, feats.shape[1])
    out_l = labels.new_full((num, ), -1)
    seen = torch.zeros(num, dtype=torch.bool, device=feats.device)
    out_f[indices], out_l[indices], seen[indices] = feats, labels, True
    if not bool(seen.all()):
        raise RuntimeError(f'{int((~seen).sum())} of {num} samples were not visited: use a sampler that '
                           'covers the dataset (DefaultSampler, shuffle=False)')
    return out_f.cpu(), out_l.cpu()


def pooled_backbone_feat(model: torch.nn.Module, inputs: Tensor) -> Tensor:
    """Global-average-pooled last backbone map: the representation that transfers."""
    x = model.extract_feat(inputs)
    x = x[-1] if isinstance(x, (list, tuple)) else x
    return F.normalize(x.mean(dim=(2, 3)) if x.dim() == 4 else x, dim=1)


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """Weighted kNN accuracy (k 200, t 0.1) of pooled backbone features.

    Every ``interval`` epochs (and before training, for the random-init
    reference) the train set (``bank_dataloader``, no augmentation) and the test
    set (``query_dataloader``) go through the backbone; each test image is
    classified by :func:`~mmcontrast.evaluation.metrics.knn.knn_classify`. The
    top-1 accuracy is logged as ``knn/top1`` (message hub and visualiser) and kept
    in ``self.history`` as ``(epoch, top1)``.

    Args:
        bank_dataloader (dict | DataLoader): Labelled bank, single view.
        query_dataloader (dict | DataLoader): Evaluated images, single view.
        num_classes (int, optional): Defaults to the bank dataset's number of
            ``classes`` in its metainfo.
        k (int): Defaults to 200.
        temperature (float): Defaults to 0.1.
        interval (int): Epochs between evaluations. Defaults to 1.
        before_train (bool): Also evaluate the initial weights. Defaults to True.
    """

    priority = 'LOW'

    def __init__(self,
                 bank_dataloader: Union[dict, DataLoader],
                 query_dataloader: Union[dict, DataLoader],
                 num_classes: Optional[int] = None,
                 k: int = 200,
                 temperature: float = 0.1,
                 interval: int = 1,
                 before_train: bool = True) -> None:
        if k < 1 or temperature <= 0 or interval < 1:
            raise ValueError(f'need k >= 1, temperature > 0, interval >= 1; got {k}, {temperature}, {interval}')
        self._loader_cfgs = dict(bank=bank_dataloader, query=query_dataloader)
        self._loaders: Dict[str, DataLoader] = {}
        self.num_classes = num_classes
        self.k, self.temperature, self.interval = k, temperature, interval
        self.eval_before_train = before_train
        self.history = []

    def _loader(self, runner: Runner, name: str) -> DataLoader:
        if name not in self._loaders:
            cfg = self._loader_cfgs[name]
            self._loaders[name] = cfg if isinstance(cfg, DataLoader) else Runner.build_dataloader(
                cfg, seed=runner.seed, diff_rank_seed=False)
        return self._loaders[name]

    def evaluate(self, runner: Runner, epoch: Optional[int] = None) -> float:
        """Run the monitor now; returns (and logs) the top-1 accuracy in percent.

        Args:
            runner (Runner): The runner.
            epoch (int, optional): Number of finished epochs to report. Defaults
                to ``runner.epoch``.
        """
        epoch = runner.epoch if epoch is None else epoch
        model = unwrap(runner.model)

        def feat_fn(inputs):
            return pooled_backbone_feat(model, inputs)

        bank = self._loader(runner, 'bank')
        bank_f, bank_l = collect_features(model, bank, feat_fn)
        query_f, query_l = collect_features(model, self._loader(runner, 'query'), feat_fn)
        num_classes = self.num_classes or len(bank.dataset.metainfo['classes'])
        labelled = bank_l >= 0
        scores = knn_classify(bank_f[labelled], bank_l[labelled], query_f, num_classes, self.k, self.temperature)
        top1 = float((scores.argmax(1) == query_l).float().mean() * 100) if len(query_l) else 0.0
        self.history.append((epoch, top1))
        runner.message_hub.update_scalar('knn/top1', top1)
        runner.visualizer.add_scalars({'knn/top1': top1}, step=runner.iter)
        runner.logger.info(f'kNN monitor (k={self.k}, t={self.temperature}) after epoch {epoch}: '
                           f'top-1 {top1:.2f}%')
        return top1

    def before_train(self, runner: Runner) -> None:
        if self.eval_before_train and runner.epoch == 0:
            self.evaluate(runner)

    def after_train_epoch(self, runner: Runner) -> None:
        # runner.epoch counts finished epochs only after this hook.
        if self.every_n_epochs(runner, self.interval) or self.is_last_train_epoch(runner):
            self.evaluate(runner, runner.epoch + 1)
