# PCL as the PCL paper's segmentation code does it (EHTDI, Li et al., ACM MM 2022;
# ljjcoder/EHTDI main.py, the use_NCE branch, configs/gta5.yaml), to compose with the DAFormer
# recipe: both views ClassMixed, class labels from the student's weak view above 0.95 plus the
# pasted source labels, class-level PCL on per-class mean logits (scale 7), pixel-level PCL over
# all decoder pixels (scale 20, chunked, no sampling), both views with gradient, weight 0.01
# (GTA5: configs/gta5.yaml) or 0.008 (SYNTHIA: configs/synthia.yaml). A UDA config adds it as
# model = dict(..., **_base_.uda, contrast=_base_.pcl_contrast)  (or pcl_contrast_synthia)
pcl_contrast = dict(
    views=dict(type='mmcontrast.EHTDIViews', threshold=0.95),
    losses=dict(
        class_pcl=dict(type='mmcontrast.ClassPCLLoss', scale=7.0, loss_weight=0.01),
        pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', scale=20.0, max_pixels=None, chunk_size=4096,
                       loss_weight=0.01)))
pcl_contrast_synthia = dict(
    views=pcl_contrast['views'],
    losses={name: dict(loss, loss_weight=0.008)
            for name, loss in pcl_contrast['losses'].items()})
