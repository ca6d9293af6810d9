"""Is a rebuilt image the same picture as the committed one? (used by build_notebooks.py)

A figure's pixels are a function of floats: on another CPU (other BLAS kernels, another
summation order) a line or an ellipse can land a thousandth of a pixel elsewhere, and
antialiasing turns that into an edge pixel one or two levels lighter. The PNG bytes then
change although nobody could see the difference. The build keeps the committed file when the
new one decodes to the same picture:

- same format, size, number of frames and frame durations (for a GIF);
- each frame within ``TOLERANCE`` by matplotlib's own test of its figures,
  ``matplotlib.testing.compare.compare_images``: the root mean square of the differences of
  all colour values, in levels of 255.

An antialiased edge a few levels lighter stays far inside it; a change a reader could see (a
marker moved, a bar one count taller, another digit in a title) changes hundreds of values by
up to 255 levels and lands outside it on the course's figures, so it is written, and shows in
``git status``.
"""

import io
import tempfile
from pathlib import Path

from matplotlib.testing.compare import compare_images
from PIL import Image, ImageSequence

TOLERANCE = 1.0  # root mean square difference, in levels of 255


def _frames(data):
    """The frames of an image (PNG, GIF, ...) as RGBA images, with its format and durations."""
    with Image.open(io.BytesIO(data)) as image:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(image):
            frames.append(frame.convert("RGBA"))
            durations.append(frame.info.get("duration"))
        return image.format, frames, durations


def _opaque(frame):
    return frame.getextrema()[3][0] == 255


def _frame_difference(old, new, folder):
    """compare_images of two RGBA frames of the same size: None, or how far apart they are."""
    expected, actual = Path(folder, "old.png"), Path(folder, "new.png")
    old.save(expected)
    new.save(actual)
    report = compare_images(str(expected), str(actual), TOLERANCE, in_decorator=True)
    if report is None:
        return None
    return f"root mean square difference {report['rms']:.2f} levels (tolerance {TOLERANCE:g})"


def picture_difference(old, new):
    """How two encoded images differ as pictures.

    Returns
    -------
    str or None
        None when ``old`` and ``new`` (bytes) are the same picture within the tolerance of
        this module, else why not, e.g. ``"frame 3: root mean square difference 5.20 levels
        (tolerance 1)"``.
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
    with tempfile.TemporaryDirectory(prefix="pictures_") as folder:
        for index, (a, b) in enumerate(zip(old_frames, new_frames, strict=True)):
            where = f"frame {index}: " if len(old_frames) > 1 else ""
            if a.size != b.size:
                return f"{where}size {a.width}x{a.height} -> {b.width}x{b.height}"
            if _opaque(a) != _opaque(b):  # compare_images drops the alpha of an opaque image
                return f"{where}transparency differs"
            why = _frame_difference(a, b, folder)
            if why is not None:
                return where + why
    return None


def same_picture(old, new):
    """True when the image bytes ``old`` and ``new`` decode to the same picture (see above)."""
    return picture_difference(old, new) is None
