"""Model utilities shared across the package."""
from .taps import InjectionConfigError, Source, TapRecorder, resolve_module

__all__ = ['InjectionConfigError', 'Source', 'TapRecorder', 'resolve_module']
