"""A CheckpointHook that never leaves a run without a complete checkpoint."""
import logging
import os
import os.path as osp
import re
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator, List

from mmengine.config import ConfigDict
from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmcontrast.registry import HOOKS

#: Suffix of a checkpoint being written; renamed to its final name once complete.
PARTIAL_SUFFIX = '.part'
#: ``runtime_info`` keys holding paths that the checkpoint hook deletes or writes next to.
_PATH_KEYS = re.compile(r'^(best_ckpt(_.+)?|last_ckpt)$')


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _inside(path: str, root: str) -> bool:
    """Whether local ``path`` resolves (symlinks included) to ``root`` or below."""
    path, root = osp.realpath(path), osp.realpath(root)
    return osp.commonpath([path, root]) == root


def _plain(value):
    """``value`` with every ``ConfigDict`` turned into a ``dict`` (other types untouched)."""
    if isinstance(value, ConfigDict):
        return {k: _plain(v) for k, v in dict.items(value)}
    if type(value) in (dict, OrderedDict):
        return type(value)((k, _plain(v)) for k, v in value.items())
    if type(value) in (list, tuple):
        return type(value)(_plain(v) for v in value)
    return value


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` with crash-safe saving and a guarded resume.

    Same arguments and checkpoints as the stock hook; it differs in three ways.

    - **Atomic writes.** A checkpoint (and the ``last_checkpoint`` pointer) is written to
      a hidden ``.<name>.part`` file in the same directory, flushed to disk and renamed
      to its final name, so a checkpoint file is either complete or absent. Outdated
      checkpoints (``max_keep_ckpts``) and the previous best checkpoint are removed only
      after the new one is complete: a run killed while saving keeps its previous
      checkpoint. Leftover ``.part`` files of a killed run are removed at the start of
      the next one. (Remote backends are written directly; only the deletion order
      applies there.)
    - **Foreign paths are not trusted.** On resume, the message hub's ``best_ckpt*`` and
      ``last_ckpt`` entries (which the stock hook deletes, recursively for directories,
      or publishes next to) must lie inside the work dir or the checkpoint directory;
      others are dropped with a warning. ``keep_ckpt_ids`` must be integers.
    - **No mid-epoch checkpoints in epoch-based loops.** ``by_epoch=False`` with an
      epoch-based train loop is refused: mmengine restarts a resumed epoch from its first
      batch, so such a checkpoint would replay batches (see docs/get_started.md).

    Args:
        **kwargs: Arguments of :class:`mmengine.hooks.CheckpointHook`.
    """

    # ---------------------------------------------------------------- writing
    def _local(self) -> bool:
        # decided in before_train: file_backend is swapped for a proxy while saving a best checkpoint
        return getattr(self, '_is_local', False)

    def _save_atomically(self, save, out_dir: str, filename: str, *args, **kwargs) -> None:
        """Call ``save`` (``Runner.save_checkpoint``) on a temporary name, then rename."""
        if not self._local():
            save(out_dir, filename, *args, **kwargs)
            return
        final = osp.join(out_dir, filename)
        partial = osp.join(osp.dirname(final), f'.{osp.basename(final)}{PARTIAL_SUFFIX}')
        try:
            save(out_dir, osp.relpath(partial, out_dir), *args, **kwargs)
            if is_main_process():  # Runner.save_checkpoint writes on the main process only
                _fsync(partial)
                os.replace(partial, final)
                _fsync(osp.dirname(final))
        except BaseException:
            if is_main_process() and osp.exists(partial):
                os.remove(partial)
            raise

    @contextmanager
    def _atomic_runner_saves(self, runner) -> Iterator[None]:
        """Route ``runner.save_checkpoint`` through :meth:`_save_atomically` (for the
        stock ``_save_best_checkpoint``, which calls it directly)."""
        own = vars(runner).get('save_checkpoint')
        original = self._raw_save = runner.save_checkpoint
        runner.save_checkpoint = lambda out_dir, filename, *a, **kw: self._save_atomically(
            original, out_dir, filename, *a, **kw)
        try:
            yield
        finally:
            self._raw_save = None
            if own is None:
                del runner.save_checkpoint
            else:
                runner.save_checkpoint = own

    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            # checkpoints saved by deepspeed are directories
            self.file_backend.rmtree(path)

    def _write_last_checkpoint(self, runner) -> None:
        path = osp.join(runner.work_dir, 'last_checkpoint')
        partial = osp.join(runner.work_dir, f'.last_checkpoint{PARTIAL_SUFFIX}')
        with open(partial, 'w') as f:
            f.write(self.last_ckpt)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated: List[str] = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            # _save_checkpoint and _save_best_checkpoint may both save the same step
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                old = self.keep_ckpt_ids.popleft()
                outdated.append(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old)))
            self.keep_ckpt_ids.append(step)
            # updated before the save, so the new checkpoint lists itself, as in mmengine
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._save_atomically(
            getattr(self, '_raw_save', None) or runner.save_checkpoint,
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        self._write_last_checkpoint(runner)
        # only now that the new checkpoint is complete
        for path in outdated:
            self._remove(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # The stock method removes the previous best before writing the new one: defer the
        # removal until it returns, and write atomically.
        if not self.save_best or not hasattr(self, 'file_backend'):
            return  # nothing to keep, or runner.val()/test() without training (no before_train)
        removals: List[str] = []
        backend = self.file_backend

        class _DeferRemovals:

            def __getattr__(self, name):
                return getattr(backend, name)

            def remove(self, path):
                removals.append(path)

            def rmtree(self, path):
                removals.append(path)

        self.file_backend = _DeferRemovals()
        try:
            with self._atomic_runner_saves(runner):
                super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        keep = {
            p
            for p in (getattr(self, 'best_ckpt_path', None), *getattr(self, 'best_ckpt_path_dict', {}).values()) if p
        }
        if is_main_process():
            for path in removals:
                if path not in keep:
                    self._remove(path)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store config dicts of the meta and the runtime info as plain dicts.

        A dataset metainfo nesting a config dict (it is in both: ``RuntimeInfoHook`` keeps
        a copy in the runtime info) would otherwise pickle a ``ConfigDict``,
        which mmcontrast's ``weights_only`` allowlist does not hold
        (:mod:`mmcontrast.utils.checkpoint`).
        """
        if isinstance(checkpoint.get('meta'), dict):
            checkpoint['meta'] = _plain(checkpoint['meta'])
        hub = checkpoint.get('message_hub')
        if isinstance(hub, dict) and isinstance(hub.get('runtime_info'), dict):
            hub['runtime_info'] = _plain(hub['runtime_info'])

    # -------------------------------------------------------------- resuming
    def _allowed_roots(self, runner) -> List[str]:
        roots = [runner.work_dir]
        if self.out_dir is not None and self.out_dir != runner.work_dir:
            out_dir = str(self.out_dir)
            base = osp.basename(runner.work_dir.rstrip(osp.sep))
            # before_train appends the work dir's name to a configured out_dir
            roots += [out_dir] if out_dir.rstrip('/').endswith(base) else [out_dir, osp.join(out_dir, base)]
        return roots

    def _trusted(self, path, roots: List[str]) -> bool:
        if not isinstance(path, str) or not path:
            return False
        if '://' in path:  # a remote backend: the path must name our checkpoint directory
            return any('://' in r and path.startswith(r.rstrip('/') + '/') and '/../' not in path for r in roots)
        return any('://' not in r and _inside(path, r) for r in roots)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Drop ``runtime_info`` entries that would make this hook delete or write files
        outside the work dir."""
        info = (checkpoint.get('message_hub') or {}).get('runtime_info')
        if not isinstance(info, dict):
            return
        roots = self._allowed_roots(runner)
        for key in [k for k in info if isinstance(k, str) and _PATH_KEYS.match(k)]:
            if not self._trusted(info[key], roots):
                print_log(
                    f'AtomicCheckpointHook: the checkpoint names {key}={info[key]!r}, outside the work dir '
                    f'{roots[0]!r}; dropped (it would be deleted or written next to later)',
                    logger='current',
                    level=logging.WARNING)
                del info[key]
        ids = info.get('keep_ckpt_ids')
        if ids is not None and not (isinstance(ids, (list, tuple))
                                    and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids)):
            print_log(
                f'AtomicCheckpointHook: keep_ckpt_ids={ids!r} in the checkpoint are not checkpoint numbers; '
                'dropped',
                logger='current',
                level=logging.WARNING)
            del info['keep_ckpt_ids']

    def before_train(self, runner) -> None:
        if not self.by_epoch and not hasattr(runner.train_loop, 'dataloader_iterator'):
            raise ValueError('AtomicCheckpointHook: by_epoch=False with an epoch-based train loop would write '
                             'mid-epoch checkpoints, which mmengine cannot resume without replaying batches. Use '
                             'by_epoch=True (interval in epochs) or an IterBasedTrainLoop.')
        super().before_train(runner)
        self._is_local = isinstance(self.file_backend, LocalBackend)
        if self._local() and is_main_process() and osp.isdir(self.out_dir):
            for name in os.listdir(self.out_dir):
                if name.startswith('.') and name.endswith(PARTIAL_SUFFIX):
                    print_log(
                        f'AtomicCheckpointHook: removing {name}, a checkpoint whose save was interrupted',
                        logger='current',
                        level=logging.WARNING)
                    os.remove(osp.join(self.out_dir, name))

    def _publish_model(self, runner, ckpt_path: str) -> None:
        if self._local() and not any(_inside(ckpt_path, r) for r in self._allowed_roots(runner)):
            print_log(
                f'AtomicCheckpointHook: not publishing {ckpt_path!r}, outside the work dir',
                logger='current',
                level=logging.WARNING)
            return
        super()._publish_model(runner, ckpt_path)
