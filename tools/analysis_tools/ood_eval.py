"""Score out-of-distribution detection of a classifier with withheld classes.

    python tools/analysis_tools/ood_eval.py CONFIG CHECKPOINT --ood-data-root data/toy_cls_withheld/ood \
        [--k 10] [--out ood.json] [--cfg-options ...]

In-distribution (ID) samples are the config's ``test_dataloader``; OOD samples are the
same loader with its dataset's ``data_root`` replaced by ``--ood-data-root`` (classes
the model never saw, e.g. written by ``tools/dataset_converters/withhold_classes.py``).
The bank for feature scores is the config's training set, read with the test pipeline.

Scores (higher = more in-distribution), each reported as AUROC (ID positive) and
FPR at 95% TPR:

- ``msp``: maximum softmax probability (Hendrycks & Gimpel, ICLR 2017);
- ``knn``: cosine similarity of the l2-normalised feature to its k-th nearest bank
  feature (Sun et al., "Out-of-Distribution Detection with Deep Nearest Neighbors",
  ICML 2022), i.e. minus a feature distance;
- ``class_mean``: the largest cosine similarity to a class mean of the bank.

The model must provide ``extract_feat(inputs) -> [B, C]`` and ``head(feats) -> logits``
(``mmcontrast.ImageClassifier``; a ``ContrastiveInjector`` is unwrapped).
"""
import argparse
import copy
import json
from typing import Dict, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint
from scipy.stats import rankdata


def auroc(id_scores: np.ndarray, ood_scores: np.ndarray) -> float:
    """Area under the ROC curve with ID as the positive class (ties count 1/2).

    Computed from ranks (Mann-Whitney U), exact for any number of ties.

    Args:
        id_scores (np.ndarray): Scores of ID samples, higher = more ID.
        ood_scores (np.ndarray): Scores of OOD samples.

    Returns:
        float: AUROC in [0, 1].
    """
    id_scores, ood_scores = np.asarray(id_scores, np.float64), np.asarray(ood_scores, np.float64)
    if id_scores.size == 0 or ood_scores.size == 0:
        raise ValueError(f'AUROC needs ID and OOD scores, got {id_scores.size} and {ood_scores.size}')
    if not (np.isfinite(id_scores).all() and np.isfinite(ood_scores).all()):
        raise ValueError('AUROC got non-finite scores')
    ranks = rankdata(np.concatenate([id_scores, ood_scores]))
    n_id, n_ood = id_scores.size, ood_scores.size
    u = ranks[:n_id].sum() - n_id * (n_id + 1) / 2
    return float(u / (n_id * n_ood))


def fpr_at_tpr(id_scores: np.ndarray, ood_scores: np.ndarray, tpr: float = 0.95) -> float:
    """Fraction of OOD samples accepted at the threshold that keeps ``tpr`` of ID."""
    threshold = np.quantile(np.asarray(id_scores, np.float64), 1.0 - tpr, method='lower')
    return float((np.asarray(ood_scores) >= threshold).mean())


def knn_scores(bank: torch.Tensor, query: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Cosine similarity of every query row to its ``k``-th nearest bank row."""
    if not 1 <= k <= bank.shape[0]:
        raise ValueError(f'k must be in [1, {bank.shape[0]}] (the bank size), got {k}')
    bank = F.normalize(bank.float(), dim=1)
    out = []
    for rows in F.normalize(query.float(), dim=1).split(chunk):
        out.append((rows @ bank.t()).topk(k, dim=1).values[:, -1])
    return torch.cat(out)


def class_mean_scores(bank: torch.Tensor, bank_labels: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Largest cosine similarity of every query row to a class mean of the bank."""
    bank = F.normalize(bank.float(), dim=1)
    classes = bank_labels.unique()
    means = torch.stack([bank[bank_labels == c].mean(0) for c in classes])
    return (F.normalize(query.float(), dim=1) @ F.normalize(means, dim=1).t()).max(1).values


def ood_metrics(id_scores: Dict[str, np.ndarray], ood_scores: Dict[str, np.ndarray]) -> Dict[str, float]:
    """AUROC and FPR@95TPR for every score name present in both dicts."""
    out = {}
    for name in id_scores:
        out[f'auroc_{name}'] = auroc(id_scores[name], ood_scores[name])
        out[f'fpr95_{name}'] = fpr_at_tpr(id_scores[name], ood_scores[name])
    return out


@torch.no_grad()
def collect(model, loader) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features ``[N, C]``, logits ``[N, K]`` and labels ``[N]`` of a loader."""
    feats, logits, labels = [], [], []
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        feat = model.extract_feat(data['inputs'])
        feats.append(feat.float())
        logits.append(model.head(feat).float())
        labels.append(torch.stack([s.gt_label.reshape(()) for s in data['data_samples']]).long())
    return torch.cat(feats), torch.cat(logits), torch.cat(labels)


def _loader(cfg: Config, dataloader: dict, **dataset_overrides) -> torch.utils.data.DataLoader:
    dataloader = copy.deepcopy(dataloader)
    dataloader['dataset'].update(dataset_overrides)
    dataloader['sampler'] = dict(type='DefaultSampler', shuffle=False)
    dataloader.pop('batch_sampler', None)
    return Runner.build_dataloader(dataloader, seed=0)


def evaluate(cfg: Config, checkpoint: str, ood_data_root: str, k: int = 10) -> Dict[str, float]:
    """Build the model of ``cfg``, load ``checkpoint`` and score ID vs OOD."""
    from mmcontrast.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmcontrast'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    model = getattr(model, 'model', model) if not hasattr(model, 'extract_feat') else model
    if not (hasattr(model, 'extract_feat') and hasattr(model, 'head')):
        raise TypeError(f'ood_eval needs a model with extract_feat() and head(), got {type(model).__name__}')
    model.eval()
    test = cfg.test_dataloader
    id_feat, id_logits, id_labels = collect(model, _loader(cfg, test))
    ood_feat, ood_logits, _ = collect(model, _loader(cfg, test, data_root=ood_data_root))
    bank_feat, _, bank_labels = collect(
        model, _loader(cfg, dict(test, dataset=dict(cfg.train_dataloader.dataset)),
                       pipeline=test.dataset.pipeline, split=cfg.train_dataloader.dataset.get('split', 'train')))
    scores = {}
    for name, feat, logits in (('id', id_feat, id_logits), ('ood', ood_feat, ood_logits)):
        scores[name] = dict(
            msp=F.softmax(logits, dim=1).max(1).values.numpy(),
            knn=knn_scores(bank_feat, feat, k).numpy(),
            class_mean=class_mean_scores(bank_feat, bank_labels, feat).numpy())
    results = dict(
        id_accuracy=float((id_logits.argmax(1) == id_labels).float().mean() * 100),
        num_id=int(id_feat.shape[0]),
        num_ood=int(ood_feat.shape[0]),
        num_bank=int(bank_feat.shape[0]),
        k=k)
    results.update(ood_metrics(scores['id'], scores['ood']))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config of the classifier (its test and train loaders are used)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--ood-data-root', required=True, help='data_root of the OOD (withheld-class) set')
    parser.add_argument('--k', type=int, default=10, help='neighbour rank of the kNN score')
    parser.add_argument('--out', help='write the metrics as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    torch.set_num_threads(1)
    results = evaluate(cfg, args.checkpoint, args.ood_data_root, args.k)
    print(f"ID accuracy {results['id_accuracy']:.2f}% on {results['num_id']} ID / {results['num_ood']} OOD images")
    print(f"{'score':<12}{'AUROC':>8}{'FPR@95':>8}")
    for name in ('msp', 'knn', 'class_mean'):
        print(f"{name:<12}{results[f'auroc_{name}']:>8.4f}{results[f'fpr95_{name}']:>8.4f}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
