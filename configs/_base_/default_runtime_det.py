# Runtime for mmdet-based configs.
_base_ = './default_runtime.py'
default_scope = 'mmdet'
default_hooks = dict(visualization=dict(type='DetVisualizationHook'))
visualizer = dict(type='DetLocalVisualizer', vis_backends={{_base_.vis_backends}}, name='visualizer')
