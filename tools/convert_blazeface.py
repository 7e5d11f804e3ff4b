"""Rebuild ``src/ferkit/weights/blazeface_short_range.onnx`` from MediaPipe's BlazeFace model.

MediaPipe 0.10.21 (Apache License 2.0) is the last wheel that ships its face detection models. This
script converts ``face_detection_short_range.tflite`` from that wheel to ONNX with tflite2onnx, makes
the batch dimension dynamic and stores where it came from in the model's metadata. Run it in a
scratch environment (it needs network access to the package registry and ``tflite2onnx``)::

    python -m venv /tmp/bf && /tmp/bf/bin/pip install tflite2onnx onnx
    pip download --no-deps mediapipe==0.10.21 -d /tmp/bf
    /tmp/bf/bin/python tools/convert_blazeface.py /tmp/bf/mediapipe-0.10.21-*.whl
"""

from __future__ import annotations

import argparse
import json
import tempfile
import zipfile
from pathlib import Path

import onnx
from onnx import numpy_helper

MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
OUT = Path(__file__).resolve().parent.parent / "src" / "ferkit" / "weights" / "blazeface_short_range.onnx"


def dynamic_batch(model: onnx.ModelProto) -> None:
    """Let the batch dimension vary: symbolic I/O batch and Reshape targets that copy it (0)."""
    del model.graph.value_info[:]  # intermediate shapes recorded for batch 1
    for value in list(model.graph.input) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    reshape_shapes = {n.input[1] for n in model.graph.node if n.op_type == "Reshape"}
    for init in model.graph.initializer:
        if init.name in reshape_shapes:
            shape = numpy_helper.to_array(init).copy()
            shape[0] = 0
            init.CopyFrom(numpy_helper.from_array(shape, init.name))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", help="mediapipe-0.10.21 wheel file")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tflite = Path(tmp) / "short.tflite"
        with zipfile.ZipFile(args.wheel) as wheel:
            tflite.write_bytes(wheel.read(MEMBER))
        converted = Path(tmp) / "short.onnx"
        import tflite2onnx

        tflite2onnx.convert(str(tflite), str(converted))
        model = onnx.load(converted)
    dynamic_batch(model)
    info = {
        "name": "BlazeFace short-range",
        "source": f"{Path(args.wheel).name}:{MEMBER}",
        "license": "Apache-2.0 (MediaPipe)",
        "input": "N x 3 x 128 x 128 RGB scaled to [-1, 1]",
        "outputs": "regressors N x 896 x 16, classificators N x 896 x 1 (logits)",
    }
    onnx.helper.set_model_props(model, {"ferkit_detector": json.dumps(info)})
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
