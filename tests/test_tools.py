"""The build tools (tools/): the picture tolerance, keeping committed images, the kernel's
figure settings, byte-stable builds, and the skip report of make test."""

import base64
import io

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from tools import build_notebooks as bn  # noqa: E402
from tools import check_docs, pictures, skipped_tests  # noqa: E402


def png(pixels, **save_options):
    """PNG bytes of an (H, W, 4) uint8 array."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), "RGBA").save(buf, "PNG", **save_options)
    return buf.getvalue()


PALETTE = np.random.default_rng(1).integers(0, 250, (17, 3))
PALETTE[16] = PALETTE[0] + [1, 0, 0]  # colour 16: colour 0, one level redder


def gif(frames, duration=330):
    """GIF bytes of (H, W) frames of indices into PALETTE (no quantization: exact colours)."""
    buf = io.BytesIO()
    images = []
    for frame in frames:
        image = Image.fromarray(np.asarray(frame, dtype=np.uint8), "P")
        image.putpalette(PALETTE.astype(np.uint8).ravel().tolist())
        images.append(image)
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return buf.getvalue()


def inverted(pixels):
    """The picture with its colours inverted, still opaque."""
    out = pixels.copy()
    out[..., :3] = 255 - pixels[..., :3]
    return out


@pytest.fixture
def indices():
    return np.random.default_rng(2).integers(0, 16, (30, 40))


@pytest.fixture
def picture():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 50, 4))
    pixels[..., 3] = 255
    return pixels


# ---------------------------------------------------------------------------
# tools/pictures.py
# ---------------------------------------------------------------------------


def test_same_pixels_other_bytes_is_the_same_picture(picture):
    a, b = png(picture, compress_level=1), png(picture, compress_level=9)
    assert a != b
    assert pictures.same_picture(a, b)


def test_an_antialiased_edge_some_levels_lighter_is_the_same_picture(picture):
    edge = picture.copy()
    edge[10, 10:30, :3] = np.clip(edge[10, 10:30, :3] + 8, 0, 255)  # a 20-pixel edge, 8 levels
    assert pictures.same_picture(png(picture), png(edge))


def rms_levels(a, b):
    """The root mean square difference of the RGB values: what compare_images measures."""
    return float(np.sqrt(np.mean((a[..., :3].astype(float) - b[..., :3]) ** 2)))


def test_a_visible_change_is_another_picture(picture):
    moved = picture.copy()
    moved[5:8, 5:8, :3] = inverted(picture)[5:8, 5:8, :3]  # 9 pixels inverted: a moved marker
    assert rms_levels(picture, moved) > pictures.TOLERANCE
    why = pictures.picture_difference(png(picture), png(moved))
    assert why.startswith("root mean square difference") and "(tolerance 1)" in why


def test_many_faint_changes_are_another_picture(picture):
    tinted = picture.copy()
    tinted[..., :3] = np.where(tinted[..., :3] < 254, tinted[..., :3] + 2, 252)  # every value
    assert rms_levels(picture, tinted) > pictures.TOLERANCE
    assert not pictures.same_picture(png(picture), png(tinted))


def test_the_tolerance_is_matplotlibs_root_mean_square(picture):
    """Just inside and just outside TOLERANCE, as compare_images measures it."""
    rng = np.random.default_rng(3)
    for factor, same in [(0.9, True), (1.1, False)]:
        changed = picture.copy()
        n = int(
            factor * pictures.TOLERANCE**2 * picture[..., :3].size / 40**2
        )  # values moved by 40
        index = rng.choice(picture[..., :3].size, size=n, replace=False)
        flat = changed[..., :3].reshape(-1).copy()
        flat[index] = np.where(flat[index] < 128, flat[index] + 40, flat[index] - 40)
        changed[..., :3] = flat.reshape(changed[..., :3].shape)
        assert (rms_levels(picture, changed) <= pictures.TOLERANCE) == same
        assert pictures.same_picture(png(picture), png(changed)) == same


def test_size_and_frames_must_match(picture, indices):
    assert "size" in pictures.picture_difference(png(picture), png(picture[:-1]))
    see_through = picture.copy()
    see_through[0, 0, 3] = 0
    assert "transparency" in pictures.picture_difference(png(picture), png(see_through))
    two = [indices, indices[::-1]]
    assert "frames" in pictures.picture_difference(gif(two), gif([indices]))
    assert "durations" in pictures.picture_difference(gif(two, 330), gif(two, 500))
    assert "format" in pictures.picture_difference(png(picture), gif([indices]))
    assert "cannot compare" in pictures.picture_difference(b"not an image", png(picture))


def test_gif_frames_are_compared_one_by_one(indices):
    first, second = indices, indices[::-1].copy()  # distinct: Pillow merges repeated frames
    second[0, 0] = 0
    faint, visible = second.copy(), second.copy()
    faint[0, 0] = 16  # colour 0 one level redder, in one pixel
    visible[0, 0] = 8
    assert pictures.same_picture(gif([first, second]), gif([first, faint]))
    why = pictures.picture_difference(gif([first, second]), gif([first, visible]))
    assert why.startswith("frame 1")


# ---------------------------------------------------------------------------
# tools/build_notebooks.py: keeping committed images
# ---------------------------------------------------------------------------


def notebook_with_png(data, cell_id="plot"):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plt.show()", id=cell_id)
    b64 = base64.b64encode(data).decode("ascii") + "\n"
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": b64})]
    nb.cells = [cell]
    return nb


def test_an_output_that_is_the_same_picture_keeps_its_old_bytes(picture):
    old = notebook_with_png(png(picture, compress_level=9))
    faint = picture.copy()
    faint[3, 3, 2] = max(faint[3, 3, 2] - 2, 0)
    new = notebook_with_png(png(faint))
    assert bn.keep_same_pictures(new, bn._png_outputs(old)) == 1
    assert new.cells[0].outputs[0].data == old.cells[0].outputs[0].data


def test_an_output_that_changed_visibly_is_written(picture):
    old = notebook_with_png(png(picture))
    new = notebook_with_png(png(inverted(picture)))
    before = dict(new.cells[0].outputs[0].data)
    assert bn.keep_same_pictures(new, bn._png_outputs(old)) == 0
    assert new.cells[0].outputs[0].data == before


def test_outputs_are_matched_by_cell_id(picture):
    old = notebook_with_png(png(picture, compress_level=9), cell_id="a")
    new = notebook_with_png(png(picture), cell_id="b")
    assert bn.keep_same_pictures(new, bn._png_outputs(old)) == 0


# ---------------------------------------------------------------------------
# tools/build_notebooks.py: the kernel's figure settings, byte-stable builds
# ---------------------------------------------------------------------------


def test_the_kernel_figure_settings_are_what_matplotlib_takes():
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", **bn.PRINT_FIGURE_KWARGS)
    with Image.open(io.BytesIO(buf.getvalue())) as image:
        assert "Software" not in image.info and not getattr(image, "text", {})


def test_a_built_notebook_has_no_png_text_and_builds_byte_identical(tmp_path):
    path = tmp_path / "figure.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "import numpy as np\n"
            "x = np.linspace(0, 1, 50)\n"
            "plt.plot(x, np.sin(9 * x))\n"
            "plt.title('a figure')\n"
            "plt.show()"
        )
    ]
    nbformat.write(nb, path)
    first = bn.execute(path)
    first_bytes = path.read_bytes()
    [png_b64] = bn._png_outputs(first).values()
    with Image.open(io.BytesIO(base64.b64decode(png_b64))) as image:
        assert image.format == "PNG"
        assert "Software" not in image.info and not image.text
    bn.execute(path)
    assert path.read_bytes() == first_bytes


def test_check_docs_says_how_a_page_figure_differs(tmp_path, monkeypatch, picture):
    monkeypatch.setattr(check_docs, "ROOT", tmp_path)
    fresh, page = tmp_path / "fresh" / "p.md", tmp_path / "docs" / "p.md"
    for folder, level in [(fresh.parent / "p_files", 1), (page.parent / "p_files", 9)]:
        folder.mkdir(parents=True)
        (folder / "same.png").write_bytes(png(picture, compress_level=level))
        (folder / "other.png").write_bytes(png(picture if level == 1 else inverted(picture)))
    fresh.write_text("![](p_files/same.png)\n")
    page.write_text("![](p_files/same.png)\n")
    problems = check_docs.compare(fresh, page)
    assert len(problems) == 2
    assert (
        problems[0].startswith("docs/p_files/other.png: differs")
        and "root mean square" in problems[0]
    )
    assert problems[1].endswith(
        "same.png: differs from the notebook's output (the same picture, other bytes)"
    )


# ---------------------------------------------------------------------------
# tools/skipped_tests.py
# ---------------------------------------------------------------------------

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3" skipped="2">
<testcase classname="tests.test_a" name="test_one" />
<testcase classname="tests.test_b" name="test_two">
  <skipped type="pytest.skip" message="needs chromium">skip</skipped></testcase>
<testcase classname="tests.test_b" name="test_three">
  <skipped type="pytest.skip" message="needs chromium">skip</skipped></testcase>
</testsuite></testsuites>
"""


def test_skipped_tests_are_counted_by_reason(tmp_path, capsys):
    report = tmp_path / "unit.xml"
    report.write_text(JUNIT)
    assert skipped_tests.main([str(report)]) == 0
    assert capsys.readouterr().out == "2 test(s) skipped: needs chromium\n"


def test_no_report_no_skips(tmp_path, capsys):
    assert skipped_tests.main([str(tmp_path / "missing.xml")]) == 0
    (tmp_path / "broken.xml").write_text("<testsuites")
    assert skipped_tests.main([str(tmp_path / "broken.xml")]) == 0
    assert capsys.readouterr().out == ""
