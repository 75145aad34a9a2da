"""Folder-of-pairs discovery: folder spellings, stems across extensions, clear refusals."""

import cv2
import numpy as np
import pytest

from tests.fusion.data import ROADSCENE, ROADSCENE_REG, TNO, VIFB_INPUT, need
from vigil.errors import VigilError
from vigil.fusion.pairs import PairsError, discover_pairs, read_pair_image


def _img(path, shape=(8, 8), dtype=np.uint8):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(shape, 7, dtype))


@pytest.mark.parametrize("vis_name,ir_name", [("Visible", "INFRARED"), ("RGB", "Thermal"), ("vis", "ir"), ("VI", "IR")])
def test_any_spelling_in_any_case_pairs_by_stem_across_extensions(tmp_path, vis_name, ir_name):
    for stem in ("10", "2", "1"):
        _img(tmp_path / vis_name / f"{stem}.jpg")
        _img(tmp_path / ir_name / f"{stem}.png")
    _img(tmp_path / vis_name / "only_visible.jpg")
    (tmp_path / ir_name / "notes.txt").write_text("not an image")
    pairs, unpaired = discover_pairs(tmp_path)
    assert [p.name for p in pairs] == ["1", "2", "10"]  # natural order
    assert pairs[0].visible.suffix == ".jpg" and pairs[0].thermal.suffix == ".png"
    assert unpaired == ["only_visible"]


def test_hidden_and_unrelated_folders_are_ignored_and_ambiguity_is_refused(tmp_path):
    _img(tmp_path / "vis" / "a.jpg")
    _img(tmp_path / "ir" / "a.jpg")
    _img(tmp_path / ".rgb" / "a.jpg")
    _img(tmp_path / "fused" / "a.jpg")
    assert len(discover_pairs(tmp_path)[0]) == 1
    _img(tmp_path / "Visible" / "a.jpg")
    with pytest.raises(PairsError, match="several visible subfolders"):
        discover_pairs(tmp_path)


def test_missing_folders_and_pairless_folders_name_the_fix(tmp_path):
    with pytest.raises(VigilError, match="does not exist"):
        discover_pairs(tmp_path / "nope")
    _img(tmp_path / "vis" / "a.jpg")
    with pytest.raises(PairsError, match="no thermal subfolder; name one ir / infrared / thermal"):
        discover_pairs(tmp_path)
    _img(tmp_path / "thermal" / "b.jpg")
    with pytest.raises(PairsError, match="same-stem partner"):
        discover_pairs(tmp_path)


def test_sixteen_bit_thermal_is_read_as_eight_bit_and_bad_files_are_refused(tmp_path):
    ramp = np.tile(np.arange(0, 4000, 40, dtype=np.uint16), (10, 1))
    cv2.imwrite(str(tmp_path / "t.png"), ramp)
    img = read_pair_image(tmp_path / "t.png")
    assert img.dtype == np.uint8 and img.min() == 0 and img.max() == 255
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(PairsError, match="cannot read image"):
        read_pair_image(tmp_path / "bad.jpg")


@pytest.mark.parametrize("folder,count", [(VIFB_INPUT, 21), (TNO, 10), (ROADSCENE, 10), (ROADSCENE_REG, 20)])
def test_the_shared_pair_folders_are_found(folder, count):
    pairs, unpaired = discover_pairs(need(folder))
    assert len(pairs) == count and not unpaired
