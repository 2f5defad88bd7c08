"""An exclusive lock shared by processes that generate the same data on disk."""
import fcntl
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator


def lock_path(root: str) -> str:
    """The lock file of the data at ``root``: ``<root>.lock`` next to it.

    The convention of :func:`mmcontrast.datasets.toy_uda.ensure_toy_uda`, so that the toy
    data generators lock alike.
    """
    return osp.abspath(root).rstrip(os.sep) + '.lock'


@contextmanager
def exclusive_lock(root: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on :func:`lock_path` of ``root`` for the block.

    Blocks until no other process holds it. The lock is released when the block ends or
    the process dies (the kernel drops it with the file descriptor), so a killed generator
    never leaves it stuck.

    Args:
        root (str): The data root being generated.
    """
    path = lock_path(root)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
