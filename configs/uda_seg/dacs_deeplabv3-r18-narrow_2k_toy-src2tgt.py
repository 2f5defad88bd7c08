# Self-training (DACS: EMA teacher, ClassMix, strong aug) on the toy UDA benchmark.
_base_ = ['../_base_/uda/dacs_deeplabv3-r18-narrow_toy-src2tgt.py']
