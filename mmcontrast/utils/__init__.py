from .checkpoint import checkpoint_safe_globals, register_checkpoint_safe_globals
from .class_ranking import ClassRanking, ClassRankingError, load_class_ranking
from .distributed import (
                          check_same_shape_on_all_ranks,
                          gather_no_grad,
                          gather_with_grad,
                          get_dist_info,
                          setup_cpu_distributed,
)
from .file_lock import exclusive_lock
from .rng import get_rng_state, set_rng_state
from .setup_env import register_all_modules

__all__ = [
    'checkpoint_safe_globals', 'register_checkpoint_safe_globals', 'register_all_modules',
    'setup_cpu_distributed', 'gather_with_grad', 'gather_no_grad', 'get_dist_info',
    'ClassRanking', 'ClassRankingError', 'load_class_ranking', 'check_same_shape_on_all_ranks', 'exclusive_lock',
    'get_rng_state', 'set_rng_state'
]
