"""The numpy t-SNE of tools/analysis_tools/tsne.py."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tsne_tool():
    spec = importlib.util.spec_from_file_location('_mmcontrast_tsne', osp.join(ROOT, 'tools/analysis_tools/tsne.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tsne_separates_clusters_and_plots(tmp_path):
    tool = _tsne_tool()
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (20, 8)), rng.normal(3, 0.1, (20, 8))])
    emb = tool.tsne(x, perplexity=5)
    assert emb.shape == (40, 2) and np.isfinite(emb).all()
    labels = np.repeat([0, 1], 20)
    dist = np.linalg.norm(emb[:, None] - emb[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    assert (labels[dist.argmin(1)] == labels).all()  # every nearest neighbour is from the same cluster
    centres = np.stack([emb[:20].mean(0), emb[20:].mean(0)])
    assert (np.linalg.norm(emb[:, None] - centres[None], axis=2).argmin(1) == labels).all()
    out = tmp_path / 'tsne.png'
    tool.plot(emb, labels, ['a', 'b'], str(out), 'test')
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with pytest.raises(ValueError, match='at least 4'):
        tool.tsne(x[:3])
