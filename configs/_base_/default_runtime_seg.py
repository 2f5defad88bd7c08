# Runtime for mmseg-based configs.
_base_ = './default_runtime.py'
default_scope = 'mmseg'
env_cfg = dict(cudnn_benchmark=True)
default_hooks = dict(visualization=dict(type='SegVisualizationHook'))
visualizer = dict(type='SegLocalVisualizer', vis_backends={{_base_.vis_backends}}, name='visualizer')
tta_model = dict(type='SegTTAModel')
