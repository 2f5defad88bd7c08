import pytest

import mmcontrast


def _fake_versions(monkeypatch, **versions):
    real = mmcontrast._dist_version

    def fake(dist):
        if dist in versions:
            if versions[dist] is None:
                raise mmcontrast.PackageNotFoundError(dist)
            return versions[dist]
        return real(dist)

    monkeypatch.setattr(mmcontrast, '_dist_version', fake)


def test_installed_stack_passes(monkeypatch):
    from packaging.version import Version
    real, queried = mmcontrast._dist_version, []

    def spy(dist):
        queried.append(dist)
        return real(dist)

    monkeypatch.setattr(mmcontrast, '_dist_version', spy)
    mmcontrast._check_versions()
    # every pinned package was looked up, and the installed ones lie in the declared ranges
    assert queried == [dist for dist, *_ in mmcontrast._REQUIREMENTS]
    assert {'torch', 'mmengine', 'mmcv', 'mmdet', 'mmsegmentation'} <= set(queried)
    for dist, low, high, _ in mmcontrast._REQUIREMENTS:
        found = Version(real(dist).split('+')[0])
        assert found >= Version(low) and (high is None or found < Version(high)), (dist, found)
    assert mmcontrast.__version__ == '.'.join(map(str, mmcontrast.version_info[:3]))


@pytest.mark.parametrize('dist,version,fix', [
    ('mmcv', '2.2.0', 'tools/setup_env.sh'),
    ('mmcv', '1.7.1', 'tools/setup_env.sh'),
    ('mmengine', '0.9.0', 'mmengine==0.10.7'),
    ('mmsegmentation', '1.3.0', 'mmsegmentation==1.2.2'),
])
def test_wrong_version_names_the_fix(monkeypatch, dist, version, fix):
    _fake_versions(monkeypatch, **{dist: version})
    with pytest.raises(ImportError, match=f'needs {dist}.*found {version}.*Fix: .*{fix}'):
        mmcontrast._check_versions()


def test_missing_package_names_the_fix(monkeypatch):
    _fake_versions(monkeypatch, mmdet=None)
    with pytest.raises(ImportError, match='needs mmdet, which is not installed. Fix: pip install mmdet==3.3.0'):
        mmcontrast._check_versions()
