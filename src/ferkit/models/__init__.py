"""Model registry: ``ferkit.models.create(name, num_classes=7, **cfg)``, ``list_models()``."""

from ferkit.models import resnet, vgg, xception  # noqa: F401  (registers the models)
from ferkit.models.registry import count_parameters, create, list_models, model_entry, register_model

__all__ = ["count_parameters", "create", "list_models", "model_entry", "register_model"]
