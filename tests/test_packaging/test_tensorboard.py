"""The documented TensorBoard snippet (docs/tensorboard.md) and its tag grouping."""
import glob
import os.path as osp
import re
import sys

import pytest

from mmcontrast.visualization.tensorboard import group_scalar_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('name,tag', [
    ('loss', 'loss/loss'),
    ('src.decode.loss_ce', 'loss/src.decode.loss_ce'),
    ('tgt.loss_pixel_pcl', 'loss/tgt.loss_pixel_pcl'),
    ('loss_supcon', 'loss/loss_supcon'),
    ('unsup_loss_cls', 'loss/unsup_loss_cls'),
    ('lr', 'train/lr'),
    ('data_time', 'train/data_time'),
    ('mIoU', 'metrics/mIoU'),
    ('decode.acc_seg', 'metrics/decode.acc_seg'),
    ('coco/bbox_mAP_50', 'coco/bbox_mAP_50'),
    ('student/mIoU', 'student/mIoU'),
])
def test_group_scalar_name(name, tag):
    assert group_scalar_name(name) == tag


def test_ungrouped_default():
    assert group_scalar_name('mIoU', default_group=None) == 'mIoU'
    assert group_scalar_name('loss', default_group=None) == 'loss/loss'


def _snippet():
    text = open(osp.join(ROOT, 'docs', 'tensorboard.md')).read()
    blocks = re.findall(r'```python\n(.*?)```', text, re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_documented_snippet_trains_and_groups_tags(require, run, tmp_path):
    require('tensorboard', 'tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mmcontrast.datasets.toy_uda import generate_toy_uda

    snippet = _snippet()
    base = osp.join(ROOT, 'configs', 'toy_uda', 'deeplabv3_r18-narrow_2k_toy-source.py')
    assert "_base_ = './deeplabv3_r18-narrow_2k_toy-source.py'" in snippet
    config = tmp_path / 'toy_tb.py'
    config.write_text(snippet.replace('./deeplabv3_r18-narrow_2k_toy-source.py', base))
    data_root = str(tmp_path / 'toy_uda')
    generate_toy_uda(data_root, num_train=4, num_val=2)
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    options = ([f'{d}.dataset.data_root={data_root}' for d in loaders] + [f'{d}.num_workers=0' for d in loaders] +
               [f'{d}.persistent_workers=False' for d in loaders] + [
                   'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2', 'train_cfg.max_iters=2',
                   'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1'
               ])
    work_dir = tmp_path / 'work'
    run([sys.executable, 'tools/train.py', str(config), '--work-dir', str(work_dir), '--cfg-options'] + options)
    events = glob.glob(str(work_dir / '*' / 'vis_data' / 'events.out.tfevents.*'))
    assert len(events) == 1, events
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = set(acc.Tags()['scalars'])
    assert {'loss/loss', 'loss/decode.loss_ce', 'train/lr', 'metrics/mIoU'} <= tags, sorted(tags)
    assert all('/' in t for t in tags), sorted(tags)
    print(f'\nTensorBoard tags: {sorted(tags)}')
