"""Is a rebuilt image the same picture as the committed one? (used by build_notebooks.py)

A figure's pixels are a function of floats: on another CPU (other BLAS kernels, another
summation order) a line or an ellipse can land a thousandth of a pixel elsewhere, and
antialiasing turns that into an edge pixel one or two levels lighter. The PNG bytes then
change although nobody could see the difference. The build keeps the committed file when the
new one decodes to the same picture within this tolerance:

- same format, size, number of frames and frame durations (for a GIF);
- every colour channel of every pixel within ``MAX_LEVEL`` of 255 levels;
- at most ``MAX_SHARE`` of each frame's pixels different at all.

A change a reader could see (a moved marker, a bar one count taller, another digit in a
title) changes pixels by far more than ``MAX_LEVEL``, so it is written, and shows in
``git status``.
"""

import io

import numpy as np
from PIL import Image, ImageSequence

MAX_LEVEL = 8  # of 255: about 3 %, invisible on an antialiased edge
MAX_SHARE = 0.01  # of the pixels of a frame


def _frames(data):
    """The frames of an image (PNG, GIF, ...) as RGBA arrays, with its format and durations."""
    with Image.open(io.BytesIO(data)) as image:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(image):
            frames.append(np.asarray(frame.convert("RGBA"), dtype=np.int16))
            durations.append(frame.info.get("duration"))
        return image.format, frames, durations


def picture_difference(old, new):
    """How two encoded images differ as pictures.

    Returns
    -------
    str or None
        None when ``old`` and ``new`` (bytes) are the same picture within the tolerance of
        this module, else why not, e.g. ``"frame 3: 2.5 % of the pixels differ, by up to 255
        levels"``.
    """
    if old == new:
        return None
    try:
        old_format, old_frames, old_durations = _frames(old)
        new_format, new_frames, new_durations = _frames(new)
    except (OSError, ValueError) as error:  # not an image Pillow can read
        return f"cannot compare as pictures ({error})"
    if old_format != new_format:
        return f"format {old_format} -> {new_format}"
    if len(old_frames) != len(new_frames):
        return f"{len(old_frames)} -> {len(new_frames)} frames"
    if old_durations != new_durations:
        return "frame durations differ"
    for index, (a, b) in enumerate(zip(old_frames, new_frames, strict=True)):
        where = f"frame {index}: " if len(old_frames) > 1 else ""
        if a.shape != b.shape:
            return f"{where}size {a.shape[1]}x{a.shape[0]} -> {b.shape[1]}x{b.shape[0]}"
        diff = np.abs(a - b).max(axis=-1)  # (H, W): largest channel difference of each pixel
        share, level = np.mean(diff > 0), int(diff.max())
        if level > MAX_LEVEL or share > MAX_SHARE:
            return f"{where}{share:.2%} of the pixels differ, by up to {level} levels"
    return None


def same_picture(old, new):
    """True when the image bytes ``old`` and ``new`` decode to the same picture (see above)."""
    return picture_difference(old, new) is None
