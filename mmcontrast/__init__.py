"""mmcontrast: contrastive learning for UDA detection/segmentation and pretraining."""
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from packaging.version import Version

from .version import __version__, version_info

# (distribution, minimum inclusive, maximum exclusive, fix)
_REQUIREMENTS = (
    ('torch', '2.0.0', None, 'pip install torch==2.13.0'),
    ('mmengine', '0.10.0', '1.0.0', 'pip install mmengine==0.10.7'),
    ('mmcv', '2.0.0', '2.2.0', 'bash tools/setup_env.sh (installs mmcv 2.1.0 with compiled ops)'),
    ('mmdet', '3.2.0', '3.4.0', 'pip install mmdet==3.3.0'),
    ('mmsegmentation', '1.2.0', '1.3.0', 'pip install mmsegmentation==1.2.2'),
)


def _check_versions() -> None:
    for dist, low, high, fix in _REQUIREMENTS:
        try:
            found = Version(_dist_version(dist).split('+')[0])
        except PackageNotFoundError:
            raise ImportError(f'mmcontrast needs {dist}, which is not installed. Fix: {fix}') from None
        if found < Version(low) or (high is not None and found >= Version(high)):
            wanted = f'>={low}' + (f',<{high}' if high else '')
            raise ImportError(f'mmcontrast {__version__} needs {dist}{wanted}, found {found}. Fix: {fix}')


_check_versions()

from .utils.checkpoint import register_checkpoint_safe_globals  # noqa: E402

register_checkpoint_safe_globals()

__all__ = ['__version__', 'version_info']
