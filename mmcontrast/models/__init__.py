# Importing the subpackages registers their modules into mmcontrast.registry.MODELS.
from . import backbones, classifiers, heads, injection, losses, necks, selfsup, uda, utils  # noqa: F401
