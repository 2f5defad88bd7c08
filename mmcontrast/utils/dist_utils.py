"""Distributed helpers: CPU (gloo) launch support for the mmengine Runner."""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare a CPU-only distributed run that mmengine 0.10.7 cannot start alone.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP wrapper
    passes ``device_ids=[LOCAL_RANK]``; both fail without CUDA. On a machine without
    CUDA this initialises the gloo process group from the torchrun environment and
    makes the DDP wrapper CPU-friendly (``device_ids=None``). With CUDA it does nothing.

    Args:
        cfg (Config): The training config, modified in place.
        launcher (str): The ``--launcher`` value.

    Returns:
        bool: True if a CPU process group was set up here.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(f'CPU-only distributed runs support --launcher pytorch (torchrun / '
                           f'tools/dist_train.sh), not {launcher!r}: it needs CUDA in mmengine.')
    if not torch_dist.is_initialized():
        missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
        if missing:
            raise RuntimeError(f'--launcher pytorch needs the torchrun environment; missing {missing}')
        torch_dist.init_process_group(backend='gloo')
    cfg.env_cfg = dict(cfg.get('env_cfg', {}))
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper['device_ids'] = None
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    return True
