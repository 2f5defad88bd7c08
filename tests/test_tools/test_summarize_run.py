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
