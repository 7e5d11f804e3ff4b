"""Model registry: ``ferkit.models.create(name, num_classes=7, **cfg)``, ``list_models()``.

Every registered model follows one contract (:class:`~ferkit.models.base.FerModel`): ``forward_features``,
``forward_head``, ``reset_classifier(num_classes)``, ``get_classifier()`` and ``num_classes``."""

from ferkit.models import dan, mobilenet, regions, resnet, vgg, xception  # noqa: F401  (registers the models)
from ferkit.models.base import FerModel
from ferkit.models.registry import (
    check_model_cfg,
    count_macs,
    count_parameters,
    create,
    list_models,
    measure_faces_per_second,
    model_entry,
    register_model,
)

__all__ = ["FerModel", "check_model_cfg", "count_macs", "count_parameters", "create", "list_models",
           "measure_faces_per_second", "model_entry", "register_model"]
