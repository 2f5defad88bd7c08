# Target oracle: trained on labelled target train (labels a UDA method never sees), evaluated on
# target val. The upper bound the UDA configs are compared with.
_base_ = ['./deeplabv3_r18-narrow_2k_toy-source.py']

train_dataloader = dict(dataset={{_base_.target_train_labelled}})
