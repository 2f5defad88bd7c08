"""Print the final validation metrics of a finished run from its work dir.

    python tools/misc/summarize_run.py work_dirs/my_run
    python tools/misc/summarize_run.py work_dirs/my_run --expect student/mIoU 38.0 44.0 \
        --reference 'source-only 27.5'

With ``--expect KEY LOW HIGH`` it also says whether the run landed in the expected range
(exit code 3 if it did not, so scripts can tell a good run from a broken one).
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, Optional


def last_val_metrics(work_dir: str) -> Optional[Dict[str, float]]:
    """The metrics of the last validation in the newest ``vis_data/scalars.json`` of ``work_dir``."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not logs:
        return None
    last = None
    with open(logs[-1]) as f:
        for line in f:
            record = json.loads(line)
            # Training records carry the learning rate and losses; validation records do not.
            if 'lr' not in record and not any('loss' in k for k in record):
                last = record
    return last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    parser.add_argument('--expect', nargs=3, metavar=('KEY', 'LOW', 'HIGH'),
                        help='the metric and its expected range (the same units as the log)')
    parser.add_argument('--reference', default='', help='a reference to print beside it, e.g. the source-only value')
    args = parser.parse_args()
    metrics = last_val_metrics(args.work_dir)
    if metrics is None:
        print(f'no validation results found under {args.work_dir}', file=sys.stderr)
        return 1
    print(f'Final evaluation ({args.work_dir}):')
    for key, value in metrics.items():
        if key not in ('step', 'iter', 'epoch', 'time', 'data_time'):
            print(f'  {key:<24} {value:.2f}' if isinstance(value, float) else f'  {key:<24} {value}')
    if args.expect:
        key, low, high = args.expect[0], float(args.expect[1]), float(args.expect[2])
        if key not in metrics:
            print(f'{key} is not among the metrics above', file=sys.stderr)
            return 2
        value = metrics[key]
        inside = low <= value <= high
        ref = f'; {args.reference}' if args.reference else ''
        print(f'{key} {value:.2f}: expected {low:.1f}-{high:.1f}{ref} -> '
              f'{"as expected" if inside else "OUTSIDE the expected range: see docs/toy_uda.md"}')
        return 0 if inside else 3
    return 0


if __name__ == '__main__':
    sys.exit(main())
