"""Let torch >= 2.6 load mmengine Runner checkpoints with ``weights_only=True``.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``. Since torch 2.6 that
means the restricted unpickler, which refuses the non-tensor objects a Runner writes
besides tensors and builtins: the message hub's ``HistoryBuffer`` s, which hold numpy
arrays, and numpy scalars. Instead of switching the restricted loader off, we allowlist
exactly those types; anything else (an arbitrary callable, say) is still refused.

``mmengine.Config`` is deliberately absent: ``Config(None, None, path)`` opens and reads
``path``, so a hostile ``REDUCE(Config, (None, None, path))`` would read any file at load
time (and hang on ``/dev/zero`` or a FIFO). ``ConfigDict`` is absent too: a Runner only
writes one inside ``meta['dataset_meta']`` when a dataset's metainfo nests a config dict,
and :class:`mmcontrast.engine.hooks.AtomicCheckpointHook` saves those as plain dicts.

``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer, 'min')``.
Allowlisting ``builtins.getattr`` itself would hand any attribute of any allowlisted
object to the unpickler, so the name is bound to :func:`restricted_getattr` instead,
which resolves those methods and nothing else.
"""
import pickle
from typing import Any, List

import torch


def numeric_dtype_classes() -> List[type]:
    """numpy's dtype classes of the bool, integer, float and complex types.

    A dtype unpickles as ``dtype(...)`` followed by a BUILD of its state, which the
    restricted unpickler only runs for allowlisted classes: the class of the instance,
    ``numpy.dtypes.Float64DType`` say, must be allowlisted too. Object, string, void and
    datetime dtypes are left out: a Runner checkpoint has no such arrays. The classes are
    those of the dtypes as they unpickle (``longlong`` comes back as ``int64``, say).
    """
    import numpy as np
    codes = '?' + np.typecodes['AllInteger'] + np.typecodes['AllFloat']
    return sorted({type(pickle.loads(pickle.dumps(np.dtype(code)))) for code in codes},
                  key=lambda cls: cls.__name__)


def _numpy_globals() -> List[Any]:
    # An array pickles as _reconstruct(ndarray, ...) + ndarray.__setstate__ with a dtype;
    # a numpy scalar (np.float64 in runtime_info, say) as scalar(dtype, bytes).
    import numpy as np
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    return [_reconstruct, scalar, np.ndarray, np.dtype, *numeric_dtype_classes()]


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
    from mmengine.logging import HistoryBuffer
    HistoryBuffer()  # registers the default statistics methods on the class
    return [HistoryBuffer, (restricted_getattr, 'builtins.getattr')]


def checkpoint_safe_globals() -> List[Any]:
    """The types a Runner checkpoint holds beyond torch's default allowlist.

    Measured with ``torch.serialization.get_unsafe_globals_in_checkpoint`` on the
    checkpoints of the toy segmentation, detection and self-supervised configs: numpy's
    ``_reconstruct``, ``scalar``, ``ndarray``, ``dtype`` and the numeric dtype classes
    (:func:`numeric_dtype_classes`), mmengine's ``HistoryBuffer`` and ``builtins.getattr``
    (bound to :func:`restricted_getattr`).
    """
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
