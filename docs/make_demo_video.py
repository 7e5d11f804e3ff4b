"""Write the README's demo clip `two_people.mp4`: 3 s at 30 fps, 640x480, the bundled astronaut's
head moving (A), a second head crossing it during the first second (B), no face from 2.0 to 2.4 s,
then a third head standing still (C). Made with `ferkit.video.synthetic`; nothing downloaded.

    python docs/make_demo_video.py two_people.mp4
"""

import sys

from ferkit.video.synthetic import Sprite, make_test_video, sample_face

face = sample_face(150)
sprites = [
    Sprite(face, (20, 100), (450, 150), 0.0, 2.0),
    Sprite(face, (470, 50), (20, 60), 0.0, 1.0),
    Sprite(face, (300, 300), (300, 300), 2.4, 3.0),
]
make_test_video(sys.argv[1] if len(sys.argv) > 1 else "two_people.mp4", sprites, 640, 480, 30, 3.0)
