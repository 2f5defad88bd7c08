"""Published DAFormer / HRDA / MIC checkpoints -> mmcontrast (tools/model_converters/daformer_to_mmcontrast.py).

The checkpoints are fabricated in the reference layout (``hoyer_layouts.py``, which cites the
reference files line by line): the full-size MiT-B5 models are checked key by key and shape by
shape against our configs on meta tensors; tiny models with random values check that the
converted MiT computes DAFormer's function, and that the converted checkpoints load strictly,
predict, evaluate with tools/test.py and export to stock inference.
"""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

import mmcontrast.models  # noqa: F401
from mmcontrast.registry import MODELS

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import hoyer_layouts as H  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
B5_CHANNELS = [64, 128, 320, 512]
TINY_CHANNELS = list(H.MIT_TINY['dims'])


def _tool(name):
    path = osp.join(ROOT, 'tools', 'model_converters', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_mmcontrast_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conv = _tool('daformer_to_mmcontrast')


# ----------------------------------------------------------------------------- full size, keys
@pytest.mark.parametrize('source,head', [('daformer', 'daformer'), ('hrda', 'hrda'), ('mic', 'hrda')])
def test_full_size_checkpoint_fits_our_config_key_by_key(source, head):
    """Every key/shape of a published MiT-B5 checkpoint lands on our config; nothing is left over."""
    head_shapes = H.daformer_head_shapes(B5_CHANNELS) if head == 'daformer' else H.hrda_head_shapes(B5_CHANNELS)
    state = H.uda_checkpoint(H.mit_shapes(**H.MIT_B5), head_shapes, device='meta')
    converted, detected = conv.convert_hoyer_checkpoint(state, source)
    assert detected == source
    conv.check_against_config(converted, osp.join(ROOT, conv.DEFAULT_CONFIGS[source]))
    # 52 blocks per MiT lose attn.kv.{weight,bias} (merged into in_proj); imnet_model's decode head is dropped.
    merged = 3 * 2 * sum(H.MIT_B5['depths'])
    assert len(converted) == len(state) - merged - len(head_shapes) + 1  # + teacher.steps
    assert int(converted['teacher.steps']) == 40000


def test_key_mapping_table():
    """The rows of the mapping table in docs/published_checkpoints.md."""
    state = H.uda_checkpoint(H.mit_shapes(**H.MIT_TINY), H.hrda_head_shapes(TINY_CHANNELS, 16, 16, 16))
    out, _ = conv.convert_hoyer_checkpoint(state)
    rows = {
        'model.backbone.patch_embed1.proj.weight': 'student.backbone.layers.0.0.projection.weight',
        'model.backbone.patch_embed2.norm.bias': 'student.backbone.layers.1.0.norm.bias',
        'model.backbone.block1.0.norm1.weight': 'student.backbone.layers.0.1.0.norm1.weight',
        'model.backbone.block1.0.attn.proj.weight': 'student.backbone.layers.0.1.0.attn.attn.out_proj.weight',
        'model.backbone.block1.0.attn.sr.weight': 'student.backbone.layers.0.1.0.attn.sr.weight',
        'model.backbone.block1.0.attn.norm.weight': 'student.backbone.layers.0.1.0.attn.norm.weight',
        'model.backbone.block2.1.mlp.dwconv.dwconv.weight': 'student.backbone.layers.1.1.1.ffn.layers.1.weight',
        'model.backbone.norm4.weight': 'student.backbone.layers.3.2.weight',
        'model.decode_head.head.fuse_layer.bottleneck.conv.weight':
        'student.decode_head.head.fuse_layer.bottleneck.conv.weight',
        'model.decode_head.scale_attention.fuse_layer.conv.weight':
        'student.decode_head.scale_attention.fuse_layer.conv.weight',
        'ema_model.decode_head.head.conv_seg.weight': 'teacher.module.decode_head.head.conv_seg.weight',
        'imnet_model.backbone.block3.0.norm2.bias': 'feature_dist.backbone.layers.2.1.0.norm2.bias',
    }
    for src, dst in rows.items():
        assert torch.equal(out[dst], state[src]), (src, dst)
    # q and kv -> one in_proj ([q; k; v]); fc1/fc2 linear -> 1x1 conv.
    q, kv = state['model.backbone.block1.0.attn.q.weight'], state['model.backbone.block1.0.attn.kv.weight']
    assert torch.equal(out['student.backbone.layers.0.1.0.attn.attn.in_proj_weight'], torch.cat([q, kv]))
    fc1 = state['model.backbone.block1.0.mlp.fc1.weight']
    assert torch.equal(out['student.backbone.layers.0.1.0.ffn.layers.0.weight'], fc1[:, :, None, None])
    assert not any(k.startswith('feature_dist.decode_head') for k in out)


def test_wrong_source_and_foreign_keys_are_named():
    state = H.uda_checkpoint(H.mit_shapes(**H.MIT_TINY), H.daformer_head_shapes(TINY_CHANNELS, 16, 16))
    with pytest.raises(KeyError, match='--source hrda, but the checkpoint is a daformer model'):
        conv.convert_hoyer_checkpoint(state, 'hrda')
    with pytest.raises(KeyError, match='keys outside model'):
        conv.convert_hoyer_checkpoint(dict(state, **{'optimizer.x': torch.zeros(1)}))
    # A MIC ablation's separate masking teacher only trains: dropped, with a warning.
    with pytest.warns(UserWarning, match="MIC's separate masking teacher"):
        converted, _ = conv.convert_hoyer_checkpoint(dict(state, **{'mic.teacher.ema_model.x': torch.zeros(1)}))
    assert not any(k.startswith('mic.') for k in converted)
    with pytest.raises(KeyError, match='neither a DAFormer nor an HRDA'):
        conv.convert_hoyer_checkpoint({'backbone.conv1.weight': torch.zeros(1)})
    # A checkpoint without imnet_model does not fit a config with the feature distance: say how.
    no_fd = {k: v for k, v in state.items() if not k.startswith('imnet_model.')}
    converted, _ = conv.convert_hoyer_checkpoint(no_fd)
    with pytest.raises(KeyError, match='model.imnet_feature_dist=None'):
        conv.check_against_config(converted, osp.join(ROOT, conv.DEFAULT_CONFIGS['daformer']), _TINY['daformer'])


# ----------------------------------------------------------------------------- MiT semantics
def _ref_mit(sd, x, dims, depths, sr_ratios, heads):
    """DAFormer's MixVisionTransformer.forward_features (mix_transformer.py L397-433), functionally.

    LayerNorm eps as DAFormer: 1e-5 in OverlapPatchEmbed (L177) and Attention.norm (L78), 1e-6 in
    the blocks and stage norms (mit_b5 ``norm_layer``, L547).
    """
    outs = []
    for i in range(4):
        c, nh, sr = dims[i], heads[i], sr_ratios[i]
        p = f'patch_embed{i + 1}.'
        k, s = (7, 4) if i == 0 else (3, 2)
        x = F.conv2d(x, sd[p + 'proj.weight'], sd[p + 'proj.bias'], stride=s, padding=k // 2)
        b_, _, h, w = x.shape
        x = F.layer_norm(x.flatten(2).transpose(1, 2), (c, ), sd[p + 'norm.weight'], sd[p + 'norm.bias'], 1e-5)
        n = h * w
        for j in range(depths[i]):
            b = f'block{i + 1}.{j}.'
            y = F.layer_norm(x, (c, ), sd[b + 'norm1.weight'], sd[b + 'norm1.bias'], 1e-6)
            q = F.linear(y, sd[b + 'attn.q.weight'], sd[b + 'attn.q.bias']).reshape(b_, n, nh, c // nh)
            q = q.permute(0, 2, 1, 3)
            y_ = y
            if sr > 1:
                y_ = F.conv2d(y.transpose(1, 2).reshape(b_, c, h, w), sd[b + 'attn.sr.weight'], sd[b + 'attn.sr.bias'],
                              stride=sr).reshape(b_, c, -1).transpose(1, 2)
                y_ = F.layer_norm(y_, (c, ), sd[b + 'attn.norm.weight'], sd[b + 'attn.norm.bias'], 1e-5)
            kv = F.linear(y_, sd[b + 'attn.kv.weight'], sd[b + 'attn.kv.bias'])
            kv = kv.reshape(b_, -1, 2, nh, c // nh).permute(2, 0, 3, 1, 4)
            attn = ((q @ kv[0].transpose(-2, -1)) * (c // nh)**-0.5).softmax(-1)
            out = (attn @ kv[1]).transpose(1, 2).reshape(b_, n, c)
            x = x + F.linear(out, sd[b + 'attn.proj.weight'], sd[b + 'attn.proj.bias'])
            y = F.layer_norm(x, (c, ), sd[b + 'norm2.weight'], sd[b + 'norm2.bias'], 1e-6)
            y = F.linear(y, sd[b + 'mlp.fc1.weight'], sd[b + 'mlp.fc1.bias'])
            y = F.conv2d(y.transpose(1, 2).reshape(b_, 4 * c, h, w), sd[b + 'mlp.dwconv.dwconv.weight'],
                         sd[b + 'mlp.dwconv.dwconv.bias'], padding=1, groups=4 * c).flatten(2).transpose(1, 2)
            x = x + F.linear(F.gelu(y), sd[b + 'mlp.fc2.weight'], sd[b + 'mlp.fc2.bias'])
        x = F.layer_norm(x, (c, ), sd[f'norm{i + 1}.weight'], sd[f'norm{i + 1}.bias'], 1e-6)
        x = x.reshape(b_, h, w, c).permute(0, 3, 1, 2)
        outs.append(x)
    return outs


def test_converted_mit_computes_daformers_function():
    """mmseg 1.x's MiT with the converted weights gives DAFormer's MiT outputs."""
    sd = H.materialize(H.mit_shapes(**H.MIT_TINY), seed=3)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    ref = _ref_mit(sd, x, H.MIT_TINY['dims'], H.MIT_TINY['depths'], H.MIT_TINY['sr_ratios'], (1, 2, 5, 8))
    init_default_scope('mmseg')
    mit = MODELS.build(dict(type='mmseg.MixVisionTransformer', embed_dims=8, num_layers=list(H.MIT_TINY['depths']),
                            num_heads=[1, 2, 5, 8], sr_ratios=[8, 4, 2, 1], qkv_bias=True, drop_path_rate=0.))
    mit.load_state_dict(conv.load_convert_mit()(sd), strict=True)
    with torch.no_grad():
        ours = mit.eval()(x)
    for level, (a, b) in enumerate(zip(ours, ref)):
        # mmseg 1.x's patch-embed and attention norms use eps 1e-6 (DAFormer: 1e-5): ~1e-5 apart.
        assert torch.allclose(a, b, atol=5e-5), (level, (a - b).abs().max())
    # With DAFormer's eps there, the converted model is DAFormer's to float precision.
    for layer in mit.layers:
        layer[0].norm.eps = 1e-5
        for block in layer[1]:
            if hasattr(block.attn, 'norm'):
                block.attn.norm.eps = 1e-5
    with torch.no_grad():
        ours = mit(x)
    for level, (a, b) in enumerate(zip(ours, ref)):
        assert torch.allclose(a, b, atol=3e-6), (level, (a - b).abs().max())


# ----------------------------------------------------------------------------- tiny models, end to end
_TINY_SEG = {
    'model.segmentor.backbone.embed_dims': 8,
    'model.segmentor.backbone.num_layers': list(H.MIT_TINY['depths']),
    'model.segmentor.decode_head.in_channels': TINY_CHANNELS,
    'model.segmentor.decode_head.channels': 16,
    'model.segmentor.decode_head.embed_dims': 16,
}
_TINY = {
    'daformer': dict(_TINY_SEG, **{'model.segmentor.data_preprocessor.size': (64, 64)}),
    'hrda': dict(_TINY_SEG, **{
        'model.segmentor.decode_head.attention_embed_dim': 16,
        'model.segmentor.data_preprocessor.size': (64, 64),
        'model.segmentor.hr_crop_size': [32, 32],
        'model.segmentor.test_cfg.crop_size': (64, 64),
        'model.segmentor.test_cfg.stride': (32, 32),
    }),
}


def _tiny_config(source, tmp_path, data_root=None):
    cfg = Config.fromfile(osp.join(ROOT, conv.DEFAULT_CONFIGS[source]))
    cfg.merge_from_dict(_TINY[{'mic': 'hrda'}.get(source, source)])
    cfg.model.segmentor.backbone.init_cfg = None
    if data_root is not None:
        cfg.test_dataloader.dataset.data_root = data_root
        cfg.test_dataloader.num_workers = 0
        cfg.test_dataloader.persistent_workers = False
        cfg.test_dataloader.dataset.pipeline[1].scale = (128, 64)
    path = str(tmp_path / f'tiny_{source}.py')
    cfg.dump(path)
    return path


def _published(source, path):
    head = (H.daformer_head_shapes(TINY_CHANNELS, 16, 16) if source == 'daformer' else
            H.hrda_head_shapes(TINY_CHANNELS, 16, 16, 16))
    from mmseg.datasets import CityscapesDataset
    meta = dict(iter=40000, CLASSES=CityscapesDataset.METAINFO['classes'],
                PALETTE=CityscapesDataset.METAINFO['palette'], config='...mmseg 0.16 config text...')
    torch.save(dict(state_dict=H.uda_checkpoint(H.mit_shapes(**H.MIT_TINY), head), meta=meta), path)


def _fake_cityscapes_val(root, n=2):
    rng = np.random.default_rng(0)
    for i in range(n):
        img_dir, gt_dir = osp.join(root, 'leftImg8bit/val/city'), osp.join(root, 'gtFine/val/city')
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(gt_dir, exist_ok=True)
        cv2.imwrite(osp.join(img_dir, f'city_{i:06d}_000019_leftImg8bit.png'),
                    rng.integers(0, 255, (64, 128, 3), dtype=np.uint8))
        cv2.imwrite(osp.join(gt_dir, f'city_{i:06d}_000019_gtFine_labelTrainIds.png'),
                    rng.integers(0, 19, (64, 128), dtype=np.uint8))


@pytest.mark.parametrize('source', ['daformer', 'hrda'])
def test_converted_checkpoint_loads_strictly_and_predicts(source, tmp_path):
    src, dst = str(tmp_path / 'published.pth'), str(tmp_path / 'converted.pth')
    _published(source, src)
    config = _tiny_config(source, tmp_path)
    assert conv.main([src, dst, '--config', config]) == 0
    ckpt = torch.load(dst, map_location='cpu')
    assert ckpt['meta']['dataset_meta']['classes'][0] == 'road'
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    model.eval()
    from mmseg.structures import SegDataSample
    img = torch.randint(0, 255, (3, 64, 128), dtype=torch.uint8)
    data = dict(inputs=[img], data_samples=[SegDataSample(metainfo=dict(img_shape=(64, 128), ori_shape=(64, 128)))])
    for predict_on in ('student', 'teacher'):
        model.semi_test_cfg['predict_on'] = predict_on
        with torch.no_grad():
            pred = model.test_step(data)[0]
        assert pred.pred_sem_seg.data.shape == (1, 64, 128) and pred.seg_logits.data.shape == (19, 64, 128)
    # ... and as a stock mmseg model: init_model / inference_model give the student's prediction.
    from mmseg.apis import inference_model, init_model

    from mmcontrast.apis import export_uda_model
    model.semi_test_cfg['predict_on'] = 'student'
    out = export_uda_model(config, dst, str(tmp_path / 'exported'))
    stock = init_model(out.config, out.checkpoint, device='cpu')
    img_path = str(tmp_path / 'img.png')
    cv2.imwrite(img_path, img.permute(1, 2, 0).numpy())
    stock.cfg.test_pipeline[1]['scale'] = (128, 64)  # the config's Resize is for 2048x1024 images
    result = inference_model(stock, img_path)
    with torch.no_grad():
        expected = model.test_step(data)[0]
    assert torch.allclose(result.seg_logits.data, expected.seg_logits.data, atol=1e-4)
    assert stock.dataset_meta['classes'][0] == 'road'


def test_tools_test_evaluates_a_converted_hrda_checkpoint(tmp_path):
    """The evaluation path of the issue: convert, then tools/test.py on (fabricated) Cityscapes val."""
    data_root = str(tmp_path / 'cityscapes')
    _fake_cityscapes_val(data_root)
    src, dst = str(tmp_path / 'hrda.pth'), str(tmp_path / 'hrda_converted.pth')
    _published('hrda', src)
    config = _tiny_config('hrda', tmp_path, data_root)
    assert conv.main([src, dst, '--config', config]) == 0
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, 'tools/test.py', config, dst, '--work-dir', str(tmp_path / 'work')],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'mIoU' in log and 'Load checkpoint' in log


def test_hrda_training_is_refused_with_the_reason(tmp_path):
    cfg = Config.fromfile(_tiny_config('hrda', tmp_path))
    with DefaultScope.overwrite_default_scope('mmseg'):
        seg = MODELS.build(dict(cfg.model.segmentor, type='mmcontrast.HRDAEncoderDecoder'))
    with pytest.raises(NotImplementedError, match='HRDA training'):
        seg.loss(torch.zeros(1, 3, 64, 64), [])


def test_hrda_detail_crops_stitch_to_the_whole_view(tmp_path):
    """With one crop covering the whole detail view, the slide path equals the plain head."""
    cfg = Config.fromfile(_tiny_config('hrda', tmp_path))
    with DefaultScope.overwrite_default_scope('mmseg'):
        seg = MODELS.build(cfg.model.segmentor).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feats = seg.extract_unscaled_feat(x)
        whole = seg.decode_head.decode_hr(feats, 1)
        seg.crop_size = (64, 64)
        one_crop = seg.decode_head.decode_hr(seg.extract_slide_feat(x), 1)
        seg.crop_size = (32, 32)  # 3 x 3 overlapping crops of 32, stride 16
        crops = seg.extract_slide_feat(x)
    assert torch.allclose(whole, one_crop)
    assert len(crops['boxes']) == 9 and crops['features'][0].shape[0] == 9
    assert seg.decode_head.decode_hr(crops, 1).shape == whole.shape
