# Loaders and evaluator shared by the UDA detection recipes: source and target images in one
# ConcatDataset sampled 1:1 by GroupMultiSourceSampler; the leaf config sets the datasets.
batch_size = 2  # per GPU: 1 source + 1 target
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='GroupMultiSourceSampler', batch_size=batch_size, source_ratio=[1, 1]),
    dataset=dict(type='ConcatDataset', datasets=[]))  # [source, target], set by the leaf config
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict())  # target val, set by the leaf config
test_dataloader = val_dataloader
# Target val; per-class AP/AP50 tables of the teacher and of the student, each under a title line.
val_evaluator = dict(type='CocoMetric', ann_file='', metric='bbox', classwise=True, format_only=False)
test_evaluator = val_evaluator
