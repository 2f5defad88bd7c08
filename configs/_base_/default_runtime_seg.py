# Runtime for mmseg-based configs.
_base_ = './default_runtime.py'
default_scope = 'mmseg'
env_cfg = dict(cudnn_benchmark=True)
default_hooks = dict(visualization=dict(type='SegVisualizationHook'))
visualizer = dict(type='SegLocalVisualizer', vis_backends={{_base_.vis_backends}}, name='visualizer')
tta_model = dict(type='SegTTAModel')
# Losses below 1e-3 (e.g. a contrastive term weighted 0.01) in scientific notation, not 0.0000.
log_processor = dict(type='mmcontrast.ReadableLogProcessor')
