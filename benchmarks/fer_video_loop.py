"""The `fer` package's own video loop (`fer.classes.Video.analyze`: OpenCV decoding, Haar faces, its
classifier, results as a table) over one video file, for benchmarks/video_throughput.py, which times
the whole process from outside. It runs in fer's own environment (fer pulls TensorFlow):

    /tmp/fervenv/bin/python benchmarks/fer_video_loop.py VIDEO

Prints one JSON line: frames analysed and faces found."""

from __future__ import annotations

import json
import os
import sys
import tempfile


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from fer.classes import Video
    from fer.fer import FER  # the README's `from fer import FER` fails in 25.10.3

    with tempfile.TemporaryDirectory() as out:
        os.chdir(out)  # fer writes beside the working directory
        video = Video(sys.argv[1], outdir=out, first_face_only=False)
        table = video.analyze(FER(mtcnn=False), display=False, output="pandas", save_frames=False,
                              save_video=False, annotate_frames=False, zip_images=False)
        faces = sum(1 for c in table.columns if c.startswith("box")) if len(table) else 0
        print(json.dumps({"frames": int(video.frameCount), "rows": len(table), "face_columns": faces}))


if __name__ == "__main__":
    main()
