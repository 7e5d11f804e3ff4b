"""The bottom layer every other part of ferkit builds on: emotion labels and sentiment maps, errors,
option checks, reading and converting images, video frame sources, and the model's preprocessing.

Modules are imported one by one (``from ferkit.core.labels import EMOTIONS``); this package imports
nothing itself, so that importing one helper never loads OpenCV, PyAV or ONNX Runtime."""
