_base_ = './cifar10_ssl.py'
# CIFAR-100 (fine labels): the CIFAR-10 recipe with CIFAR-100's files and statistics.
dataset_type = 'CIFAR100'
data_root = 'data/cifar100'  # holds cifar-100-python
mean, std = [129.304, 124.070, 112.434], [68.170, 65.392, 70.418]
data_preprocessor = dict(mean=mean, std=std)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
knn_bank_dataloader = dict(
    _base_.knn_bank_dataloader, dataset=dict(_base_.knn_bank_dataloader.dataset, type=dataset_type,
                                             data_root=data_root))
knn_query_dataloader = dict(
    _base_.knn_query_dataloader, dataset=dict(_base_.knn_query_dataloader.dataset, type=dataset_type,
                                              data_root=data_root))
custom_hooks = [dict(_base_.custom_hooks[0], bank_dataloader=knn_bank_dataloader,
                     query_dataloader=knn_query_dataloader)]
