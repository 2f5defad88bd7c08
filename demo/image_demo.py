# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Run a UDA (or stock) checkpoint on one image and write the prediction as an overlay.

    python demo/image_demo.py IMAGE CONFIG CHECKPOINT [--out-file overlay.png] [--model teacher|student]

``CONFIG`` may be a UDA config (``mmcontrast.DACSSegmentor``, ``mmcontrast.DomainAdaptiveTeacher``,
``mmcontrast.ContrastiveInjector``) with its training checkpoint: the chosen network is exported
to a stock model on the fly (as ``tools/model_converters/export_uda_model.py`` does) and run with
``mmseg.apis.inference_model`` / ``mmdet.apis.inference_detector``. A stock mmseg/mmdet config
(e.g. an exported ``model.py``) runs directly. The overlay is drawn by mmseg's
``SegLocalVisualizer`` or mmdet's ``DetLocalVisualizer``.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
from typing import Optional

import mmcv
from mmengine.config import Config

from mmcontrast.apis import export_uda_model, is_wrapper_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Segment or detect one image with a UDA checkpoint')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='UDA config (or a stock mmseg/mmdet config)')
    parser.add_argument('checkpoint', help='checkpoint file (path or URL)')
    parser.add_argument('--out-file', default='demo_overlay.png', help='where the overlay is written')
    parser.add_argument('--model', choices=['teacher', 'student'], default=None,
                        help='network of a UDA checkpoint (default: the one the config predicts with)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0')
    parser.add_argument('--opacity', type=float, default=0.5, help='segmentation overlay opacity in (0, 1]')
    parser.add_argument('--score-thr', type=float, default=0.3, help='detection score threshold')
    return parser.parse_args(argv)


def _task(cfg: Config) -> str:
    scope = cfg.get('default_scope')
    if scope not in ('mmseg', 'mmdet'):
        raise ValueError(f'default_scope={scope!r}: cannot tell an mmseg from an mmdet config')
    return 'seg' if scope == 'mmseg' else 'det'


def run(img: str, config: str, checkpoint: str, out_file: str, model: Optional[str] = None,
        device: str = 'cpu', opacity: float = 0.5, score_thr: float = 0.3):
    """Predict ``img`` and write the overlay to ``out_file``.

    Args:
        img (str): Image file.
        config (str): UDA or stock config.
        checkpoint (str): Checkpoint of that config.
        out_file (str): Output image.
        model (str, optional): ``'student'`` / ``'teacher'`` of a UDA checkpoint.
            Defaults to None (the config's ``predict_on``).
        device (str): Device. Defaults to 'cpu'.
        opacity (float): Segmentation overlay opacity. Defaults to 0.5.
        score_thr (float): Detection score threshold. Defaults to 0.3.

    Returns:
        SegDataSample | DetDataSample: The prediction.
    """
    cfg = Config.fromfile(config)
    image = mmcv.imread(img, channel_order='rgb')
    with tempfile.TemporaryDirectory() as tmp:
        if is_wrapper_config(cfg):
            exported = export_uda_model(cfg, checkpoint, tmp, model, check=False)
            config, checkpoint, task = exported.config, exported.checkpoint, exported.task
        else:
            task = _task(cfg)
        if task == 'seg':
            from mmseg.apis import inference_model, init_model
            from mmseg.visualization import SegLocalVisualizer
            net = init_model(config, checkpoint, device=device)
            result = inference_model(net, img)
            visualizer = SegLocalVisualizer(name=f'image_demo_{os.getpid()}', alpha=opacity)
            visualizer.dataset_meta = dict(net.dataset_meta)
            visualizer.add_datasample(osp.basename(img), image, result, draw_gt=False, out_file=out_file)
        else:
            from mmdet.apis import inference_detector, init_detector
            from mmdet.visualization import DetLocalVisualizer
            net = init_detector(config, checkpoint, device=device)
            result = inference_detector(net, img)
            visualizer = DetLocalVisualizer(name=f'image_demo_{os.getpid()}')
            visualizer.dataset_meta = dict(net.dataset_meta)
            visualizer.add_datasample(osp.basename(img), image, result, draw_gt=False, out_file=out_file,
                                      pred_score_thr=score_thr)
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    run(args.img, args.config, args.checkpoint, args.out_file, args.model, args.device, args.opacity, args.score_thr)
    print(f'wrote {args.out_file}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
