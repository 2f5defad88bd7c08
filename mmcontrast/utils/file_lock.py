"""An exclusive lock shared by processes that generate the same data on disk."""
import fcntl
import os
import os.path as osp
import shutil
import tempfile
from contextlib import contextmanager
from typing import Callable, Iterator


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


def replace_atomically(root: str, write: Callable[[str], None]) -> None:
    """Write a data folder next to ``root`` with ``write(tmp_dir)``, then rename it into place.

    Readers never see a half-written folder: an existing ``root`` is swapped out by two renames
    and deleted afterwards; a failing ``write`` leaves ``root`` untouched. Call it under
    :func:`exclusive_lock` of ``root``.

    Args:
        root (str): The data root to (re)create.
        write (Callable[[str], None]): Fills the given empty directory.
    """
    root_abs = osp.abspath(root).rstrip(os.sep)
    parent = osp.dirname(root_abs)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.' + osp.basename(root_abs) + '-tmp-', dir=parent)
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the data is shared
    try:
        write(tmp)
        if osp.lexists(root_abs):
            trash = tempfile.mkdtemp(prefix='.' + osp.basename(root_abs) + '-old-', dir=parent)
            os.rename(root_abs, osp.join(trash, 'old'))
            os.rename(tmp, root_abs)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, root_abs)
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def generate_once(root: str, up_to_date: Callable[[], bool], write: Callable[[str], None],
                  force: bool = False) -> None:
    """Generate the data at ``root`` with ``write`` unless ``up_to_date()`` says it is there.

    The check runs again under :func:`exclusive_lock` (another process may have finished while
    this one waited), and the folder is written by :func:`replace_atomically`. A non-empty
    ``root`` without ``meta.json`` is somebody else's folder: it is replaced only with ``force``.

    Args:
        root (str): The data root.
        up_to_date (Callable[[], bool]): Whether ``root`` already holds the requested data.
        write (Callable[[str], None]): Fills the given empty directory, ``meta.json`` included.
        force (bool): Replace a folder that is not generated data. Defaults to False.

    Raises:
        FileExistsError: If ``root`` is a non-empty folder without ``meta.json`` and ``force`` is False.
    """
    if up_to_date():
        return
    with exclusive_lock(root):
        if up_to_date():
            return
        if not force and osp.isdir(root) and os.listdir(root) and not osp.isfile(osp.join(root, 'meta.json')):
            raise FileExistsError(f'{root} exists, is not empty and has no meta.json; '
                                  'move it away or pass force=True to replace it.')
        replace_atomically(root, write)
