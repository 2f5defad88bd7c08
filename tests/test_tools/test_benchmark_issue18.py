"""The benchmarks of issue 18 on tiny sizes: UDA step variants alternating in one process
(segmentation and detection, contrastive presets), the loss suites and the peer comparison."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools', 'analysis_tools')
TOY_SEG = osp.join(ROOT, 'configs', 'uda_seg', 'dacs_deeplabv3-r18-narrow_2k_toy-src2tgt.py')
TOY_DET = osp.join(ROOT, 'configs', 'uda_det', 'mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py')
REAL_DET = osp.join(ROOT, 'configs', 'uda_det', 'mean-teacher_faster-rcnn_r50_fpn_24k_city2foggy.py')


def _import(name):
    sys.path.insert(0, TOOLS)
    try:
        return __import__(name)
    finally:
        sys.path.remove(TOOLS)


def _run(script, args, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, osp.join(TOOLS, script)] + args, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _rows(stdout, prefix):
    return [[cell.strip() for cell in line.split('|')[1:-1]] for line in stdout.splitlines() if line.startswith(prefix)]


def test_uda_step_contrast_presets_alternate_in_one_process(tmp_path):
    out = tmp_path / 'seg.json'
    proc = _run('benchmark_uda_step.py', [TOY_SEG, '--crop', '64', '--steps', '2', '--warmup', '0', '--alternate',
                                          '--variants', 'base', 'pcl', 'fcl', '--out-json', str(out)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert 'Measured (CPU, alternating)' in proc.stdout and 'paired time / base (wall / CPU)' in proc.stdout
    rows = _rows(proc.stdout, '| dacs_deeplabv3')
    assert [r[2] for r in rows] == ['base', 'pcl', 'fcl']
    report = json.loads(out.read_text())
    results = {r['variant']: r for r in report['results']}
    assert all(r['alternated'] and len(r['step_wall_s']) == 2 for r in results.values())
    assert results['base']['paired_ratio'] == 1.0 and results['base']['paired_cpu_ratio'] == 1.0
    for r in results.values():
        assert math.isfinite(r['median_step_s']) and r['median_step_s'] > 0 and r['peak_step_mib'] >= 0
        assert all(math.isfinite(x) for x in r['losses'])
    # the PCL step optimises more terms: its total loss differs from the base's on the same batch
    assert results['pcl']['losses'][0] != results['base']['losses'][0]


def test_uda_step_without_memory_reset_times_but_does_not_measure_memory(tmp_path):
    bench = _import('benchmark_uda_step')
    with pytest.raises(SystemExit):  # only meaningful for --alternate on CPU
        bench.parse_args([TOY_SEG, '--no-memory-reset'])
    out = tmp_path / 'seg.json'
    proc = _run('benchmark_uda_step.py', [TOY_SEG, '--crop', '64', '--steps', '1', '--warmup', '0', '--alternate',
                                          '--no-memory-reset', '--variants', 'base', 'pcl-weak-nograd',
                                          '--out-json', str(out)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert 'No memory reset between the steps' in proc.stdout
    results = json.loads(out.read_text())['results']
    assert [r['variant'] for r in results] == ['base', 'pcl-weak-nograd']
    assert all(r['peak_step_mib'] is None and r['median_cpu_s'] > 0 for r in results)
    assert [r[-2:] for r in _rows(proc.stdout, '| dacs_deeplabv3')] == [['n/a', 'n/a']] * 2


def test_uda_step_presets_resolve_per_family():
    bench = _import('benchmark_uda_step')
    cfg = bench.load_config(TOY_SEG, 64, False, bench.CONTRAST_VARIANTS['pcl'])
    contrast = cfg.model.contrast
    assert contrast.views.type == 'mmcontrast.EHTDIViews' and set(contrast.losses) == {'class_pcl', 'pixel_pcl'}
    assert contrast.losses.pixel_pcl.max_pixels is None  # the reproduction mode: every decoder pixel
    assert bench.load_config(TOY_SEG, 64, False, bench.CONTRAST_VARIANTS['base']).model.contrast is None
    cfg = bench.load_config(TOY_SEG, 64, False, bench.CONTRAST_VARIANTS['pcl-mixed'])
    assert cfg.model.contrast.views == dict(type='mmcontrast.MixedViews')  # replaced whole, not merged
    nograd = bench.load_config(TOY_SEG, 64, False, bench.CONTRAST_VARIANTS['pcl-weak-nograd']).model.contrast
    assert nograd.views.weak_grad is False and nograd.losses == contrast.losses  # only the option differs
    det_nograd = bench.load_config(REAL_DET, 600, False, bench.CONTRAST_VARIANTS['pcl-weak-nograd'], 1200)
    assert det_nograd.model.contrast.views.weak_grad is False
    det = bench.load_config(REAL_DET, 600, False, bench.CONTRAST_VARIANTS['fcl'], 1200)
    assert det.model.contrast.views.target == 'roi_feat'
    assert det.model.contrast.losses.fcl.type == 'mmcontrast.InfoNCELoss'
    assert det.model.semi_train_cfg.burn_in_iters == 0 and det.model.detector.backbone.init_cfg is None
    with pytest.raises(ValueError, match='no det form'):
        bench.load_config(REAL_DET, 600, False, bench.CONTRAST_VARIANTS['pcl-target'])
    batch = bench.fake_batch(2, 48, 3, 0, 'det', 80)
    assert set(batch['inputs']) == {'sup', 'unsup_teacher', 'unsup_student'}
    assert batch['inputs']['sup'][0].shape == (3, 48, 80) and len(batch['data_samples']['sup'][1].gt_instances) == 3


def test_uda_step_detection_alternating(tmp_path):
    out = tmp_path / 'det.json'
    proc = _run('benchmark_uda_step.py', [TOY_DET, '--crop', '64', '--width', '128', '--steps', '1', '--warmup', '0',
                                          '--alternate', '--variants', 'base', 'pcl', '--out-json', str(out)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert 'MeanTeacherHook' in proc.stdout  # the EMA hook is named as not timed
    results = {r['variant']: r for r in json.loads(out.read_text())['results']}
    assert set(results) == {'base', 'pcl'} and all(r['family'] == 'det' for r in results.values())


def test_losses_class_pcl_and_dense_suites(tmp_path, capsys):
    bench = _import('benchmark_losses')
    out = tmp_path / 'losses.json'
    assert bench.main(['--suite', 'class-pcl', 'dense', '--class-pcl-size', '2x5x16x16', '--dense-sizes', '2x8x8',
                       '1x16x16', '--dense-chunks', '32', '--repeats', '2', '--warmup', '1', '--max-mib', '1',
                       '--dense-constant-view', '--out-json', str(out)]) == 0
    stdout = capsys.readouterr().out
    assert stdout.count('load average (1/5/15 min)') >= 2 and 'host CPU' in stdout
    report = json.loads(out.read_text())
    class_rows = report['suites']['class-pcl']['rows']
    assert [r['label'] for r in class_rows] == ['given (segmentor)', 'self-made (threshold 0.5)']
    assert all(r['value_diff'] < 1e-6 and r['grad_diff'] < 1e-6 for r in class_rows)
    dense = {(tuple(r['size']), r['form']): r for r in report['suites']['dense']['rows']}
    assert dense[((2, 8, 8), 'naive')]['passes'] == 2 and dense[((2, 8, 8), 'naive')]['time_over_naive'] == 1.0
    assert dense[((2, 8, 8), 'chunk 32')]['peak_mib'] > 0
    assert dense[((2, 8, 8), 'chunk 32, view a constant')]['passes'] == 2
    # 1 MiB budget: the naive 512 x 512 matrices (2 MiB) are estimated over it, the chunks not
    assert dense[((1, 16, 16), 'naive')]['skipped'].startswith('not run: needs')
    assert dense[((1, 16, 16), 'chunk 32')]['time_over_naive'] is None


def test_dense_estimate_grows_like_rows_times_chunk():
    bench = _import('benchmark_losses')
    assert bench.dense_estimate_bytes(1000, None) == 8 * 1000 * 1000
    assert bench.dense_estimate_bytes(1000, None, images=2) == 12 * 1000 * 1000
    assert bench.dense_estimate_bytes(1000, 100, images=2) == 12 * 1000 * 100
    assert bench.dense_estimate_bytes(1000, 4096) == bench.dense_estimate_bytes(1000, None)


def test_peer_estimates():
    peers = _import('benchmark_loss_peers')
    # NTXentLoss builds [P, Q] = [rows, rows * (rows - 2)] matrices; SupConLoss rows x rows ones
    assert peers.estimate_peer_bytes('NT-Xent', 'NTXentLoss', 512) == 13 * 512 * 512 * 510
    assert peers.estimate_peer_bytes('SupCon', 'SupConLoss', 512) == 48 * 512 * 512


def test_loss_peers_values_agree(tmp_path):
    pytest.importorskip('pytorch_metric_learning')
    peers = _import('benchmark_loss_peers')
    out = tmp_path / 'peers.json'
    assert peers.main(['--sizes', '16', '40', '--dim', '8', '--repeats', '1', '--warmup', '0', '--out-json',
                       str(out)]) == 0
    rows = json.loads(out.read_text())['results']
    assert len(rows) == 6
    for row in rows:
        assert row['value_diff'] < 1e-5 and row['grad_diff'] < 1e-5, row
    # a budget below every estimate: the peer is not run, ours still is
    assert peers.main(['--sizes', '16', '--dim', '8', '--repeats', '1', '--warmup', '0', '--max-peer-mib', '0',
                       '--out-json', str(out)]) == 0
    rows = json.loads(out.read_text())['results']
    assert all(r['skipped'].startswith('not run') and r['ours_s'] > 0 for r in rows)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message of a machine without CUDA')
def test_loss_tools_refuse_cuda_without_cuda():
    for script in ('benchmark_losses.py', 'benchmark_loss_peers.py'):
        proc = _run(script, ['--device', 'cuda'], timeout=120)
        assert proc.returncode == 2 and 'cuda' in proc.stderr.lower(), (script, proc.stderr[-500:])
