"""TapRecorder: recording, ambiguity errors and removal of its hooks."""
import pytest
import torch
from torch import nn

from mmcontrast.models.injection.sources import InjectionConfigError as ReExportedError
from mmcontrast.models.injection.sources import Source as ReExportedSource
from mmcontrast.models.utils import InjectionConfigError, Source, TapRecorder, resolve_module


class _Net(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.act = nn.ReLU()

    def double(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double(self.act(self.act(self.fc(x))))


def test_reexports_are_the_same_objects():
    assert ReExportedSource is Source and ReExportedError is InjectionConfigError
    assert resolve_module(_Net(), 'fc', 'fc') is not None


def test_records_only_inside_recording_and_remove_restores_the_model():
    net, x = _Net(), torch.randn(2, 4)
    outer = nn.Sequential(net)  # a ':return' tap needs '<owner path>.<method>'
    fc_in, fc_out, ret = Source.parse('0.fc:input'), Source.parse('0.fc'), Source.parse('0.double:return')
    rec = TapRecorder(outer, [fc_in, fc_out, ret])
    net(x)
    assert rec.values == {}
    with rec.recording():
        y = outer(x)
    assert torch.equal(rec.get(fc_in), x)
    assert torch.equal(rec.get(fc_out), net.fc(x))
    assert torch.equal(rec.get(ret), y)
    assert 'double' in vars(net)
    rec.remove()
    rec.remove()  # idempotent
    assert 'double' not in vars(net) and not net.fc._forward_hooks
    with pytest.raises(RuntimeError, match='after remove'):
        with rec.recording():
            pass


def test_a_module_that_runs_twice_gives_a_clear_error():
    net = _Net()
    src = Source.parse('act')
    rec = TapRecorder(net, [src])
    with rec.recording():
        net(torch.randn(2, 4))
    with pytest.raises(InjectionConfigError, match=r"'act' ran 2 times inside one TapRecorder.recording\(\)"):
        rec.get(src)
    with pytest.raises(InjectionConfigError, match='recorded nothing'):
        rec.get(Source.parse('fc'))


def test_data_sources_and_keyword_only_inputs_are_explained():
    net = _Net()
    with pytest.raises(InjectionConfigError, match='data-sample field'):
        TapRecorder(net, [Source.parse('data:gt_label')])
    src = Source.parse('fc:input')
    rec = TapRecorder(net, [src])
    with rec.recording():
        net.fc(input=torch.randn(1, 4))
    with pytest.raises(InjectionConfigError, match='keyword arguments only'):
        rec.get(src)
