"""Print the stack mmcontrast runs on and check mmcv's compiled ops.

Exits non-zero when the CPU ops do not work.
"""
import sys

from mmcontrast.utils.collect_env import collect_env


def main() -> int:
    env = collect_env()
    env.pop('PyTorch compiling details', None)  # pages of build flags; see torch.__config__.show()
    width = max(map(len, env))
    for key, value in env.items():
        print(f'{key:<{width}} : {value}')
    return 0 if env['mmcv ops (CPU)'] == 'ok' else 1


if __name__ == '__main__':
    sys.exit(main())
