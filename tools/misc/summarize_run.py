"""Print the final validation metrics of a finished run from its work dir.

    python tools/misc/summarize_run.py work_dirs/my_run
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
    args = parser.parse_args()
    metrics = last_val_metrics(args.work_dir)
    if metrics is None:
        print(f'no validation results found under {args.work_dir}', file=sys.stderr)
        return 1
    print(f'Final evaluation ({args.work_dir}):')
    for key, value in metrics.items():
        if key not in ('step', 'iter', 'epoch', 'time', 'data_time'):
            print(f'  {key:<24} {value:.2f}' if isinstance(value, float) else f'  {key:<24} {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
