"""Let torch >= 2.6 load mmengine Runner checkpoints with ``weights_only=True``.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``. Since torch 2.6 that
means the restricted unpickler, which refuses the non-tensor objects a Runner writes
into ``meta`` (the message hub's ``HistoryBuffer`` s, numpy arrays and scalars,
``ConfigDict`` s in the dataset meta). Instead of switching the restricted loader
off, we allowlist exactly those types; anything else (an arbitrary callable, say)
is still refused.

``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer, 'min')``.
Allowlisting ``builtins.getattr`` itself would hand any attribute of any allowlisted
object to the unpickler, so the name is bound to :func:`restricted_getattr` instead,
which resolves those methods and nothing else.
"""
import pickle
from typing import Any, List

import torch


def _numpy_globals() -> List[Any]:
    import numpy as np
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [
        getattr(np.dtypes, name) for name in dir(np.dtypes)
        if name.endswith('DType') and isinstance(getattr(np.dtypes, name), type)
    ]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def restricted_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as seen by the ``weights_only`` unpickler.

    Only the statistics methods of ``mmengine.logging.HistoryBuffer`` (``min``, ``max``,
    ``current``, ``mean`` and any registered with ``register_statistics``) resolve.

    Raises:
        pickle.UnpicklingError: For anything else.
    """
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and name in HistoryBuffer._statistics_methods:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'weights_only load refused getattr({obj!r}, {name!r}): only '
                                 'HistoryBuffer statistics methods are allowlisted by mmcontrast')


def _mmengine_globals() -> List[Any]:
    from mmengine.config import Config, ConfigDict
    from mmengine.logging import HistoryBuffer
    HistoryBuffer()  # registers the default statistics methods on the class
    return [HistoryBuffer, ConfigDict, Config, (restricted_getattr, 'builtins.getattr')]


def checkpoint_safe_globals() -> List[Any]:
    """The types a Runner checkpoint holds beyond torch's default allowlist."""
    return _numpy_globals() + _mmengine_globals()


def register_checkpoint_safe_globals() -> bool:
    """Add :func:`checkpoint_safe_globals` to torch's ``weights_only`` allowlist.

    Idempotent. Does nothing on a torch without ``add_safe_globals`` (< 2.4),
    where ``torch.load`` is unrestricted by default anyway.

    Returns:
        bool: True if the allowlist was extended.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return False
    add(checkpoint_safe_globals())  # the allowlist is a set: adding twice is harmless
    return True
