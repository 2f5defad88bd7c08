
from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .knn_hook import KNNMonitorHook, collect_features  # noqa: F401
from .loss_weight_warmup_hook import LossWeightWarmupHook  # noqa: F401
from .prototype_clustering_hook import PrototypeClusteringHook, kmeans  # noqa: F401
from .pseudo_label_vis_hook import PseudoLabelVisualizationHook  # noqa: F401
from .rng_state_hook import RNGStateHook  # noqa: F401
