"""Training: config, augmentation and the training loop."""

from ferkit.train.augment import AugmentConfig, augment_batch
from ferkit.train.config import TrainConfig, load_config, run_config
from ferkit.train.trainer import Trainer, TrainResult, train

__all__ = ["AugmentConfig", "TrainConfig", "TrainResult", "Trainer", "augment_batch", "load_config", "run_config",
           "train"]
