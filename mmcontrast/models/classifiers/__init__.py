from .image_classifier import ImageClassifier
