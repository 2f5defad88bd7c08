# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Evaluate a checkpoint, optionally dumping predictions and drawing them."""
import argparse
import copy
import logging
import os

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log

from mmcontrast.utils.launch import build_runner, close_distributed, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model with mmcontrast')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='where to dump predictions: a .pkl file for detection (and other tasks), '
        'a directory of label PNGs for segmentation')
    parser.add_argument('--show', action='store_true', help='show prediction results in a window')
    parser.add_argument('--show-dir', help='directory where painted images are saved')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation: the config's tta_model around its model, fed by its tta_pipeline "
        '(a horizontal-flip TTA of the test pipeline when the config has none)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs like test_dataloader.batch_size=2')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _is_detection(cfg: Config) -> bool:
    return cfg.get('default_scope', None) == 'mmdet'


def enable_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Switch the config's visualization hook on for --show / --show-dir."""
    hooks = cfg.get('default_hooks', ConfigDict())
    if 'visualization' not in hooks:
        raise RuntimeError('--show/--show-dir need a "visualization" entry in default_hooks '
                           '(DetVisualizationHook or SegVisualizationHook)')
    hook = hooks['visualization']
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        if _is_detection(cfg):
            hook['test_out_dir'] = args.show_dir
        else:
            # mmseg's hook writes through the visualizer's backend, under its save_dir.
            cfg.visualizer['save_dir'] = args.show_dir
            hook['interval'] = 1


def add_prediction_dump(cfg: Config, out: str) -> None:
    """Dump predictions to ``out`` next to the configured metrics."""
    if _is_detection(cfg) or out.endswith(('.pkl', '.pickle')):
        assert out.endswith(('.pkl', '.pickle')), f'--out for detection must be a .pkl file, got {out}'
        dump = dict(type='DumpDetResults' if _is_detection(cfg) else 'DumpResults', out_file_path=out)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = [*evaluator, dump] if isinstance(evaluator, list) else [evaluator, dump]
    else:
        # mmseg's IoUMetric writes label PNGs itself when given an output_dir.
        evaluator = cfg.test_evaluator
        metrics = evaluator if isinstance(evaluator, list) else [evaluator]
        for metric in metrics:
            metric['output_dir'] = out
            metric['keep_results'] = True


_FLIP_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction')


def flip_tta_pipeline(test_pipeline: list, detection: bool) -> list:
    """A horizontal-flip TTA of ``test_pipeline`` (what mmdet's tools/test.py builds without a tta_pipeline).

    Args:
        test_pipeline (list): ``[load image, <transforms>, (LoadAnnotations), Pack...]``.
        detection (bool): Pack with the flip meta keys mmdet's ``DetTTAModel`` reads; for
            segmentation, labels are loaded after the flip (``SegTTAModel`` un-flips the
            predictions, not the labels).

    Returns:
        list: The TTA pipeline.
    """
    pipeline = [dict(t) for t in copy.deepcopy(list(test_pipeline))]
    pack = pipeline.pop()
    flips = [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')]
    if detection:
        pack['meta_keys'] = tuple(dict.fromkeys((*pack.get('meta_keys', ()), *_FLIP_META_KEYS)))
        return [*pipeline, dict(type='TestTimeAug', transforms=[flips, [pack]])]
    annotations = [t for t in pipeline if 'LoadAnnotations' in str(t.get('type'))]
    rest = [t for t in pipeline if t not in annotations]
    return [*rest, dict(type='TestTimeAug', transforms=[flips, *([annotations] if annotations else []), [pack]])]


def enable_tta(cfg: Config) -> None:
    """--tta as mmdet's and mmseg's tools: ``tta_model(module=model)`` on ``tta_pipeline``."""
    detection = _is_detection(cfg)
    if 'tta_model' not in cfg:
        # mmdet's and mmseg's tools/test.py defaults
        det_tta = dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
        cfg.tta_model = det_tta if detection else dict(type='SegTTAModel')
        print_log(f'--tta: the config has no tta_model; using {cfg.tta_model}', logger='current',
                  level=logging.WARNING)
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset.dataset
    if 'tta_pipeline' not in cfg:
        cfg.tta_pipeline = flip_tta_pipeline(dataset.pipeline, detection)
        print_log('--tta: the config has no tta_pipeline; testing its test pipeline and its horizontal flip',
                  logger='current', level=logging.WARNING)
    dataset.pipeline = cfg.tta_pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.launcher, args.work_dir, args.cfg_options)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.out is not None:
        add_prediction_dump(cfg, args.out)
    if args.tta:
        enable_tta(cfg)
    build_runner(cfg).test()
    close_distributed()


if __name__ == '__main__':
    main()
