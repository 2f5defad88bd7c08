import importlib


def register_all_modules() -> None:
    """Import every mmcontrast module that registers into a registry.

    The scoped lookup (``type='mmcontrast.X'``) does this lazily through the
    registries' ``locations``; call this when building from ``mmcontrast.registry``
    directly or to list everything that is registered.
    """
    for name in ('models', 'datasets', 'engine', 'evaluation', 'visualization'):
        importlib.import_module(f'mmcontrast.{name}')
