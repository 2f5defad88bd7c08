# Stage 1 of the two-stage ranked SupCon recipe: as the SupCon stage 1, with RankedSupConLoss and
# the toy shape ranking restricted to the 8 in-distribution classes (rank temperatures 0.1/0.35/0.6).
_base_ = './supcon_resnet18-w16_1xb128-12e_toycls-id8-pretrain.py'

model = dict(terms=[
    dict(
        name='ranked_supcon',
        loss=dict(
            type='RankedSupConLoss',
            class_ranking='configs/_base_/class_rankings/toy_cls_id8.yaml',
            min_tau=0.1,
            max_tau=0.6),
        inputs=dict(features='neck', labels='data:gt_label'),
        projectors=dict(features=dict(in_channels=128, hidden_channels=128, out_channels=64)))
])
