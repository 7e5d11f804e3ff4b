"""The `fer` package's emotion classifier on FER2013 PrivateTest faces, for benchmarks/pareto.py: accuracy
(single view) and faces/s with fer's own preprocessing (resize to its 64 px input, scale to [-1, 1]) at
batch 1 and batch 64 on 2 threads, for both of fer's classifiers: the quantized TFLite model it uses by
default (one face per call, as fer runs it) and its Keras model (batched). Runs in fer's own environment:

    /tmp/fervenv/bin/python benchmarks/fer_classifier.py ../shared/datasets/fer2013.npz [--seconds 3]

Prints one JSON line per classifier."""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def preprocess(faces: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    x = np.stack([cv2.resize(f, size) for f in faces]).astype("float32")
    return ((x / 255.0 - 0.5) * 2.0)[..., None]


def timed(fn, faces: np.ndarray, batch: int, seconds: float) -> float:
    """Faces per second for ``fn`` over ``faces`` in batches (preprocessing included)."""
    fn(faces[:batch])
    n, start, i = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        chunk = faces[i : i + batch]
        if len(chunk) < batch:
            i, chunk = 0, faces[:batch]
        fn(chunk)
        n += len(chunk)
        i += batch
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="fer2013.npz (images, labels, usage)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    warnings.filterwarnings("ignore")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from fer.fer import FER

    with np.load(args.data) as d:
        keep = d["usage"] == 2
        faces, labels = d["images"][keep], d["labels"][keep]
    fer = FER(mtcnn=False)
    size = fer._FER__emotion_target_size
    # fer's label order -> ferkit's (they agree: angry, disgust, fear, happy, sad, surprise, neutral)
    order = [list(fer._get_labels().values()).index(c) for c in CLASSES]

    from importlib.resources import files

    interpreter = tf.lite.Interpreter(model_path=str(files("fer") / "data" / "emotion_model_quantized.tflite"),
                                      num_threads=args.threads)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]

    def tflite(batch: np.ndarray) -> np.ndarray:
        x = preprocess(batch, size)
        probs = []
        for face in x:  # fer's TFLite path: one face per invoke
            interpreter.set_tensor(inp, face[None])
            interpreter.invoke()
            probs.append(interpreter.get_tensor(out)[0])
        return np.array(probs)

    keras_model = tf.keras.models.load_model(str(files("fer") / "data" / "emotion_model.hdf5"), compile=False)

    def keras(batch: np.ndarray) -> np.ndarray:
        return np.asarray(keras_model.predict_on_batch(preprocess(batch, size)))

    for name, fn in (("fer 25.10.3 (TFLite int8, its default)", tflite), ("fer 25.10.3 (Keras fp32)", keras)):
        probs = np.concatenate([fn(faces[i : i + 256]) for i in range(0, len(faces), 256)])
        accuracy = float((probs[:, order].argmax(1) == labels).mean())
        row = {"model": name, "accuracy": accuracy, "n": int(len(labels)),
               "faces_per_s_b1": timed(fn, faces, 1, args.seconds),
               "faces_per_s_b64": timed(fn, faces, 64, args.seconds),
               "params": int(keras_model.count_params())}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
