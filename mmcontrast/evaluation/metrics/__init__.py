from .accuracy import Accuracy
from .knn import knn_classify
from .subset_iou_metric import SubsetIoUMetric  # noqa: F401
