from .contrastive_injector import ContrastiveInjector, InjectedTerm
from .projector import ProjectionMLP
from .sources import InjectionConfigError, Source, TapRecorder

__all__ = ['ContrastiveInjector', 'InjectedTerm', 'InjectionConfigError', 'ProjectionMLP', 'Source', 'TapRecorder']
