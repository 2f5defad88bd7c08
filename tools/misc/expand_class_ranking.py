"""Validate a class ranking and write its explicit form (rank 0 written out).

    python tools/misc/expand_class_ranking.py SRC.yaml OUT.yaml [--classes a b c] [--header "..."]

SRC may use the ``hierarchy`` or the ``ranking`` form (see
``mmcontrast.utils.class_ranking``). OUT is the ``ranking`` form that
``RankedSupConLoss(class_ranking=OUT)`` reads; ``--classes`` restricts it to a label
subset in that order (e.g. the classes left after withholding some as OOD).
"""
import argparse

import yaml

from mmcontrast.utils.class_ranking import load_class_ranking


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='ranking file (.yaml/.yml/.json)')
    parser.add_argument('out', help='output .yaml file')
    parser.add_argument('--classes', nargs='+', help='restrict to these classes, in label order')
    parser.add_argument('--header', default='', help='comment written at the top of OUT')
    args = parser.parse_args()
    ranking = load_class_ranking(args.src, classes=args.classes)
    data = ranking.to_dict()
    with open(args.out, 'w') as f:
        for line in args.header.splitlines():
            f.write(f'# {line}\n'.replace('#  ', '# ') if line else '#\n')
        f.write(f'classes: {yaml.safe_dump(data["classes"], default_flow_style=True, width=1000).strip()}\n')
        f.write('ranking:\n')
        for name, groups in data['ranking'].items():
            f.write(f'  {name}: {yaml.safe_dump(groups, default_flow_style=True, width=1000).strip()}\n')
    load_class_ranking(args.out)  # what we wrote must load again
    print(f'wrote {args.out}: {ranking}')


if __name__ == '__main__':
    main()
