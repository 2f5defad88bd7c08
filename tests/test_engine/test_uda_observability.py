"""What a UDA run shows: pseudo-label panel titles and colour bars, small losses, frozen parameters."""
import logging

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import DefaultScope

import mmcontrast.models  # noqa: F401
from mmcontrast.engine.hooks.pseudo_label_vis_hook import COLUMNS, PseudoLabelVisualizationHook
from mmcontrast.engine.runner import ReadableLogProcessor
from mmcontrast.registry import MODELS


def _visuals(b=2, h=64, w=128):
    gen = torch.Generator().manual_seed(0)
    return dict(
        target_img=torch.randint(0, 255, (b, 3, h, w), generator=gen, dtype=torch.uint8),
        pseudo_label=torch.randint(0, 4, (b, h, w), generator=gen), confidence=torch.rand(b, h, w, generator=gen),
        pseudo_weight=torch.rand(b, h, w, generator=gen),
        mixed_img=torch.randint(0, 255, (b, 3, h, w), generator=gen, dtype=torch.uint8),
        mixed_label=torch.randint(0, 4, (b, h, w), generator=gen))


def test_panel_has_column_titles_and_colour_bars():
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]], np.uint8)
    panel = PseudoLabelVisualizationHook.make_panel(_visuals(), palette, max_images=2)
    w, strip = 128, 14
    assert len(COLUMNS) == 6 and panel.shape == (strip + 2 * 64 + strip, 6 * w, 3)
    titles, legend = panel[:strip], panel[-strip:]
    for c in range(6):  # every column has a title: dark text on white
        tile = titles[:, c * w:(c + 1) * w]
        assert (tile < 128).any() and (tile == 255).mean() > 0.5, COLUMNS[c]
    conf_bar, weight_bar = legend[:, 2 * w:3 * w], legend[:, 3 * w:4 * w]
    # JET: blue at 0, red at 1 (middle row, away from the '0'/'1' labels); grey ramp for the weight
    mid = strip // 2
    assert conf_bar[mid, w // 4, 2] > conf_bar[mid, w // 4, 0] and conf_bar[mid, 3 * w // 4, 0] > 128
    assert weight_bar[mid, w // 4, 0] < weight_bar[mid, 3 * w // 4, 0]
    assert (legend[:, :w] == 255).all()  # no scale under the image columns


def test_small_losses_are_logged_in_scientific_notation():
    processor = ReadableLogProcessor(window_size=1, by_epoch=False)
    log = ('Iter(train) [10/100]  lr: 1.0000e-03  loss: 0.5012  tgt.loss_class_pcl: 0.0000  '
           'mix.loss_ce: 0.0003  tgt.loss_class_pcl_w: 0.0000')
    tag = {'loss': 0.5012, 'tgt.loss_class_pcl': 1.234e-05, 'mix.loss_ce': 3.2e-4, 'tgt.loss_class_pcl_w': 0.0}
    out = processor._readable(log, tag, 'train')
    assert 'tgt.loss_class_pcl: 1.234e-05' in out and 'mix.loss_ce: 3.200e-04' in out
    assert 'loss: 0.5012' in out and 'tgt.loss_class_pcl_w: 0.0000' in out  # exact zero stays as it is
    cfg = Config.fromfile('configs/uda_seg/dacs-pcl_deeplabv3-r18-narrow_2k_toy-src2tgt.py')
    assert cfg.log_processor.type == 'mmcontrast.ReadableLogProcessor' and cfg.log_processor.window_size == 20


class _Capture(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_wrapping_a_stock_segformer_prints_one_line_for_the_frozen_teacher():
    stock = get_config('mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py')
    segmentor = stock.model.to_dict()
    segmentor['backbone']['init_cfg'] = None
    logger = MMLogger.get_instance('uda_observability_test', log_level='INFO')
    capture = _Capture()
    logger.addHandler(capture)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(dict(type='mmcontrast.DACSSegmentor', segmentor=segmentor))
    optim_wrapper = stock.optim_wrapper.to_dict()
    constructor = DefaultOptimWrapperConstructor(optim_wrapper, optim_wrapper.pop('paramwise_cfg'))
    constructor(model)  # the stock paramwise_cfg: mmengine logs every skipped parameter
    skipped = [m for m in capture.messages if 'requires_grad=False' in m]
    summary = [m for m in capture.messages if m.startswith('DACSSegmentor: frozen, not optimised: the EMA teacher')]
    frozen = sum(1 for p in model.parameters() if not p.requires_grad)
    assert frozen > 150 and not skipped, skipped[:3]
    assert len(summary) == 1 and f'({frozen} tensors, teacher.*)' in summary[0]
    logger.removeHandler(capture)
