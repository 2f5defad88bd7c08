from .log_processor import ReadableLogProcessor
from .uda_val_loop import LabelledTeacherStudentValLoop

__all__ = ['LabelledTeacherStudentValLoop', 'ReadableLogProcessor']
