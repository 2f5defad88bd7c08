"""Teacher and student validation whose per-class tables say which model they belong to."""
from mmdet.engine.runner import TeacherStudentValLoop
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmcontrast.registry import LOOPS

_TITLES = dict(teacher='teacher (EMA of the student)', student='student (the trained network)')


@LOOPS.register_module()
class LabelledTeacherStudentValLoop(TeacherStudentValLoop):
    """mmdet's ``TeacherStudentValLoop`` with a title line before each model's evaluation.

    The metrics (mmseg's ``IoUMetric``, mmdet's ``CocoMetric``) print their per-class tables
    without saying which model was evaluated; here each table follows a line such as
    ``---- per-class results of the teacher (EMA of the student) on CityscapesDataset ----``.
    Metric names stay ``teacher/<metric>`` and ``student/<metric>``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        evaluate = self.evaluator.evaluate
        dataset = type(self.dataloader.dataset).__name__

        def labelled_evaluate(size: int) -> dict:
            model = self.runner.model.module if is_model_wrapper(self.runner.model) else self.runner.model
            which = model.semi_test_cfg.get('predict_on', '?')
            print_log(f'---- per-class results of the {_TITLES.get(which, which)} on {dataset} ----',
                      logger='current')
            return evaluate(size)

        self.evaluator.evaluate = labelled_evaluate
