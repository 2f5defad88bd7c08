import json
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))
from summarize_run import last_val_metrics  # noqa: E402


def _write(path, records):
    path.parent.mkdir(parents=True)
    path.write_text('\n'.join(json.dumps(r) for r in records))


def test_picks_the_last_validation_record(tmp_path):
    _write(tmp_path / '20260101_000000' / 'vis_data' / 'scalars.json', [
        {'lr': 0.1, 'data_time': 0.01, 'loss': 1.0, 'step': 10},
        {'teacher/mIoU': 10.0, 'data_time': 0.01, 'time': 0.1, 'step': 10},
        {'lr': 0.1, 'data_time': 0.01, 'loss': 0.5, 'mix.decode.loss_ce': 0.2, 'step': 20},
        {'teacher/mIoU': 23.4, 'student/mIoU': 26.7, 'data_time': 0.01, 'time': 0.1, 'step': 20},
    ])
    assert last_val_metrics(str(tmp_path))['teacher/mIoU'] == 23.4
    out = subprocess.run([sys.executable, osp.join(ROOT, 'tools/misc/summarize_run.py'), str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    assert 'teacher/mIoU             23.40' in out and 'student/mIoU             26.70' in out
    assert 'data_time' not in out


def test_no_validation_is_an_error(tmp_path):
    _write(tmp_path / 'run' / 'vis_data' / 'scalars.json', [{'lr': 0.1, 'loss': 1.0, 'step': 1}])
    assert last_val_metrics(str(tmp_path)) is None
    result = subprocess.run([sys.executable, osp.join(ROOT, 'tools/misc/summarize_run.py'), str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and 'no validation results' in result.stderr


def test_expected_range_verdict_and_exit_code(tmp_path):
    _write(tmp_path / 'run' / 'vis_data' / 'scalars.json', [{'student/mIoU': 40.0, 'step': 5}])
    cmd = [sys.executable, osp.join(ROOT, 'tools/misc/summarize_run.py'), str(tmp_path), '--expect', 'student/mIoU']
    inside = subprocess.run(cmd + ['38', '44', '--reference', 'source-only 27.5'], capture_output=True, text=True)
    assert inside.returncode == 0
    assert 'student/mIoU 40.00: expected 38.0-44.0; source-only 27.5 -> as expected' in inside.stdout
    outside = subprocess.run(cmd + ['41', '44'], capture_output=True, text=True)
    assert outside.returncode == 3 and 'OUTSIDE the expected range' in outside.stdout
    missing = subprocess.run(cmd[:-1] + ['teacher/mIoU', '1', '2'], capture_output=True, text=True)
    assert missing.returncode == 2 and 'teacher/mIoU is not among' in missing.stderr
