"""Save the random generator states in checkpoints and restore them on resume."""
import functools
import logging
from typing import Any, Dict, List, Optional, Tuple

from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log

from mmcontrast.registry import HOOKS
from mmcontrast.utils.rng import get_rng_state, set_rng_state

#: Fields of the data pipeline's state that decide which batches and which augmentations
#: a run draws; a resumed run that differs in one of them does not replay the same stream.
_DATA_FIELDS = ('sampler', 'shuffle', 'batch_size', 'num_workers', 'persistent_workers', 'world_size')


class _RestoreAfterSkip:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator`` during the resume skip.

    mmengine's iteration-based loop fast-forwards a resumed run by fetching (and
    discarding) ``runner.iter`` batches. With ``num_workers=0`` those fetches run the
    augmentation pipeline in the main process and so consume the very generators that
    were just restored. This proxy lets them pass, then restores the saved states right
    before the first batch that is trained on, and puts the real iterator back.
    """

    def __init__(self, loop, skip: int, restore) -> None:
        self._loop = loop
        self._inner = loop.dataloader_iterator
        self._skip = skip
        self._restore = restore

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip > 0:
            self._skip -= 1
            return next(self._inner)
        self._restore()
        self._loop.dataloader_iterator = self._inner
        return next(self._inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Carry every random generator state through checkpoints, for bit-exact resume.

    Saving (``before_save_checkpoint``) adds ``checkpoint['rng_state']``: the python,
    numpy, torch CPU and CUDA generator states of every rank at the moment of the save,
    and the train data pipeline's sampler and worker seeding. In a distributed run the
    ranks' states are gathered just before a checkpoint is due (``after_train_iter`` /
    ``after_train_epoch``, ahead of the checkpoint hook), so non-main ranks are captured
    too; rank 0's own state is taken at the save itself.

    Resuming (``after_load_checkpoint`` when the run continues from the loaded
    iteration) restores them where the uninterrupted run would be:

    - iteration-based loops: after mmengine's fast-forward over the already trained
      batches, right before the first new batch is fetched (the fast-forward runs the
      augmentation pipeline, which draws from the same generators with
      ``num_workers=0``; with workers, it replays the workers' draws from their
      deterministic seeds);
    - epoch-based loops: at the start of the resumed epoch, before the other hooks'
      ``before_train_epoch``. A checkpoint written in the middle of an epoch cannot be
      resumed exactly (mmengine restarts the epoch and replays its batches) and is
      refused; :class:`AtomicCheckpointHook` does not write such checkpoints.

    The sampler seed and the workers' seed are set back to the saved ones if the
    resumed run drew different ones (``randomness.seed=None``).

    Validation must not shift the training stream (otherwise a checkpoint saved before
    a validation would resume from a different state): the generators are saved in
    ``before_val`` and restored in ``after_val``.

    Args:
        restore (bool): Restore the states on resume. Defaults to True.
        isolate_val (bool): Save/restore the generators around validation. Defaults
            to True.
        strict (bool): Raise instead of warning when a resumed run cannot be exact
            (no saved state, another world size, a different data pipeline, a
            mid-epoch checkpoint of an epoch-based loop). Defaults to False, except
            that mid-epoch checkpoints always raise.
    """

    # Before the other hooks: the restore at the start of a resumed epoch must precede
    # their draws, and the distributed gather must precede the checkpoint hook.
    priority = 'VERY_HIGH'

    def __init__(self, restore: bool = True, isolate_val: bool = True, strict: bool = False) -> None:
        self.restore = restore
        self.isolate_val = isolate_val
        self.strict = strict
        self._gathered: Optional[Tuple[int, List[Dict[str, Any]]]] = None
        self._pending: Optional[Dict[str, Any]] = None
        self._pending_iter: Optional[int] = None
        self._val_state: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------------ saving
    @staticmethod
    def _checkpoint_hooks(runner) -> List[CheckpointHook]:
        return [h for h in runner.hooks if isinstance(h, CheckpointHook)]

    def _gather_if_due(self, runner, by_epoch: bool) -> None:
        """All ranks: gather the generator states if a checkpoint hook saves at this step."""
        _, world_size = get_dist_info()
        if world_size == 1:
            return
        due = False
        for hook in self._checkpoint_hooks(runner):
            if hook.by_epoch != by_epoch:
                continue
            if by_epoch:
                due |= hook.every_n_epochs(runner, hook.interval,
                                           hook.save_begin) or (hook.save_last and hook.is_last_train_epoch(runner))
            else:
                due |= hook.every_n_train_iters(runner, hook.interval,
                                                hook.save_begin) or (hook.save_last and hook.is_last_train_iter(runner))
        if due:
            # the checkpoint's meta['iter'] of the save that follows
            step = runner.iter if by_epoch else runner.iter + 1
            self._gathered = (step, all_gather_object(get_rng_state()))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._gather_if_due(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        self._gather_if_due(runner, by_epoch=True)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add ``checkpoint['rng_state']`` (runs on the main process only)."""
        _, world_size = get_dist_info()
        ranks: List[Optional[Dict[str, Any]]] = [None] * world_size
        step = checkpoint.get('meta', {}).get('iter')
        if world_size > 1 and self._gathered is not None and self._gathered[0] == step:
            ranks = list(self._gathered[1])
        # exactly the state at the save; during a validation (a best checkpoint) the training
        # stream's state, which after_val puts back
        ranks[0] = self._val_state if self._val_state is not None else get_rng_state()
        checkpoint['rng_state'] = dict(world_size=world_size, ranks=ranks, data=self._data_state(runner))

    @staticmethod
    def _train_loader(runner):
        loader = getattr(runner.train_loop, 'dataloader', None)
        return loader if loader is not None and hasattr(loader, 'sampler') else None

    def _data_state(self, runner) -> Dict[str, Any]:
        loader = self._train_loader(runner)
        _, world_size = get_dist_info()
        if loader is None:
            return dict(world_size=world_size)
        sampler = loader.sampler
        init_fn = loader.worker_init_fn
        worker_seed = init_fn.keywords.get('seed') if isinstance(init_fn, functools.partial) else None
        return dict(
            sampler=type(sampler).__name__,
            seed=getattr(sampler, 'seed', None),
            shuffle=getattr(sampler, 'shuffle', None),
            epoch=getattr(sampler, 'epoch', None),
            batch_size=loader.batch_size,
            num_workers=loader.num_workers,
            persistent_workers=loader.persistent_workers,
            worker_seed=worker_seed,
            world_size=world_size)

    # --------------------------------------------------------------- restoring
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the saved states; they are applied once the run continues from them."""
        self._pending = checkpoint.get('rng_state')
        self._pending_iter = checkpoint.get('meta', {}).get('iter')

    def _problem(self, runner, message: str) -> None:
        if self.strict:
            raise RuntimeError(f'RNGStateHook: {message}')
        print_log(
            f'RNGStateHook: {message}; the resumed run will not repeat the interrupted one exactly',
            logger='current',
            level=logging.WARNING)

    def _resuming(self, runner) -> bool:
        # load_from (fine-tuning) also calls after_load_checkpoint but starts at iteration 0
        return self.restore and self._pending_iter is not None and runner.iter > 0 and (runner.iter
                                                                                        == self._pending_iter)

    def before_train(self, runner) -> None:
        if not self._resuming(runner):
            self._pending = None
            return
        loop = runner.train_loop
        if not hasattr(loop, 'dataloader_iterator'):
            # epoch-based: mmengine restarts the resumed epoch from its first batch
            per_epoch = len(loop.dataloader)
            if runner.iter != runner.epoch * per_epoch:
                raise RuntimeError(
                    f"RNGStateHook: the checkpoint's iteration {runner.iter} is not the end of epoch "
                    f'{runner.epoch} of this run ({per_epoch} iterations per epoch): it was written in the '
                    'middle of an epoch, or the batches per epoch changed. An epoch-based loop resumed from it '
                    'would replay batches. Resume from an end-of-epoch checkpoint (CheckpointHook '
                    'by_epoch=True, the default of epoch-based configs) with the same data settings.')
        if self._pending is None:
            self._problem(runner, 'the checkpoint holds no generator states (written without RNGStateHook)')
            return
        self._restore_data_state(runner)

    def _restore_data_state(self, runner) -> None:
        saved = self._pending.get('data') or {}
        current = self._data_state(runner)
        changed = [
            f'{k}: {saved[k]!r} -> {current.get(k)!r}' for k in _DATA_FIELDS
            if k in saved and saved[k] != current.get(k)
        ]
        if changed:
            self._problem(runner, f'the train data pipeline differs from the checkpoint ({", ".join(changed)})')
        loop = runner.train_loop
        loader = self._train_loader(runner)
        if loader is None:
            return
        if (current.get('persistent_workers') and current.get('num_workers')
                and not hasattr(loop, 'dataloader_iterator') and runner.epoch > 0):
            self._problem(runner, 'persistent dataloader workers of an epoch-based loop restart from their seeds')
        reseeded = False
        if saved.get('seed') is not None and saved['seed'] != current.get('seed'):
            loader.sampler.seed = saved['seed']
            if hasattr(loader.sampler, '_indices_of_rank'):  # InfiniteSampler built its index stream already
                loader.sampler.indices = loader.sampler._indices_of_rank()
            reseeded = True
        init_fn = loader.worker_init_fn
        if (saved.get('worker_seed') is not None and isinstance(init_fn, functools.partial)
                and init_fn.keywords.get('seed') != saved['worker_seed']):
            loader.worker_init_fn = functools.partial(init_fn.func, *init_fn.args,
                                                      **dict(init_fn.keywords, seed=saved['worker_seed']))
            reseeded = True
        if reseeded:
            print_log(
                f"RNGStateHook: data sampler/worker seed set back to the checkpoint's "
                f'({saved.get("seed")}, {saved.get("worker_seed")})',
                logger='current')
            if hasattr(loop, 'dataloader_iterator'):
                # the iteration-based loop created its iterator (and prefetched) with the old seeds
                old = loop.dataloader_iterator
                shutdown = getattr(getattr(old, '_iterator', None), '_shutdown_workers', None)
                if shutdown is not None:
                    shutdown()
                loop.dataloader_iterator = type(old)(loader)

    def _apply(self, runner) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        rank, world_size = get_dist_info()
        ranks = pending.get('ranks') or []
        if pending.get('world_size') != world_size:
            self._problem(
                runner, f'the checkpoint holds generator states of {pending.get("world_size")} '
                f'rank(s), this run has {world_size}: not restored')
            return
        if rank >= len(ranks) or ranks[rank] is None:
            self._problem(runner, f'the checkpoint holds no generator state of rank {rank}')
            return
        note = set_rng_state(ranks[rank])
        if note is not None:
            self._problem(runner, note)
        print_log(f'RNGStateHook: restored the generator states of iteration {runner.iter}', logger='current')

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):
            loop.dataloader_iterator = _RestoreAfterSkip(loop, runner.iter, functools.partial(self._apply, runner))
        else:
            self._apply(runner)

    # -------------------------------------------------------------- validation
    def before_val(self, runner) -> None:
        if self.isolate_val:
            self._val_state = get_rng_state()

    def after_val(self, runner) -> None:
        if self._val_state is not None:
            set_rng_state(self._val_state)
            self._val_state = None
