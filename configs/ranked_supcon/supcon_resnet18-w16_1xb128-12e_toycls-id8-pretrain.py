# Stage 1 of the two-stage SupCon recipe: supervised contrastive pretraining of the backbone.
# The stock ImageClassifier is wrapped by ContrastiveInjector; SupCon reads the pooled features
# (neck output) through a projection MLP and the labels from the data samples. The classifier's
# own CE is switched off (loss_weight=0): stage 1 learns from the contrastive loss alone.
# One view per image: positives are the other same-class images of the batch.
_base_ = './ce_resnet18-w16_1xb128-12e_toycls-id8.py'

_classifier = dict(
    _base_.model,
    head=dict(type='LinearClsHead', num_classes=8, in_channels=128,
              loss=dict(type='mmdet.CrossEntropyLoss', loss_weight=0.0)))
model = dict(
    _delete_=True,
    type='ContrastiveInjector',
    model=_classifier,
    terms=[
        dict(
            name='supcon',
            loss=dict(type='SupConLoss', temperature=0.1),
            inputs=dict(features='neck', labels='data:gt_label'),
            projectors=dict(features=dict(in_channels=128, hidden_channels=128, out_channels=64)))
    ])
# Stage 1 has no classifier to evaluate; stage 2 (the linear config) reports accuracy.
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=_base_.max_epochs)
val_dataloader = None
val_cfg = None
val_evaluator = None
