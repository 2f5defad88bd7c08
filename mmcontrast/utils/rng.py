"""Capture and restore the global random number generators of a process.

A training step here draws from python's ``random`` (DAFormer-style strong augmentation),
numpy's legacy global generator (class mixing, numpy transforms) and torch's CPU and CUDA
generators. Re-seeding on resume does not bring them back to where the interrupted run
was, so checkpoints carry their states (see :class:`mmcontrast.engine.hooks.RNGStateHook`).

The states are stored as tensors and plain python numbers only, so that a checkpoint
holding them still loads with ``torch.load(weights_only=True)`` and needs no extra
allowlisted globals.
"""
import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch

#: Version of the layout written by :func:`get_rng_state`.
RNG_STATE_VERSION = 1


def _python_state() -> Dict[str, Any]:
    version, internal, gauss_next = random.getstate()
    return dict(version=version, internal=torch.tensor(internal, dtype=torch.int64), gauss_next=gauss_next)


def _set_python_state(state: Dict[str, Any]) -> None:
    internal = tuple(int(v) for v in state['internal'].tolist())
    random.setstate((int(state['version']), internal, state['gauss_next']))


def _numpy_state() -> Dict[str, Any]:
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    return dict(
        bit_generator=str(name),
        keys=torch.from_numpy(keys.astype(np.int64)),
        pos=int(pos),
        has_gauss=int(has_gauss),
        cached_gaussian=float(cached_gaussian))


def _set_numpy_state(state: Dict[str, Any]) -> None:
    keys = state['keys'].numpy().astype(np.uint32)
    np.random.set_state(
        (state['bit_generator'], keys, int(state['pos']), int(state['has_gauss']), float(state['cached_gaussian'])))


def get_rng_state() -> Dict[str, Any]:
    """The states of this process's python, numpy, torch CPU and CUDA generators.

    CUDA states are only read when CUDA is initialised already: querying them would
    otherwise create a CUDA context in a CPU run (and the generators are untouched then).

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and ``cuda`` (a list of per-device
        ``ByteTensor`` s, empty without an initialised CUDA) plus ``version``.
    """
    cuda: List[torch.Tensor] = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = [s.clone() for s in torch.cuda.get_rng_state_all()]
    return dict(
        version=RNG_STATE_VERSION,
        python=_python_state(),
        numpy=_numpy_state(),
        torch=torch.get_rng_state().clone(),
        cuda=cuda)


def set_rng_state(state: Dict[str, Any]) -> Optional[str]:
    """Restore the generators from a :func:`get_rng_state` result.

    Args:
        state (dict): As returned by :func:`get_rng_state` (possibly after a
            checkpoint round trip).

    Returns:
        str, optional: A note on what could not be restored (CUDA states of a run
        with a different number of devices or without CUDA), else None.

    Raises:
        ValueError: If ``state`` is not in the layout this version writes.
    """
    version = state.get('version') if isinstance(state, dict) else None
    if version != RNG_STATE_VERSION:
        raise ValueError(f'unknown RNG state layout (version {version}, expected {RNG_STATE_VERSION})')
    _set_python_state(state['python'])
    _set_numpy_state(state['numpy'])
    torch.set_rng_state(state['torch'].cpu())
    cuda = list(state.get('cuda') or [])
    if not cuda:
        return None
    if not torch.cuda.is_available():
        return f'{len(cuda)} CUDA generator state(s) were saved but CUDA is not available: not restored'
    if len(cuda) != torch.cuda.device_count():
        return (f'{len(cuda)} CUDA generator state(s) were saved for {torch.cuda.device_count()} visible '
                'device(s): not restored')
    torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
    return None
