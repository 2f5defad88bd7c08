# Target oracle: trained on labelled target train boxes, evaluated on target val.
_base_ = ['./faster-rcnn_r18-narrow-fpn_2k_toy-source.py']

train_dataloader = dict(dataset={{_base_.target_train_labelled}})
