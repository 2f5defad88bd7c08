# Source-only baseline: DeepLabV3 (narrow R-18) trained on labelled source, evaluated on target val.
_base_ = [
    '../_base_/models/deeplabv3_r18-narrow.py', '../_base_/datasets/toy_uda_seg.py',
    '../_base_/default_runtime_seg.py', '../_base_/schedules/schedule_toy_2k.py'
]
