"""Report the software stack and whether mmcv's compiled ops are usable."""
from typing import Dict

import torch
from mmengine.utils.dl_utils import collect_env as collect_base_env


def check_mmcv_ops() -> Dict[str, str]:
    """Run one compiled op on the CPU (and on CUDA when there is a GPU).

    Returns:
        dict: ``'mmcv ops (CPU)'`` and ``'mmcv ops (CUDA)'`` mapped to ``'ok'``,
        ``'not compiled'``, ``'no GPU'`` or the error message.
    """
    result = {}
    try:
        from mmcv.ops import get_compiling_cuda_version, nms
    except ImportError as e:  # mmcv without _ext (mmcv-lite or a failed build)
        return {'mmcv ops (CPU)': f'missing: {e}', 'mmcv ops (CUDA)': 'missing'}
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    devices = [('CPU', 'cpu')] + ([('CUDA', 'cuda')] if torch.cuda.is_available() else [])
    for name, device in devices:
        try:
            _, keep = nms(boxes.to(device), scores.to(device), iou_threshold=0.5)
            result[f'mmcv ops ({name})'] = 'ok' if keep.tolist() == [0, 2] else f'wrong result {keep}'
        except Exception as e:  # noqa: BLE001 - report any failure of the op
            result[f'mmcv ops ({name})'] = f'failed: {e}'
    if not torch.cuda.is_available():
        compiled = get_compiling_cuda_version()
        result['mmcv ops (CUDA)'] = 'not compiled' if compiled == 'not available' else f'compiled ({compiled}), no GPU'
    return result


def collect_env() -> Dict[str, str]:
    """The mmengine environment report plus mmcv/mmdet/mmseg/mmcontrast versions and op checks."""
    import mmcv
    import mmdet
    import mmseg

    import mmcontrast
    env = dict(collect_base_env())
    env.update({
        'MMCV': mmcv.__version__,
        'MMDetection': mmdet.__version__,
        'MMSegmentation': mmseg.__version__,
        'mmcontrast': mmcontrast.__version__,
    })
    env.update(check_mmcv_ops())
    return env
