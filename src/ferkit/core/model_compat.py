"""Checks that several models can be combined (an ensemble, a selection of its members): the same
classes in the same order and one face size. Callers pass what they read (ONNX metadata, loaded
classifiers), so the check and its messages live in one place."""

from __future__ import annotations

from collections.abc import Sequence

from ferkit.core.errors import InputError


def check_combinable(names: Sequence[object], classes: Sequence[Sequence[str]], face_sizes: Sequence[int],
                     role: str = "ensemble members") -> None:
    """Raise :class:`InputError` naming the first model (``names[i]``) whose classes or face size differ
    from the first one's; ``role`` says what the models are for, in the message."""
    first_classes, first_size = tuple(classes[0]), int(face_sizes[0])
    for name, c in zip(names[1:], classes[1:]):
        if tuple(c) != first_classes:
            raise InputError(f"{name} predicts {', '.join(c)}; {names[0]} predicts {', '.join(first_classes)}: "
                             f"{role} must have the same classes in the same order")
    for name, s in zip(names[1:], face_sizes[1:]):
        if int(s) != first_size:
            raise InputError(f"{name} takes {int(s)}-pixel faces and {names[0]} {first_size}-pixel faces: "
                             f"{role} must take faces of one size (their crops and normalisation may differ)")
