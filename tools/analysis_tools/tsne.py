# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""t-SNE of pooled backbone features, coloured by class, written to a PNG.

    python tools/analysis_tools/tsne.py CONFIG [CHECKPOINT] --out tsne.png [--max-samples 2000]

Features are the global-average-pooled last backbone map of the images of the config's
``knn_query_dataloader`` (self-supervised configs) or ``val_dataloader`` (classifiers).
Without CHECKPOINT the randomly initialised backbone is shown. The embedding is an exact
t-SNE (van der Maaten & Hinton, 2008) in numpy: fine for a few thousand points.
"""
import argparse
import os.path as osp

import numpy as np


def _conditional_probs(sq_dist: np.ndarray, perplexity: float, tol: float = 1e-5, max_iter: int = 100) -> np.ndarray:
    """Row-wise Gaussian affinities whose entropy matches ``log(perplexity)`` (binary search on beta)."""
    n = sq_dist.shape[0]
    target = np.log(perplexity)
    probs = np.zeros((n, n))
    for i in range(n):
        d = np.delete(sq_dist[i], i)
        lo, hi, beta = 0.0, np.inf, 1.0
        for _ in range(max_iter):
            p = np.exp(-(d - d.min()) * beta)
            s = p.sum()
            entropy = np.log(s) + beta * ((d - d.min()) * p).sum() / s
            if abs(entropy - target) < tol:
                break
            if entropy > target:
                lo, beta = beta, beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        probs[i, np.arange(n) != i] = p / s
    return probs


def tsne(x: np.ndarray, perplexity: float = 30.0, num_iters: int = 750, seed: int = 0) -> np.ndarray:
    """Embed ``[N, D]`` features in 2-D with exact t-SNE.

    Args:
        x (np.ndarray): Features.
        perplexity (float): Effective number of neighbours. Defaults to 30.
        num_iters (int): Gradient steps (the first 250 with early exaggeration 12).
            Defaults to 750.
        seed (int): Seed of the initial embedding. Defaults to 0.

    Returns:
        np.ndarray: ``[N, 2]`` embedding.
    """
    n = x.shape[0]
    if n < 4:
        raise ValueError(f't-SNE needs at least 4 points, got {n}')
    perplexity = min(perplexity, (n - 1) / 3)
    x = x.astype(np.float64)
    sq = (x * x).sum(1)
    p = _conditional_probs(np.maximum(sq[:, None] + sq[None] - 2 * x @ x.T, 0), perplexity)
    p = np.maximum((p + p.T) / (2 * n), 1e-12)
    y = np.random.default_rng(seed).normal(0, 1e-4, (n, 2))
    velocity, gains = np.zeros_like(y), np.ones_like(y)
    learning_rate = max(n / 12.0 / 4.0, 50.0)  # the 'auto' rate of Belkina et al. 2019
    for it in range(num_iters):
        exaggeration, momentum = (12.0, 0.5) if it < 250 else (1.0, 0.8)
        ysq = (y * y).sum(1)
        num = 1.0 / (1.0 + np.maximum(ysq[:, None] + ysq[None] - 2 * y @ y.T, 0))
        np.fill_diagonal(num, 0.0)
        q = np.maximum(num / num.sum(), 1e-12)
        w = (exaggeration * p - q) * num
        grad = 4.0 * (np.diag(w.sum(1)) - w) @ y
        gains = np.where(np.sign(grad) != np.sign(velocity), gains + 0.2, gains * 0.8).clip(min=0.01)
        velocity = momentum * velocity - learning_rate * gains * grad
        y = y + velocity
        y -= y.mean(0)
    return y


def plot(embedding: np.ndarray, labels: np.ndarray, classes, out: str, title: str = '') -> None:
    """Scatter the embedding coloured by class into ``out`` (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 7), dpi=120)
    cmap = plt.get_cmap('tab10' if len(classes) <= 10 else 'tab20')
    for c, name in enumerate(classes):
        sel = labels == c
        if sel.any():
            ax.scatter(embedding[sel, 0], embedding[sel, 1], s=6, color=cmap(c % cmap.N), label=str(name))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    if len(classes) <= 20:
        ax.legend(markerscale=3, fontsize=7, loc='best')
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description='t-SNE of pooled backbone features')
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='model checkpoint; random init without')
    parser.add_argument('--out', default='tsne.png')
    parser.add_argument('--max-samples', type=int, default=2000)
    parser.add_argument('--perplexity', type=float, default=30.0)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint

    import mmcontrast  # noqa: F401
    from mmcontrast.engine.hooks.knn_hook import collect_features, pooled_backbone_feat
    from mmcontrast.registry import MODELS

    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmcontrast'))
    model = MODELS.build(cfg.model)
    model.init_weights() if args.checkpoint is None else load_checkpoint(model, args.checkpoint, map_location='cpu')
    loader_cfg = cfg.get('knn_query_dataloader') or cfg.get('val_dataloader')
    if loader_cfg is None:
        raise KeyError(f'{args.config} has neither knn_query_dataloader nor val_dataloader')
    loader_cfg = dict(loader_cfg, num_workers=0, persistent_workers=False)
    loader_cfg['dataset'] = dict(loader_cfg['dataset'])
    num = len(Runner.build_dataloader(loader_cfg).dataset)
    if num > args.max_samples:  # an evenly spaced subset keeps every class
        loader_cfg['dataset']['indices'] = np.linspace(0, num - 1, args.max_samples).astype(int).tolist()
    loader = Runner.build_dataloader(loader_cfg)
    with torch.no_grad():
        feats, labels = collect_features(model, loader, lambda x: pooled_backbone_feat(model, x))
    emb = tsne(feats.numpy(), args.perplexity, seed=args.seed)
    classes = loader.dataset.metainfo.get('classes', sorted(set(labels.tolist())))
    title = f'{osp.basename(args.config)}\n{osp.basename(args.checkpoint) if args.checkpoint else "random init"}'
    plot(emb, labels.numpy(), classes, args.out, title)
    print(f'wrote {args.out} ({len(labels)} points)')


if __name__ == '__main__':
    main()
