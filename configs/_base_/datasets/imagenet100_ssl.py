_base_ = './imagenet_ssl.py'
# ImageNet-100 (the 100-class subset of CMC / solo-learn): the same recipe on a folder that
# holds only those classes, data/imagenet100/{train,val}/<wnid>/.
data_root = 'data/imagenet100'
train_dataloader = dict(dataset=dict(data_root=data_root))
knn_bank_dataloader = dict(_base_.knn_bank_dataloader,
                           dataset=dict(_base_.knn_bank_dataloader.dataset, data_root=data_root))
knn_query_dataloader = dict(_base_.knn_query_dataloader,
                            dataset=dict(_base_.knn_query_dataloader.dataset, data_root=data_root))
custom_hooks = [dict(_base_.custom_hooks[0], bank_dataloader=knn_bank_dataloader,
                     query_dataloader=knn_query_dataloader, interval=10)]
