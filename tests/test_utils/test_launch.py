"""mmcontrast.utils.launch.close_distributed: the process group is destroyed when the run is over."""
import socket

import torch.distributed as dist

from mmcontrast.utils.launch import close_distributed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_close_distributed_destroys_the_default_group_and_is_a_no_op_without_one():
    close_distributed()  # none yet: nothing to do, no error
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{_free_port()}', rank=0, world_size=1)
    try:
        assert dist.is_initialized()
        close_distributed()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    close_distributed()
