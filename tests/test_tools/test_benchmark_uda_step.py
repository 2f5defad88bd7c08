"""tools/analysis_tools/benchmark_uda_step.py on the toy UDA config (tiny crop, one step)."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark_uda_step.py')
TOY = osp.join(ROOT, 'configs', 'uda_seg', 'dacs_deeplabv3-r18-narrow_2k_toy-src2tgt.py')


def _run(args, timeout=120):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONPATH=ROOT)
    return subprocess.run(
        [sys.executable, SCRIPT] + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_toy_config_summed_vs_sequential(tmp_path):
    out = tmp_path / 'bench.json'
    proc = _run([TOY, '--crop', '64', '--batch', '2', '--steps', '1', '--warmup', '0', '--out-json', str(out)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith('| dacs_deeplabv3')]
    assert [row.split('|')[3].strip() for row in rows] == ['summed', 'sequential'], proc.stdout
    assert 'Machine:' in proc.stdout and 'load average' in proc.stdout and 'Measured (CPU)' in proc.stdout
    report = json.loads(out.read_text())
    assert report['machine']['torch'] == torch.__version__ and report['machine']['cores'] >= 1
    assert len(report['machine']['load_before']) == 3 and len(report['machine']['load_after']) == 3
    results = {r['variant']: r for r in report['results']}
    assert set(results) == {'summed', 'sequential'}
    for name, r in results.items():
        assert 'error' not in r, r
        assert r['overrides']['backward']['type'] == f'mmcontrast.{name.capitalize()}Backward'
        for key in ('median_step_s', 'median_cpu_s', 'peak_step_mib', 'rss_before_mib'):
            assert math.isfinite(r[key]) and r[key] > 0, (name, key, r[key])
        assert all(math.isfinite(x) for x in r['losses'])
        assert r['num_classes'] == 8 and r['rss_samples'] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message of a machine without CUDA')
def test_cuda_without_cuda_is_a_clear_error():
    proc = _run([TOY, '--device', 'cuda'], timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'CUDA is not available' in lines[0], proc.stderr


def test_unknown_variant_is_rejected():
    proc = _run([TOY, '--variants', 'summed', 'nope'], timeout=60)
    assert proc.returncode == 2 and "unknown variant(s) ['nope']" in proc.stderr


def test_a_variant_is_a_name_and_model_overrides():
    sys.path.insert(0, osp.dirname(SCRIPT))
    try:
        import benchmark_uda_step as bench
    finally:
        sys.path.remove(osp.dirname(SCRIPT))
    args = bench.parse_args([
        TOY, '--variants', 'sequential', 'noaux', '--define',
        'noaux={"segmentor": {"auxiliary_head": null}, "mix_loss_weight": 0.5}'
    ])
    assert args.baseline == 'sequential'
    cfg = bench.load_config(TOY, 96, False, args.variant_cfgs['noaux'])
    model = cfg.model
    assert model.segmentor.auxiliary_head is None and model.mix_loss_weight == 0.5
    assert model.backward.type == 'mmcontrast.SequentialBackward'  # the rest of the config is kept
    assert model.segmentor.data_preprocessor.size == (96, 96) and model.imnet_feature_dist is None
    cfg = bench.load_config(TOY, 96, False, args.variant_cfgs['summed'])
    assert cfg.model.backward.type == 'mmcontrast.SummedBackward'
