# Mean teacher whose BatchNorm uses target statistics, as DAFormer's segmentation teacher: it labels
# the weak target view in train mode (dropout off), so BN normalises with the target batch's own
# statistics, and its running statistics (used when the teacher is evaluated) follow only those target
# batches, because the EMA hook averages the parameters only. The plain toy mean teacher instead runs
# in eval mode with running statistics EMA-averaged from the student's, i.e. mixed source + target.
_base_ = ['./mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py']

model = dict(semi_train_cfg=dict(teacher_bn_stats='target_batch'))
custom_hooks = [dict(type='MeanTeacherHook', momentum=0.002, skip_buffer=True)]
