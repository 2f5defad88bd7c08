"""Parity of the self-supervised algorithms with the official code (issue 13).

Every test names the official file and line it reproduces. Line numbers refer to these commits:

- thanhkaist/DimCL (the authors' solo-learn fork) 1306a37
- MrChenFeng/ASCL_ICPR2022 b31e15b
- facebookresearch/moco 3631be0 (the 2020 code, before the fbcode reformatting)
- salesforce/PCL 964da1f
- facebookresearch/simsiam a7bc177
- open-mmlab/mmpretrain ee7f2e88
"""
import math
import os.path as osp
import warnings
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope

import mmcontrast.engine.optimizers  # noqa: F401  (LARS, FixedLRHook)
import mmcontrast.models  # noqa: F401
from mmcontrast.engine.optimizers import LARS, FixedLRHook
from mmcontrast.models.backbones import compare_state_dicts
from mmcontrast.models.losses import dimcl_loss
from mmcontrast.models.losses.pauc import pauc_loss, proto_nce_loss
from mmcontrast.models.selfsup.split_bn import split_bn_forward
from mmcontrast.registry import MODELS
from mmcontrast.utils.scope import build_in_scope

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = osp.join(ROOT, 'configs/selfsup')
# norm_eval=False as in every pretraining config (mmdet's ResNet freezes BN statistics by default)
BACKBONE = dict(type='ResNetCIFAR', depth=18, base_channels=4, out_indices=(3, ), zero_init_residual=False,
                norm_eval=False)
FEAT = 32


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmcontrast')


def mlp(in_c, out_c, **kw):
    return dict(type='NonLinearNeck', in_channels=in_c, hid_channels=16, out_channels=out_c, **kw)


def views(n=16, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


DIMCL = dict(type='DimCLLoss', temperature=0.1)
PRED = dict(type='LatentPredictHead', predictor=mlp(8, 8))


# ---------------------------------------------------------------------------------------------
# 1. DimCL on the online projector outputs of both views, both with gradient.
# ---------------------------------------------------------------------------------------------
def ours_loss_reference(z1, z2, tau=0.1):
    """The authors' loss written from their formula (solo/losses/oursloss.py L46-81): a BN without
    affine on each view, the D columns of both views as 2D vectors, NT-Xent with the same column
    of the other view as the positive and every other column (self excluded) as negatives."""
    bn = lambda z: (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)  # noqa: E731
    z = F.normalize(torch.cat([bn(z1).t(), bn(z2).t()]), dim=1)
    d = z1.shape[1]
    logits = z @ z.t() / tau
    logits = logits.masked_fill(torch.eye(2 * d, dtype=torch.bool), float('-inf'))
    pos = torch.cat([torch.arange(d, 2 * d), torch.arange(d)])
    return F.cross_entropy(logits, pos)


def test_dimcl_loss_equals_the_authors_formula():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(12, 6, generator=g), torch.randn(12, 6, generator=g)
    torch.testing.assert_close(dimcl_loss(z1, z2, temperature=0.1), ours_loss_reference(z1, z2))
    # on one process the per-rank standardisation (oursloss.py L102-108) is the same loss
    torch.testing.assert_close(dimcl_loss(z1, z2, temperature=0.1, norm_per_rank=True), ours_loss_reference(z1, z2))


def _capture_projections(model):
    """Record the online projector's outputs (with their graph) during a forward."""
    outs = []
    handle = model.neck.register_forward_hook(lambda mod, args, out: outs.append(out) if out.requires_grad else None)
    return outs, handle


@pytest.mark.parametrize('algo', ['byol', 'simsiam', 'mocov2'])
def test_dimcl_term_uses_both_online_projections_not_the_predictor(algo):
    """byol.py L156, L175: ours_loss_func_multigpu(Z[0], Z[1]) with Z = projector(feats);
    simsiam.py L145-146, L163: ours_loss_func(z1_ori, z2_ori); mocov2plus.py L183-184, L205:
    ours_loss_func(q1_ori, q2_ori) before the l2 normalisation. The old pairing (prediction,
    stop-gradient target) sent DimCL's gradient through the predictor and into one view only."""
    cfgs = dict(
        byol=dict(type='BYOL', backbone=BACKBONE, neck=mlp(FEAT, 8), head=PRED, dimcl=DIMCL),
        simsiam=dict(type='SimSiam', backbone=BACKBONE, neck=mlp(FEAT, 8), dimcl=DIMCL,
                     head=dict(type='LatentPredictHead', shift=0., scale=1., predictor=mlp(8, 8))),
        mocov2=dict(type='MoCo', backbone=BACKBONE, neck=mlp(FEAT, 8, with_bias=True, with_bn=False), queue_len=32,
                    feat_dim=8, bn_splits=1, shuffle_bn=False, dimcl=DIMCL))
    model = build(cfgs[algo])
    outs, handle = _capture_projections(model)
    v = views()
    losses = model.loss(v)
    handle.remove()
    assert len(outs) == 2, 'one online projection per view'
    z1, z2 = outs
    grads = torch.autograd.grad(losses['loss_dimcl'], [z1, z2] + list(model.head.parameters()) or [z1, z2],
                                allow_unused=True)
    assert grads[0] is not None and grads[0].abs().sum() > 0, 'no DimCL gradient on view 1 projection'
    assert grads[1] is not None and grads[1].abs().sum() > 0, 'no DimCL gradient on view 2 projection'
    assert all(g is None or g.abs().sum() == 0 for g in grads[2:]), 'DimCL gradient reached the predictor'
    # and the term is exactly DimCL of the two projections, weighted by lam
    torch.testing.assert_close(losses['loss_dimcl'], 0.1 * dimcl_loss(z1, z2, temperature=0.1))


def test_dimcl_configs_follow_the_authors_per_method():
    """BYOL gathers across GPUs after a per-GPU BN (byol.py L175, oursloss.py L102-111); MoCo v2+
    and SimSiam use the single-GPU loss (mocov2plus.py L205, simsiam.py L163)."""
    for name in ('cifar10', 'cifar100'):
        byol = Config.fromfile(osp.join(CONFIGS, f'dimcl/dimcl-byol_resnet18_8xb32-coslr-200e_{name}.py')).model
        assert byol.dimcl.gather_distributed and byol.dimcl.norm_per_rank and byol.dimcl_weight == 0.1
        moco = Config.fromfile(osp.join(CONFIGS, f'dimcl/dimcl-mocov2_resnet18_8xb32-coslr-200e_{name}.py')).model
        assert not moco.dimcl.get('gather_distributed', False) and moco.dimcl.temperature == 0.1


# ---------------------------------------------------------------------------------------------
# 2. ASCL: official ImageNet and CIFAR settings, official checkpoint layout.
# ---------------------------------------------------------------------------------------------
def test_ascl_imagenet_config_matches_builder():
    """ImageNet-1K/builder.py L14: K=65536, m=0.999, T1=0.1, T2=0.05; L24: nn_num = 1."""
    model = Config.fromfile(osp.join(CONFIGS, 'ascl/ascl_resnet50_8xb32-coslr-200e_in1k.py')).model
    assert (model.queue_len, model.momentum, model.feat_dim) == (65536, 0.999, 128)
    assert (model.head.t1, model.head.t2, model.head.num_neighbors) == (0.1, 0.05, 1)


def _official_lr(it, iters_per_epoch, base_lr=0.03, warm_up=5, epochs=200):
    """utils.py L6-18 (adjust_learning_rate), called every iteration (main.py L81)."""
    epoch, i = divmod(it, iters_per_epoch)
    t = epoch * iters_per_epoch + i
    if epoch < warm_up:
        return base_lr * t / (warm_up * iters_per_epoch)
    t -= warm_up * iters_per_epoch
    return 0.5 * base_lr * (1 + math.cos(t / ((epochs - warm_up) * iters_per_epoch) * math.pi))


@pytest.mark.parametrize('dataset', ['cifar10', 'cifar100'])
def test_ascl_cifar_configs_match_the_official_recipe(dataset):
    cfg = Config.fromfile(osp.join(CONFIGS, f'ascl/ascl_resnet18_8xb32-coslr-200e_{dataset}.py'))
    model = cfg.model
    # main.py L34 m 0.99, L36 mem_size 4096, L42-43 t1/t2; model.py L72-76 feat -> 2048 -> 128
    assert (model.queue_len, model.momentum, model.head.t1, model.head.t2) == (4096, 0.99, 0.1, 0.05)
    assert (model.neck.hid_channels, model.neck.out_channels, model.neck.with_bias) == (2048, 128, True)
    # main.py L22 lr 0.03, L33 wd 5e-4, L59 SGD momentum 0.9, L32 batch 256 (8 x 32 here)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay, opt.momentum) == ('SGD', 0.03, 5e-4, 0.9)
    assert cfg.train_dataloader.batch_size * 8 == 256 and cfg.train_cfg.max_epochs == 200
    # utils.py L6-18: 5 warm-up epochs, then cosine, both per iteration
    iters = 3
    opt_t = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=opt.lr)
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=opt_t, epoch_length=iters) if s.get('convert_to_iter_based') else
                               dict(s, optimizer=opt_t))
        for s in [{k: v for k, v in s.items() if k != 'convert_to_iter_based'} | dict(convert_to_iter_based=True)
                  for s in cfg.param_scheduler]
    ]
    for it in range(200 * iters):
        ours = opt_t.param_groups[0]['lr']
        if it >= 5 * iters:  # the cosine: identical at every iteration
            assert ours == pytest.approx(_official_lr(it, iters), rel=1e-6, abs=1e-9), it
        else:  # mmengine's LinearLR ends one iteration early: between the official t and t + 1
            assert _official_lr(it, iters) - 1e-7 <= ours <= _official_lr(it + 1, iters) + 1e-7, it
        for s in schedulers:
            s.step()
    # dataloader.py L237-245: the strong (query) view has blur p 0.5, sigma (0.1, 2); L268-273 weak
    weak, strong = cfg.train_dataloader.dataset.pipeline[0].transforms
    blur = [t for t in strong if t.type == 'RandomApply' and t.transforms[0].type == 'GaussianBlur']
    assert len(blur) == 1 and blur[0].prob == 0.5
    assert (blur[0].transforms[0].sigma_min, blur[0].transforms[0].sigma_max) == (0.1, 2.0)
    assert [t.type for t in weak] == ['RandomResizedCrop', 'RandomFlip']
    assert model.query_view == 1 if 'query_view' in model else True  # ASCL class: query = strong view 1


def _official_ascl_cifar_state_dict(queue_len=4096, dim=128):
    """model.py L40-121 state-dict layout: encoder_{q,k}.net.<i> (torchvision children without max-pool,
    L57-69), encoder_{q,k}.projector.{0,2} (L72-76), queue [dim, K] (L118-119), labels [K] (L120),
    queue_ptr (L121); main.py L146-148 save model.state_dict()."""
    ref = MODELS.build(dict(BACKBONE, base_channels=64))
    order = ['conv1', 'bn1', 'relu', 'layer1', 'layer2', 'layer3', 'layer4']
    g = torch.Generator().manual_seed(0)
    sd = {}
    for enc in ('encoder_q', 'encoder_k'):
        for k, v in ref.state_dict().items():
            head, _, rest = k.partition('.')
            sd[f'{enc}.net.{order.index(head)}.{rest}'] = (torch.randn(v.shape, generator=g)
                                                          if v.is_floating_point() else v.clone())
        sd[f'{enc}.projector.0.weight'] = torch.randn(2048, 512, generator=g)
        sd[f'{enc}.projector.0.bias'] = torch.randn(2048, generator=g)
        sd[f'{enc}.projector.2.weight'] = torch.randn(dim, 2048, generator=g)
        sd[f'{enc}.projector.2.bias'] = torch.randn(dim, generator=g)
    sd['queue'] = F.normalize(torch.randn(dim, queue_len, generator=g), dim=0)
    sd['labels'] = -torch.ones(queue_len, dtype=torch.long)
    sd['queue_ptr'] = torch.zeros(1, dtype=torch.long)
    return sd


def _tool(name):
    import importlib.util
    path = osp.join(ROOT, 'tools', 'model_converters', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_parity_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_official_ascl_cifar_checkpoint_loads_into_our_config():
    sd = _official_ascl_cifar_state_dict()
    converted, dropped = _tool('moco_to_mmcontrast').convert_moco(sd)
    assert dropped == ['labels']  # ASCL's label bookkeeping of the queue (kNN-free debugging only)
    cfg = Config.fromfile(osp.join(CONFIGS, 'ascl/ascl_resnet18_8xb32-coslr-200e_cifar10.py'))
    model = build_in_scope(cfg.model)
    result = model.load_state_dict(converted, strict=False)
    assert result.unexpected_keys == [] and result.missing_keys == ['momentum_encoder.steps']
    torch.testing.assert_close(model.queue, sd['queue'].t())
    torch.testing.assert_close(model.backbone.layer3[1].conv2.weight, sd['encoder_q.net.5.1.conv2.weight'])
    torch.testing.assert_close(model.momentum_encoder.module.neck.mlp[2].bias, sd['encoder_k.projector.2.bias'])


def test_official_ascl_imagenet_layout_matches_our_config():
    """builder.py L30-36 (torchvision ResNet-50 with fc = Linear-ReLU-Linear), L43-47 (queue
    [128, 65536], labels, queue_ptr), saved by MoCo's main_moco.py under DDP ('module.')."""
    cfg = Config.fromfile(osp.join(CONFIGS, 'ascl/ascl_resnet50_8xb32-coslr-200e_in1k.py'))
    with torch.device('meta'):
        model = build_in_scope(cfg.model)
    ours = model.state_dict()
    sd = {}
    for enc, pre in (('encoder_q', 'backbone.'), ('encoder_k', 'momentum_encoder.module.backbone.')):
        for k, v in ours.items():
            if k.startswith(pre):
                sd[f'module.{enc}.{k[len(pre):]}'] = torch.empty(v.shape, dtype=v.dtype)
        sd[f'module.{enc}.fc.0.weight'] = torch.empty(2048, 2048)
        sd[f'module.{enc}.fc.0.bias'] = torch.empty(2048)
        sd[f'module.{enc}.fc.2.weight'] = torch.empty(128, 2048)
        sd[f'module.{enc}.fc.2.bias'] = torch.empty(128)
    sd.update({'module.queue': torch.empty(128, 65536), 'module.labels': torch.empty(65536, dtype=torch.long),
               'module.queue_ptr': torch.zeros(1, dtype=torch.long)})
    converted, dropped = _tool('moco_to_mmcontrast').convert_moco(sd)
    assert dropped == ['labels']
    missing, unexpected, mismatched = compare_state_dicts(converted, ours)
    assert (missing, unexpected, mismatched) == (['momentum_encoder.steps'], [], [])


# ---------------------------------------------------------------------------------------------
# 3. Shuffling BN on one process: SplitBatchNorm with 8 splits by default.
# ---------------------------------------------------------------------------------------------
MOCO = dict(type='MoCo', backbone=BACKBONE, neck=mlp(FEAT, 8, with_bias=True, with_bn=False), queue_len=32,
            feat_dim=8)


def test_moco_splits_bn_into_8_groups_on_one_process():
    """model.py L48 (bn_splits=8) and L147-164 (single-GPU key shuffle): the key of a sample is
    normalised with its BN group only, so changing one image changes the keys of its group (4 of
    32 samples here) and no other; one BN over the whole batch would change all 32."""
    model = build(MOCO)
    assert model.num_bn_splits(32) == 8 and model.num_bn_splits(256) == 8
    with pytest.warns(UserWarning, match='groups instead of 8'):  # two samples per group at least
        assert model.num_bn_splits(12) == 4 and model.num_bn_splits(8) == 4
    assert build(dict(MOCO, shuffle_bn=False)).num_bn_splits(32) == 1  # SyncBN users opt out
    v = views(n=32)[0]
    torch.manual_seed(1)
    k = model.momentum_forward(v)
    v2 = v.clone()
    v2[3] = torch.randn(v2[3].shape, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(1)  # the same shuffle
    k2 = model.momentum_forward(v2)
    changed = ((k - k2).abs().sum(1) > 1e-6).sum().item()
    assert changed == 4
    # without splitting, every key moves
    model.bn_splits = 1
    with pytest.warns(UserWarning, match='leak'):
        torch.manual_seed(1)
        k = model.momentum_forward(v)
    torch.manual_seed(1)
    k2 = model.momentum_forward(v2)
    assert ((k - k2).abs().sum(1) > 1e-6).sum().item() == 32


def test_split_bn_running_statistics_match_split_batchnorm():
    """model.py L17-25: each group normalised with its own statistics; the running statistics take
    one update with the mean of the groups' updates."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.1), nn.ReLU())
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    r_mean, r_var = net[1].running_mean.clone(), net[1].running_var.clone()
    x = torch.randn(16, 3, 8, 8)
    out = split_bn_forward(net, x, 4)
    feats = net[0](x)
    expect_out, means, vars_ = [], [], []
    for chunk in feats.chunk(4):
        expect_out.append(F.relu(F.batch_norm(chunk, None, None, net[1].weight, net[1].bias, True, 0.0, net[1].eps)))
        means.append(chunk.mean((0, 2, 3)))
        vars_.append(chunk.var((0, 2, 3), unbiased=True))
    torch.testing.assert_close(out, torch.cat(expect_out))
    torch.testing.assert_close(net[1].running_mean, 0.9 * r_mean + 0.1 * torch.stack(means).mean(0))
    torch.testing.assert_close(net[1].running_var, 0.9 * r_var + 0.1 * torch.stack(vars_).mean(0))
    assert int(net[1].num_batches_tracked) == 1
    out.sum().backward()  # the graph survives the statistics bookkeeping
    assert net[0].weight.grad is not None


# ---------------------------------------------------------------------------------------------
# 4. The momentum encoder keeps its own BN statistics.
# ---------------------------------------------------------------------------------------------
def _bn(module):
    return next(m for m in module.modules() if isinstance(m, nn.BatchNorm2d))


@pytest.mark.parametrize('algo', ['mocov2', 'byol'])
def test_momentum_encoder_keeps_its_own_bn_statistics(algo):
    """moco/builder.py L44-50: the key encoder's update touches parameters only; its BN layers run
    on the keys (L135). PCL's clustering embeds with encoder_k in eval mode (main_pcl.py L392-400,
    pcl/builder.py L127-130), i.e. with those statistics."""
    if algo == 'mocov2':
        model = build(dict(MOCO, momentum=0.9))
        momentum = model.momentum_encoder
    else:
        model = build(dict(type='BYOL', backbone=BACKBONE, neck=mlp(FEAT, 8), head=PRED))
        momentum = model.target_net
    v = views()
    model.loss(v)  # first update: an exact copy, buffers included
    online_bn, key_bn = _bn(model.backbone), _bn(momentum.module.backbone)
    for _ in range(2):
        before_key = key_bn.running_mean.clone()
        model.loss(views(seed=len(before_key)))
    assert not torch.allclose(online_bn.running_mean, key_bn.running_mean), 'buffers were copied from online'
    assert not torch.allclose(before_key, key_bn.running_mean), 'the momentum BN statistics did not move'
    # parameters still follow the online encoder (L50): k <- m k + (1 - m) q
    with torch.no_grad():
        model.backbone.conv1.weight.add_(1.0)
    key_before = momentum.module.backbone.conv1.weight.clone()
    model.loss(v)
    m = 1 - momentum.momentum if algo == 'mocov2' else 1 - momentum.current_momentum()
    torch.testing.assert_close(momentum.module.backbone.conv1.weight,
                               m * key_before + (1 - m) * model.backbone.conv1.weight)
    # the clustering hook embeds with the momentum encoder in eval mode: its own statistics matter
    if algo == 'mocov2':
        momentum.eval()
        with torch.no_grad():
            own = momentum(v[0])
            key_bn_stats = (key_bn.running_mean.clone(), key_bn.running_var.clone())
            key_bn.running_mean.copy_(online_bn.running_mean)
            key_bn.running_var.copy_(online_bn.running_var)
            copied = momentum(v[0])
            key_bn.running_mean.copy_(key_bn_stats[0])
            key_bn.running_var.copy_(key_bn_stats[1])
        assert not torch.allclose(own, copied)


def test_momentum_encoder_first_update_copies_a_late_initialisation():
    """The online weights may be loaded after the copy was made (load_from, init_weights): the first
    update copies parameters and buffers, as MoCo's L34-35 copy at construction."""
    model = build(MOCO)
    with torch.no_grad():
        model.backbone.conv1.weight.add_(1.0)
        _bn(model.backbone).running_mean.fill_(3.0)
    model.momentum_encoder.update_parameters(nn.ModuleDict(dict(backbone=model.backbone, neck=model.neck)))
    torch.testing.assert_close(model.momentum_encoder.module.backbone.conv1.weight, model.backbone.conv1.weight)
    assert (_bn(model.momentum_encoder.module.backbone).running_mean == 3.0).all()


# ---------------------------------------------------------------------------------------------
# 5. LARS with BN and bias excluded; BYOL's 10 warm-up epochs; SimSiam's fixed predictor lr.
# ---------------------------------------------------------------------------------------------
def test_lars_step_excludes_bias_and_bn_from_adaptation_and_decay():
    """mmpretrain engine/optimizers/lars.py L102-115 (trust ratio eta * |w| / (|g| + wd |w|),
    excluded groups step with local lr 1 and, through decay_mult=0, no weight decay; on the first
    step the momentum buffer equals the update, so both conventions agree)."""
    torch.manual_seed(0)
    lin, bn = nn.Linear(4, 3), nn.BatchNorm1d(3)
    params = [lin.weight, lin.bias, bn.weight, bn.bias]
    for p in params:
        p.grad = torch.randn_like(p)
    before = [p.detach().clone() for p in params]
    grads = [p.grad.clone() for p in params]
    lr, wd, eta = 0.5, 1e-2, 1e-3
    LARS(params, lr=lr, momentum=0.9, weight_decay=wd, eta=eta).step()
    w, g = before[0], grads[0]
    trust = eta * w.norm() / (g.norm() + wd * w.norm() + 1e-8)
    torch.testing.assert_close(lin.weight, w - lr * trust * (g + wd * w))
    for p, b, gr in zip(params[1:], before[1:], grads[1:]):  # 1-D: plain SGD step, no decay
        torch.testing.assert_close(p, b - lr * gr)
    # mmpretrain's group flag (custom_keys={'bn': dict(decay_mult=0, lars_exclude=True)}) also works
    x = nn.Parameter(torch.ones(2, 2))
    x.grad = torch.ones(2, 2)
    LARS([dict(params=[x], lars_exclude=True, weight_decay=0.)], lr=0.1, momentum=0.).step()
    torch.testing.assert_close(x.detach(), torch.full((2, 2), 0.9))


def test_lars_is_registered_and_byol_configs_use_it_with_warmup():
    """BYOL (Grill et al. 2020, App. C) and mmpretrain configs/byol/byol_resnet50_16xb256-coslr-200e_in1k.py
    L42-52 with configs/_base_/schedules/imagenet_lars_coslr_200e.py L7-17: LARS, 10 warm-up epochs."""
    from mmengine.registry import OPTIMIZERS
    assert OPTIMIZERS.get('mmcontrast.LARS') is LARS
    for name in ('byol_resnet50_16xb256-coslr-300e_in1k', 'byol_resnet18_8xb32-coslr-200e_cifar10',
                 'byol_resnet18_8xb32-coslr-400e_in100'):
        cfg = Config.fromfile(osp.join(CONFIGS, f'byol/{name}.py'))
        opt = cfg.optim_wrapper.optimizer
        assert opt.type == 'LARS' and opt.exclude_bias_and_norm
        warm, cos = cfg.param_scheduler
        assert (warm.type, warm.begin, warm.end, warm.convert_to_iter_based) == ('LinearLR', 0, 10, True)
        assert (cos.type, cos.begin, cos.end) == ('CosineAnnealingLR', 10, cfg.train_cfg.max_epochs)
    in1k = Config.fromfile(osp.join(CONFIGS, 'byol/byol_resnet50_16xb256-coslr-300e_in1k.py'))
    # lr 0.2 x 4096 / 256, weight decay 1.5e-6, trust coefficient 1e-3 (the paper)
    assert (in1k.optim_wrapper.optimizer.lr, in1k.optim_wrapper.optimizer.weight_decay) == (3.2, 1.5e-6)
    assert in1k.train_dataloader.batch_size * 16 == 4096
    # the LARS config builds an optimizer in which BN weights and biases are excluded
    model = MODELS.build(dict(type='BYOL', backbone=BACKBONE, neck=mlp(FEAT, 8), head=PRED))
    wrapper = build_optim_wrapper(model, dict(in1k.optim_wrapper))
    optimizer = wrapper.optimizer
    excluded = {id(p) for group in optimizer.param_groups for p in group['params'] if LARS.excluded(p, group)}
    bn_params = {id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                 for p in m.parameters()}
    biases = {id(p) for n, p in model.named_parameters() if n.endswith('.bias')}
    assert bn_params | biases == excluded


def test_simsiam_predictor_lr_stays_fixed():
    """main_simsiam.py L193-195 (the predictor in a fix_lr group) and L359-366 (every schedule step
    sets fix_lr groups to init_lr, the others to the cosine)."""
    cfg = Config.fromfile(osp.join(CONFIGS, 'simsiam/simsiam_resnet50_8xb64-coslr-100e_in1k.py'))
    assert [h.type for h in cfg.custom_hooks][-1] == 'FixedLRHook'
    model = MODELS.build(dict(type='SimSiam', backbone=BACKBONE, neck=mlp(FEAT, 8),
                              head=dict(type='LatentPredictHead', shift=0., scale=1., predictor=mlp(8, 8))))
    wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper))
    scheduler = PARAM_SCHEDULERS.build(dict(cfg.param_scheduler[0], optimizer=wrapper.optimizer))
    runner = SimpleNamespace(optim_wrapper=wrapper)
    hook = FixedLRHook()
    hook.before_train(runner)
    predictor = {id(p) for p in model.head.predictor.parameters()}
    init_lr = cfg.optim_wrapper.optimizer.lr
    for epoch in range(100):
        hook.before_train_iter(runner, 0)
        cur = init_lr * 0.5 * (1. + math.cos(math.pi * epoch / 100))
        for group in wrapper.optimizer.param_groups:
            fixed = id(group['params'][0]) in predictor
            assert group['lr'] == pytest.approx(init_lr if fixed else cur), (epoch, fixed)
        scheduler.step()
    with pytest.raises(ValueError, match='no param group with fix_lr'):
        FixedLRHook().before_train(SimpleNamespace(optim_wrapper=build_optim_wrapper(
            model, dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))))


# ---------------------------------------------------------------------------------------------
# 6. PAUC: every shipped correlation term is satisfiable at its batch size.
# ---------------------------------------------------------------------------------------------
def _expected_occupied(num_clusters, batch):
    """Expected number of distinct clusters among ``batch`` samples drawn uniformly."""
    return num_clusters * (1 - (1 - 1 / num_clusters)**batch)


def test_shipped_pauc_configs_have_satisfiable_correlation_terms():
    import glob
    import re
    paths = sorted(glob.glob(osp.join(CONFIGS, 'pauc/*.py')))
    assert len(paths) == 6  # CIFAR-10/100, IN-100, IN-1k, toy textures, toy world
    for path in paths:
        cfg = Config.fromfile(path)
        head = cfg.model.head
        if head.get('corr_weight', 1.0) == 0:
            continue
        gpus, batch = map(int, re.search(r'_(\d+)xb(\d+)-', osp.basename(path)).groups())
        dims = cfg.model.feat_dim
        hook = [h for h in cfg.custom_hooks if h.type == 'PrototypeClusteringHook'][0]
        rows = gpus * batch if head.get('gather_distributed', False) else batch
        if head.get('corr_form', 'dimension') == 'dimension':
            # D x D correlation over the occupied prototypes: full rank needs more than D of them
            assert rows > dims, osp.basename(path)
            assert _expected_occupied(min(hook.num_clusters), rows) > 1.5 * dims, osp.basename(path)
        else:
            # n x n correlation between prototypes: reachable while n < D
            assert rows < dims, osp.basename(path)


def test_pauc_prototype_form_reaches_zero_and_dimension_form_warns():
    d, n = 16, 6
    q = torch.eye(d)[:n] * 3  # orthogonal embeddings, one per prototype
    protos = [F.normalize(torch.eye(d)[:n], dim=1)]
    assign = [torch.arange(n)]
    conc = [torch.full((n, ), 0.2)]
    k, queue = q.clone(), F.normalize(torch.randn(8, d), dim=1)
    kw = dict(align_weight=0., uniform_weight=0., num_neg_prototypes=0)
    base = proto_nce_loss(q, k, queue, protos, assign, conc, num_neg_prototypes=0)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # satisfiable: no warning
        proto = pauc_loss(q, k, queue, protos, assign, conc, corr_form='prototype', **kw)
    # standardised one-hot rows are not exactly uncorrelated (-1/(D-1) each), but far below the
    # dimension form's floor D / (n - 1) - 1
    assert float(proto - base) < 0.1
    # the D x D form over n <= D prototypes: rank < D, floor D / (n - 1) - 1 (random embeddings, so
    # that every dimension varies over the prototypes)
    q_rand = torch.randn(n, d, generator=torch.Generator().manual_seed(0))
    base = proto_nce_loss(q_rand, q_rand, queue, protos, assign, conc, num_neg_prototypes=0)
    with pytest.warns(UserWarning, match='rank < D'):
        dim = pauc_loss(q_rand, q_rand, queue, protos, assign, conc, corr_form='dimension', **kw)
    assert float(dim - base) >= d / (n - 1) - 1 - 1e-3
    with pytest.raises(ValueError, match='corr_form'):
        pauc_loss(q, k, queue, protos, assign, conc, corr_form='both')


# ---------------------------------------------------------------------------------------------
# Gathering across ranks (2-process gloo): DimCL's per-rank BN, PAUC's global prototype terms.
# ---------------------------------------------------------------------------------------------
WORLD_SIZE = 2


def _dist_inputs():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(12, 5, generator=g, dtype=torch.float64), torch.randn(12, 5, generator=g,
                                                                               dtype=torch.float64)
    q = torch.randn(12, 8, generator=g, dtype=torch.float64)
    protos = [F.normalize(torch.randn(6, 8, generator=g, dtype=torch.float64), dim=1)]
    assign = [torch.tensor([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5])]
    conc = [torch.full((6, ), 0.2, dtype=torch.float64)]
    queue = F.normalize(torch.randn(10, 8, generator=g, dtype=torch.float64), dim=1)
    return z1, z2, q, protos, assign, conc, queue


def _pauc_extra(q, protos, assign, conc, queue, **kw):
    """PAUC minus its ProtoNCE part: alignment + uniformity + correlation."""
    return (pauc_loss(q, q.detach(), queue, protos, assign, conc, num_neg_prototypes=0, **kw) -
            proto_nce_loss(q, q.detach(), queue, protos, assign, conc, num_neg_prototypes=0))


def _dist_worker(rank, init_file, out_dir):
    import os

    import torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=WORLD_SIZE)
    z1, z2, q, protos, assign, conc, queue = _dist_inputs()
    res = {}
    a = z1.chunk(WORLD_SIZE)[rank].clone().requires_grad_()
    b = z2.chunk(WORLD_SIZE)[rank].clone().requires_grad_()
    loss = dimcl_loss(a, b, temperature=0.2, gather_distributed=True, norm_per_rank=True)
    loss.backward()
    res['dimcl'] = (loss.detach(), a.grad)
    qr = q.chunk(WORLD_SIZE)[rank].clone().requires_grad_()
    extra = _pauc_extra(qr, protos, [assign[0].chunk(WORLD_SIZE)[rank]], conc, queue, gather_distributed=True)
    extra.backward()
    res['pauc'] = (extra.detach(), qr.grad)
    torch.save(res, os.path.join(out_dir, f'rank{rank}.pt'))
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.dist
def test_gathered_dimcl_and_pauc_terms(tmp_path):
    """oursloss.py L102-111: BN per GPU, then gather; PAUC's prototype-level terms over all ranks.
    Mean over ranks = the single-process value over the batch; per-rank gradient = world_size x the
    single-process gradient of the rank's chunk (DDP's averaging undoes the factor)."""
    import time

    import torch.multiprocessing as mp
    ctx = mp.start_processes(_dist_worker, args=(str(tmp_path / 'store'), str(tmp_path)), nprocs=WORLD_SIZE,
                             join=False, start_method='fork')
    deadline = time.time() + 120
    while not ctx.join(timeout=5):
        if time.time() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail('gloo workers did not finish in 120 s')
    per_rank = [torch.load(tmp_path / f'rank{r}.pt') for r in range(WORLD_SIZE)]
    z1, z2, q, protos, assign, conc, queue = _dist_inputs()
    # DimCL: the authors standardise each GPU's batch, then contrast the gathered columns
    bn = lambda z: torch.cat([F.batch_norm(c, None, None, training=True, eps=1e-5) for c in z.chunk(WORLD_SIZE)])  # noqa
    a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
    ref = ours_loss_reference(bn(a), bn(b), tau=0.2)
    grads = torch.autograd.grad(ref, [a])[0]
    mean = sum(r['dimcl'][0] for r in per_rank) / WORLD_SIZE
    torch.testing.assert_close(mean, ref.detach(), rtol=1e-4, atol=1e-6)
    for rank in range(WORLD_SIZE):
        torch.testing.assert_close(per_rank[rank]['dimcl'][1], WORLD_SIZE * grads.chunk(WORLD_SIZE)[rank],
                                   rtol=1e-3, atol=1e-6)
    # PAUC: single process over the concatenated batch
    full = q.clone().requires_grad_()
    ref = _pauc_extra(full, protos, assign, conc, queue)
    grad = torch.autograd.grad(ref, full)[0]
    torch.testing.assert_close(sum(r['pauc'][0] for r in per_rank) / WORLD_SIZE, ref.detach())
    for rank in range(WORLD_SIZE):
        torch.testing.assert_close(per_rank[rank]['pauc'][1], WORLD_SIZE * grad.chunk(WORLD_SIZE)[rank])
