# Runtime for mmdet-based configs.
_base_ = './default_runtime.py'
default_scope = 'mmdet'
default_hooks = dict(visualization=dict(type='DetVisualizationHook'))
visualizer = dict(type='DetLocalVisualizer', vis_backends={{_base_.vis_backends}}, name='visualizer')
# Losses below 1e-3 (e.g. a contrastive term weighted 0.01) in scientific notation, not 0.0000.
log_processor = dict(type='mmcontrast.ReadableLogProcessor')
