"""Straightforward reference computations (explicit loops over rows) for the loss tests.

They are written independently of ``mmcontrast.models.losses``: no shared kernel, no
chunking, no index tricks, plain ``exp``/``log`` sums in float64.
"""
from types import SimpleNamespace

import pytest
import torch


def ref_two_view(za, zb, scale):
    """NT-Xent over [za; zb]: positive = same row in the other view, self excluded."""
    z = torch.cat([za, zb])
    n = za.shape[0]
    total = 0.0
    for i in range(2 * n):
        pos = i + n if i < n else i - n
        denom = sum(torch.exp(scale * torch.dot(z[i], z[j])) for j in range(2 * n) if j != i)
        total = total - torch.log(torch.exp(scale * torch.dot(z[i], z[pos])) / denom)
    return total / (2 * n)


def ref_supcon(features, labels, temperature):
    """Khosla L_out: features [N, V, D]; anchors = all views, mean over positives."""
    n, v, _ = features.shape
    rows = [torch.nn.functional.normalize(features[i, k], dim=0) for k in range(v) for i in range(n)]
    labs = [int(labels[i]) for k in range(v) for i in range(n)]
    losses = []
    for a in range(len(rows)):
        denom = sum(torch.exp(torch.dot(rows[a], rows[j]) / temperature) for j in range(len(rows)) if j != a)
        pos = [j for j in range(len(rows)) if j != a and labs[j] == labs[a]]
        if not pos:
            continue
        terms = [-torch.log(torch.exp(torch.dot(rows[a], rows[p]) / temperature) / denom) for p in pos]
        losses.append(sum(terms) / len(terms))
    return sum(losses) / len(losses)



@pytest.fixture
def ref():
    return SimpleNamespace(two_view=ref_two_view, supcon=ref_supcon)
