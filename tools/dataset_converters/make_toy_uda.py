"""Generate the embedded toy UDA benchmark (procedural driving scenes, source vs foggy target).

Example:
    python tools/dataset_converters/make_toy_uda.py --out data/toy_uda
"""
import argparse
import json
import os
import time

from mmcontrast.datasets.toy_uda import DEFAULT_TOY_UDA_ROOT, ensure_toy_uda


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Generate the toy UDA benchmark')
    parser.add_argument('--out', default=DEFAULT_TOY_UDA_ROOT, help='output directory')
    parser.add_argument('--seed', type=int, default=0, help='global seed')
    parser.add_argument('--num-train', type=int, default=2000, help='train images per domain')
    parser.add_argument('--num-val', type=int, default=200, help='val images per domain')
    parser.add_argument('--height', type=int, default=128, help='image height')
    parser.add_argument('--width', type=int, default=256, help='image width')
    parser.add_argument(
        '--fog-beta', type=float, nargs=2, metavar=('MIN', 'MAX'), default=None,
        help='range of the target fog attenuation coefficient per metre')
    parser.add_argument(
        '--workers', type=int, default=os.cpu_count() or 1,
        help='worker processes (the output does not depend on it)')
    parser.add_argument(
        '--force', action='store_true', help='regenerate even if the dataset exists')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    style = dict(fog_beta=tuple(args.fog_beta)) if args.fog_beta else None
    start = time.time()
    ensure_toy_uda(
        args.out, force=args.force, seed=args.seed, num_train=args.num_train,
        num_val=args.num_val, height=args.height, width=args.width, target_style=style,
        workers=args.workers)
    with open(f'{args.out}/meta.json') as f:
        meta = json.load(f)
    print(f'toy UDA benchmark at {args.out} (generator {meta["generator_version"]}, '
          f'seed {meta["seed"]}, {meta["height"]}x{meta["width"]}) ready in '
          f'{time.time() - start:.1f} s')
    for split, stats in meta['stats'].items():
        print(f'  {split:13s} images {stats["images"]:4d}  boxes {stats["boxes"]}')


if __name__ == '__main__':
    main()
