_base_ = './mocov2_resnet50.py'
# ASCL (Feng & Patras, ICPR 2022), official defaults: queue 4096, m 0.99, t1 0.1, t2 0.05,
# projector feat -> 2048 -> 128; the key (teacher) sees the weak view, the query the strong one.
model = dict(
    type='ASCL',
    queue_len=4096,
    momentum=0.99,
    neck=dict(hid_channels=2048),
    head=dict(_delete_=True, type='ASCLLoss', t1=0.1, t2=0.05, num_neighbors=1, mode='ascl'))
