import pytest

from ferkit.core.errors import InputError
from ferkit.core.model_compat import check_combinable

SEVEN = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_models_of_one_class_list_and_face_size_pass():
    check_combinable(["a", "b", "c"], [SEVEN, list(SEVEN), SEVEN], [48, 48, 48])


def test_another_class_order_names_the_model_and_the_role():
    swapped = ("disgust", "angry") + SEVEN[2:]
    with pytest.raises(InputError, match=r"^b predicts disgust, angry.*a predicts angry.*candidates must have the same "
                                         r"classes in the same order"):
        check_combinable(["a", "b"], [SEVEN, swapped], [48, 48], role="candidates")


def test_another_face_size_names_the_model():
    with pytest.raises(InputError, match=r"^c takes 64-pixel faces and a 48-pixel faces: ensemble members"):
        check_combinable(["a", "b", "c"], [SEVEN] * 3, [48, 48, 64])
