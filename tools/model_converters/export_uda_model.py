# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Export the network of a UDA (or injector) checkpoint as a stock mmseg/mmdet model.

    python tools/model_converters/export_uda_model.py CONFIG CHECKPOINT OUT_DIR [--model teacher|student]

writes ``OUT_DIR/model.py`` (a stock config: ``default_scope``, the network, its data
preprocessor, the test pipeline) and ``OUT_DIR/model.pth`` (the chosen network's weights,
classes and palette in ``meta['dataset_meta']``). Then, with the stock APIs::

    from mmseg.apis import init_model, inference_model          # segmentation
    model = init_model('OUT_DIR/model.py', 'OUT_DIR/model.pth', device='cpu')
    result = inference_model(model, 'demo.png')

    from mmdet.apis import init_detector, inference_detector    # detection
    model = init_detector('OUT_DIR/model.py', 'OUT_DIR/model.pth', device='cpu')
    result = inference_detector(model, 'demo.jpg')

By default the network the config predicts with is exported: the student for
``DACSSegmentor`` (``predict_on``, DAFormer's choice), the teacher for
``DomainAdaptiveTeacher`` (``semi_test_cfg.predict_on``).
"""
import argparse
import sys

from mmcontrast.apis import export_uda_model


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a UDA checkpoint to a stock mmseg/mmdet model')
    parser.add_argument('config', help='the UDA config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='the UDA checkpoint (path or URL)')
    parser.add_argument('out_dir', help='writes OUT_DIR/model.py and OUT_DIR/model.pth')
    parser.add_argument('--model', choices=['teacher', 'student'], default=None,
                        help='network to export (default: the one the config predicts with)')
    parser.add_argument('--no-check', action='store_true',
                        help='skip building the stock network and loading the weights strictly')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        out = export_uda_model(args.config, args.checkpoint, args.out_dir, args.model, check=not args.no_check)
    except (KeyError, ValueError) as err:
        print(f'export_uda_model: {err}', file=sys.stderr)
        return 1
    api = ('mmseg.apis.init_model / inference_model' if out.task == 'seg' else
           'mmdet.apis.init_detector / inference_detector')
    print(f'wrote the {out.model} ({out.num_tensors} tensors) as {out.config} and {out.checkpoint}; '
          f'load them with {api}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
