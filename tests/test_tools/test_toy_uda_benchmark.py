"""The toy UDA benchmark driver: which runs, with which config edits, and how its tables and
property checks read the results (fabricated scalars; the benchmark itself is not run here)."""
import argparse
import os.path as osp
import sys

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
import toy_uda_benchmark as bench  # noqa: E402


def _args(**kw) -> argparse.Namespace:
    base = dict(groups=list(bench.GROUPS), seeds=[0, 1, 2], seg_iters=2000, det_source_iters=600, det_adapt_iters=200,
                pretrain_mocov2=False, jobs=2, work_dir='wd', dry_run=True)
    return argparse.Namespace(**dict(base, **kw))


def test_runs_are_unique_and_dependencies_come_first():
    runs = bench.build_runs(_args())
    names = [r.name for r in runs]
    assert len(names) == len(set(names))
    for i, run in enumerate(runs):
        if run.after:
            assert run.after in names[:i], run.name  # the pool starts it before its dependant
    assert {r.config for r in runs if r.kind == 'pretrain'} == {c for k, c in bench.SSL.items() if k != 'MoCo v2'}
    # 3 seeds x (5 seg + 4 det + 7 contrast + 1 demo) + 3 pretrainings, 3 chain runs and random -> DACS + PCL
    assert len(runs) == 3 * 17 + 3 + 3 + 1
    assert len(bench.build_runs(_args(groups=['seg'], seeds=[0]))) == 5
    # pretrained again, MoCo v2 gets its own chain run beside the shipped backbone's
    again = [r.name for r in bench.build_runs(_args(pretrain_mocov2=True))]
    assert len(again) == len(set(again)) == len(names) + 2
    assert {'pretrain/mocov2-again', 'seg/pcl/mocov2-again/s0', 'seg/pcl/mocov2/s0'} <= set(again)


def test_config_edits():
    cfg = Config.fromfile(osp.join(ROOT, bench.SEG['pcl']))
    shipped = cfg.model.segmentor.backbone.init_cfg.checkpoint
    assert osp.samefile(shipped, osp.join(ROOT, bench.SHIPPED_BACKBONE))  # found from the config file
    bench.random_init(cfg)
    assert cfg.model.segmentor.backbone.init_cfg is None
    assert cfg.optim_wrapper.optimizer.lr == 2e-3 and 'paramwise_cfg' not in cfg.optim_wrapper
    bench.weak_view_without_grad(cfg)
    assert cfg.model.contrast.views == dict(type='mmcontrast.EHTDIViews', threshold=0.95, weak_grad=False)
    bench.pcl_target_views(cfg)
    assert cfg.model.contrast.views == dict(type='mmcontrast.TargetViews')
    bench.schedule(1000, 250)(cfg)
    assert cfg.train_cfg.max_iters == 1000 and cfg.train_cfg.val_interval == 250
    assert [s['end'] for s in cfg.param_scheduler] == [100, 1000]
    det_pcl = Config.fromfile(osp.join(ROOT, bench.DET['pcl']))
    bench.weak_view_without_grad(det_pcl)
    assert det_pcl.model.contrast.views.weak_grad is False and det_pcl.model.contrast.views.num_proposals
    det = Config.fromfile(osp.join(ROOT, bench.DET['source']))
    bench.init_from('x.pth')(det)
    assert det.model.backbone.init_cfg == dict(type='mmcontrast.StrictPretrained', checkpoint='x.pth')


def _result(vals, key):
    scale = 1.0 if key.endswith('mIoU') else 0.01  # IoUMetric logs %, CocoMetric fractions
    return dict(vals=[{key: v * scale, 'step': i} for i, v in enumerate(vals)], step_times=[0.1, 0.2, 0.3],
                wall_s=10.0)


def test_tables_and_properties_from_results():
    args = _args(groups=['seg'], seeds=[0, 1])
    results = {}
    for s, off in ((0, 0.0), (1, 1.0)):
        results[f'seg/source/mocov2/s{s}'] = _result([30 + off, 29 + off], 'mIoU')  # 0.97 of best
        results[f'seg/source/random/s{s}'] = _result([25 + off, 20 + off], 'mIoU')
        results[f'seg/oracle/mocov2/s{s}'] = _result([60 + off], 'mIoU')
        results[f'seg/dacs/mocov2/s{s}'] = _result([40 + off, 43 + off], 'student/mIoU')
        results[f'seg/dacs/random/s{s}'] = _result([35 + off], 'student/mIoU')
    text = bench.report(args, results)
    # gap closed by DACS: (43.5 - 29.5) / (60.5 - 29.5) = 45%
    assert '| DACS | MoCo v2 (toy world) | 43.5 +/- 0.7 | 43.5 +/- 0.7 | 1.00 | 45% | - |' in text
    assert '| source-only | random | 20.5 +/- 0.7 | 25.5 +/- 0.7 | 0.80 | - | - |' in text
    props = bench.properties(args, results)
    assert 'final / best validation >= 0.95: min 0.97 -> PASS' in props
    assert 'DACS closes >= 40% of the gap: 45%, mean +/- std apart: True -> PASS' in props
    assert 'pretrained init beats random init (dacs): 43.5 vs 35.5 -> PASS' in props
    results['seg/source/mocov2/s1'] = _result([40, 30], 'mIoU')  # decays: 0.75 of its best
    assert 'min 0.75 -> FAIL' in bench.properties(args, results)
    det = {f'det/{n}/mocov2/s0': _result([v], k) for n, v, k in (
        ('source', 20, 'coco/bbox_mAP_50'), ('oracle', 60, 'coco/bbox_mAP_50'), ('mt', 30, 'teacher/coco/bbox_mAP_50'))}
    det_args = _args(groups=['det'], seeds=[0])
    assert 'mean teacher closes >= 30% of the AP50 gap: 25% -> FAIL' in bench.properties(det_args, det)
    assert '| mean teacher | MoCo v2 (toy world) | 30.0 +/- 0.0 |' in bench.report(det_args, det)
    chain = {'seg/pcl/ascl/s0': _result([41.7], 'student/mIoU'), 'pretrain/ascl': dict(wall_s=1008.3),
             'seg/pcl/mocov2/s0': _result([43.5], 'student/mIoU')}
    text = bench.report(_args(groups=['chain'], seeds=[0]), chain)
    assert '| ASCL | 41.7 | 1008 |' in text and '| MoCo v2 (shipped) | 43.5 | - |' in text


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='no final checkpoint in'):
        bench.final_checkpoint(str(tmp_path))
    (tmp_path / 'iter_50.pth').write_bytes(b'')
    (tmp_path / 'iter_200.pth').write_bytes(b'')
    assert bench.final_checkpoint(str(tmp_path)).endswith('iter_200.pth')
