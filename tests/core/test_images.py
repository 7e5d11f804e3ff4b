"""Reading images as they are displayed, with notes on how they were read, and one rule for numbers."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from ferkit.core.errors import InputError, MissingInputError
from ferkit.core.images import ImageReadError, jpeg_layout, load_gray, read_image, to_uint8
from ferkit.core.inputs import LoadedImage, UnsupportedImageError, load_bgr, load_image

#: PIL's transpose that shows a photo stored with each EXIF orientation upright
UPRIGHT = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
           7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


def blocks(height: int = 60, width: int = 90, seed: int = 0) -> np.ndarray:
    """An asymmetric BGR image of flat colour blocks (so JPEG keeps it closely)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def textured(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (width, height),
                      interpolation=cv2.INTER_CUBIC)


def jpeg_bytes(bgr: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def write(path, data: bytes):
    path.write_bytes(data)
    return path


def diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


# --- EXIF orientation ---------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_exif_orientation_is_shown_upright(tmp_path, orientation):
    stored = blocks()
    rgb = Image.fromarray(stored[..., ::-1])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    rgb.save(path, "JPEG", quality=95, exif=exif)
    method = UPRIGHT[orientation]

    def upright(bgr):
        image = Image.fromarray(bgr)
        return np.asarray(image.transpose(method) if method is not None else image)

    raw = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)  # the pixels as stored
    assert diff(raw, stored) < 8
    expected = upright(raw)
    loaded = load_image(path)
    assert isinstance(loaded, LoadedImage)
    assert loaded.bgr.dtype == np.uint8
    assert np.array_equal(loaded.bgr, expected)
    if orientation == 1:
        assert loaded.notes == []
    else:
        assert loaded.notes == [f"EXIF orientation {orientation} applied"]
        if raw.shape == expected.shape:
            assert diff(raw, expected) > 30  # the orientation does change the picture
    # every way in gives the displayed image: grayscale loading, and the PIL image of the file
    assert load_gray(path, 48).shape == (48, 48)
    assert read_image(path).shape[:2] == expected.shape[:2]
    with Image.open(path) as im:
        from_pil = load_image(im)
    assert diff(from_pil.bgr, expected) < 3  # PIL's own JPEG decoding
    assert from_pil.notes == loaded.notes


# --- JPEG end of image, damage and truncation -----------------------------------------------------


def test_bytes_after_the_jpeg_end_marker_are_ignored(tmp_path, capfd):
    image = textured()
    data = jpeg_bytes(image)
    clean = load_bgr(write(tmp_path / "clean.jpg", data))
    junk = np.random.default_rng(1).integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    for name, tail in [("junk.jpg", junk), ("two.jpg", jpeg_bytes(textured(seed=5)))]:
        loaded = load_image(write(tmp_path / name, data + tail))
        assert np.array_equal(loaded.bgr, clean)
        assert loaded.notes == []
    assert jpeg_layout(data + junk)[0] == len(data)
    assert capfd.readouterr().err == ""


def test_a_jpeg_damaged_in_the_middle_is_never_a_silent_success(tmp_path, capfd):
    image = textured()
    data = bytearray(jpeg_bytes(image))
    start = data.find(b"\xff\xda")
    middle = start + (len(data) - start) // 2
    data[middle : middle + 40] = np.random.default_rng(0).integers(0, 256, 40, dtype=np.uint8).tobytes()
    path = write(tmp_path / "damaged.jpg", bytes(data))
    try:
        loaded = load_image(path)
    except InputError as exc:
        assert str(path) in str(exc)
    else:
        assert any(note.startswith("JPEG data damaged: decoded with errors") for note in loaded.notes), loaded.notes
        assert loaded.bgr.shape == image.shape
    # libjpeg's own warning went into the note, not to the process's stderr
    assert capfd.readouterr().err == ""


def test_a_truncated_jpeg_is_an_error_naming_the_file(tmp_path, capfd):
    data = jpeg_bytes(textured())
    for cut in (len(data) * 2 // 3, len(data) - 2, data.find(b"\xff\xda") + 20):
        path = write(tmp_path / f"cut{cut}.jpg", data[:cut])
        with pytest.raises(ImageReadError, match="truncated JPEG") as info:
            load_image(path)
        assert str(path) in str(info.value)
        assert isinstance(info.value, InputError)
    assert capfd.readouterr().err == ""


# --- multi-frame files ----------------------------------------------------------------------------


def test_only_the_first_frame_of_an_animated_gif_is_used(tmp_path, capfd):
    frames = [Image.fromarray(np.full((30, 40, 3), (20 * i, 200 - 10 * i, 90), np.uint8)) for i in range(12)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0)
    loaded = load_image(path)
    assert loaded.notes == ["animated GIF: first of 12 frames used"]
    first = np.asarray(frames[0])[..., ::-1]
    assert diff(loaded.bgr, first) < 3
    still = tmp_path / "still.gif"
    frames[3].save(still)
    assert load_image(still).notes == []
    assert capfd.readouterr().err == ""


def test_only_the_first_page_of_a_multi_page_tiff_is_used(tmp_path):
    pages = [Image.fromarray(np.full((30, 40, 3), (40 * i, 60, 200 - 40 * i), np.uint8)) for i in range(3)]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    loaded = load_image(path)
    assert loaded.notes == ["multi-page TIFF: first of 3 pages used"]
    assert np.array_equal(loaded.bgr, np.asarray(pages[0])[..., ::-1])


# --- numbers outside 0-255 ------------------------------------------------------------------------


def test_to_uint8_rule():
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert to_uint8(ramp) is ramp
    assert np.array_equal(to_uint8(ramp.astype(np.float32) / 255), ramp)  # floats in [0, 1] scaled
    assert np.array_equal(to_uint8(ramp.astype(np.float64)), ramp)  # floats in [0, 255] as they are
    assert np.array_equal(to_uint8(ramp.astype(np.int64)), ramp)  # other integers in [0, 255] as they are
    assert np.array_equal(to_uint8(ramp.astype(np.uint16) * 257), ramp)  # uint16 / 257
    assert np.array_equal(to_uint8(ramp > 127), np.where(ramp > 127, 255, 0))


def test_16_bit_data_in_int32_is_scaled_like_uint16():
    data = np.random.default_rng(0).integers(0, 65536, (20, 30), dtype=np.int64)
    as_uint16 = to_uint8(data.astype(np.uint16))
    assert np.array_equal(to_uint8(data.astype(np.int32)), as_uint16)
    assert np.array_equal(load_bgr(data.astype(np.int32))[..., 0], as_uint16)
    assert as_uint16.max() > 200  # scaled down, not clipped


def test_out_of_range_numbers_are_refused_naming_the_range():
    floats = np.linspace(0, 1000, 100, dtype=np.float32).reshape(10, 10)
    with pytest.raises(UnsupportedImageError, match=r"\[0, 1000\]"):
        load_image(floats)
    negative = np.full((10, 10), 50, np.int16)
    negative[0, 0] = -3
    with pytest.raises(UnsupportedImageError, match=r"\[-3, 50\]"):
        load_image(negative)
    with pytest.raises(UnsupportedImageError, match=r"\[0, 70000\]"):
        load_image(np.array([[0, 70000]], np.uint32))
    with pytest.raises(UnsupportedImageError, match=r"\[-0.5, 0.5\]"):
        load_image(np.array([[-0.5, 0.5]]))
    with pytest.raises(UnsupportedImageError, match="NaN"):
        load_image(np.array([[0.5, np.nan]]))
    with pytest.raises(UnsupportedImageError, match="dtype complex64"):
        load_image(np.zeros((4, 4), np.complex64))
    err = pytest.raises(UnsupportedImageError, load_image, floats).value
    assert isinstance(err, InputError) and isinstance(err, TypeError) and isinstance(err, ValueError)


def test_16_bit_files_and_pil_images_are_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.arange(0, 65536, 257, dtype=np.uint16), (8, 1))  # 0..65535 in 256 steps
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), ramp)
    expected = np.tile(np.arange(256, dtype=np.uint8), (8, 1))
    assert np.array_equal(load_bgr(path)[..., 1], expected)
    assert np.array_equal(load_bgr(Image.fromarray(ramp))[..., 1], expected)


# --- what comes in, what errors come out --------------------------------------------------------------


def test_loaded_image_is_contiguous_uint8_bgr(tmp_path):
    image = blocks()
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), image)
    for source, order in [(path, "bgr"), (str(path), "bgr"), (image, "bgr"), (image[..., ::-1], "rgb"),
                          (Image.fromarray(image[..., ::-1]), "bgr")]:
        loaded = load_image(source, order)
        assert loaded.bgr.dtype == np.uint8 and loaded.bgr.flags["C_CONTIGUOUS"]
        assert np.array_equal(loaded.bgr, image) and loaded.notes == []
        assert np.array_equal(load_bgr(source, order), loaded.bgr)
    gray = load_image(image[..., 0])
    assert gray.bgr.shape == image.shape


def test_unreadable_inputs_raise_user_errors(tmp_path):
    with pytest.raises(MissingInputError, match="no such file"):
        load_image(tmp_path / "none.png")
    with pytest.raises(FileNotFoundError):
        load_image(str(tmp_path / "none.png"))
    with pytest.raises(ImageReadError, match="is a folder, expected an image"):
        load_image(tmp_path)
    for name, data in [("empty.png", b""), ("text.png", b"hello, not an image" * 10)]:
        path = write(tmp_path / name, data)
        with pytest.raises(InputError, match=str(path)):
            load_image(path)
    assert issubclass(ImageReadError, InputError)
    with pytest.raises(ValueError, match="color_order"):
        load_image(blocks(), "hsv")
    with pytest.raises(UnsupportedImageError, match="cannot analyse a int"):
        load_image(42)


def test_big_jpeg_structure_walk_is_fast():
    """The end-of-image search walks segments and scans with a regular expression, not by byte."""
    import time

    big = cv2.resize(textured(), (3000, 2000), interpolation=cv2.INTER_CUBIC)
    big = cv2.add(big, np.random.default_rng(0).integers(0, 30, big.shape, dtype=np.uint8))
    data = jpeg_bytes(big, 95)
    t = time.perf_counter()
    end, _ = jpeg_layout(data)
    assert end == len(data)
    assert time.perf_counter() - t < 1.0  # about 5 ms; byte by byte in Python takes seconds


def test_exif_orientation_of_a_png(tmp_path):
    stored = blocks()
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "o6.png"
    Image.fromarray(stored[..., ::-1]).save(path, exif=exif)
    loaded = load_image(path)
    assert loaded.notes == ["EXIF orientation 6 applied"]
    assert np.array_equal(loaded.bgr, cv2.rotate(stored, cv2.ROTATE_90_CLOCKWISE))


def test_pil_animated_image_notes_its_frame(tmp_path):
    frames = [Image.fromarray(np.full((10, 10, 3), 30 * i, np.uint8)) for i in range(4)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], loop=0)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        im.seek(2)
        loaded = load_image(im)
    assert loaded.notes == ["animated GIF: number 3 of 4 frames used"]
    assert abs(int(loaded.bgr[0, 0, 0]) - 60) <= 2


def test_formats_only_pil_reads_are_decoded_by_pil(tmp_path, capfd):
    image = blocks()
    path = tmp_path / "x.pcx"  # OpenCV has no PCX decoder
    Image.fromarray(image[..., ::-1]).save(path)
    assert cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR) is None
    loaded = load_image(path)
    assert np.array_equal(loaded.bgr, image) and loaded.notes == []
    assert capfd.readouterr().err == ""


def test_shrink_area_matches_one_step_area_resizing():
    from ferkit.core.images import shrink_area

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (721, 1283, 3), dtype=np.uint8), (9, 9), 3)
    for size in [(228, 128), (128, 72), (700, 400), (1283, 721)]:
        got = shrink_area(img, size)
        assert got.shape == (size[1], size[0], 3)
        one = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        assert np.abs(got.astype(int) - one).mean() < 3.0  # random texture: the hardest case
