from .gap import GlobalAveragePooling
from .nonlinear_neck import NonLinearNeck
