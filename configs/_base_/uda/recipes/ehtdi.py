# PCL as the PCL paper's segmentation code does it (EHTDI, Li et al., ACM MM 2022;
# ljjcoder/EHTDI main.py, the use_NCE branch, configs/gta5.yaml), to compose with the DAFormer
# recipe: both views ClassMixed, class labels from the student's weak view above 0.95 plus the
# pasted source labels, class-level PCL on per-class mean logits (scale 7), pixel-level PCL over
# all decoder pixels (scale 20, chunked, no sampling), both views with gradient, weight 0.01
# (GTA5; SYNTHIA configs set 0.008 as configs/synthia.yaml). A UDA config adds it as
# model = dict(..., **_base_.uda, contrast=_base_.pcl_contrast)
pcl_contrast = dict(
    views=dict(type='mmcontrast.EHTDIViews', threshold=0.95),
    losses=dict(
        class_pcl=dict(type='mmcontrast.ClassPCLLoss', scale=7.0, loss_weight=0.01),
        pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', scale=20.0, max_pixels=None, chunk_size=4096,
                       loss_weight=0.01)))
