"""OSNet built here: sizes from the paper, torchreid checkpoints strictly, clear errors for misfits."""

import typing

import pytest
import torch

from tests.support.data import MODELS, need
from vigil.config.reid import OsnetName
from vigil.errors import VigilError
from vigil.reid import ARCHITECTURES, ReidWeightsError, build_osnet, count_parameters, load_osnet
from vigil.reid.checkpoint import guess_architecture, load_into, read_state_dict

MSMT17 = MODELS / "osnet_x0_25_msmt17.pth"
MARKET = MODELS / "osnet_x0_25_market1501.pth"


def test_config_names_every_architecture():
    assert set(typing.get_args(OsnetName)) == set(ARCHITECTURES)


@pytest.mark.parametrize("name, low, high", [
    ("osnet_x1_0", 2.1e6, 2.3e6),    # paper, Table 1: 2.2 M
    ("osnet_x0_75", 1.2e6, 1.4e6),   # 1.3 M
    ("osnet_x0_5", 0.55e6, 0.7e6),   # 0.6 M
    ("osnet_x0_25", 0.15e6, 0.25e6),  # 0.2 M
])
def test_parameter_counts_match_the_paper(name, low, high):
    n = count_parameters(build_osnet(name, num_classes=751))
    assert low <= n <= high, n
    # the classifier is not part of the count, but is there when asked for
    assert count_parameters(build_osnet(name, num_classes=751), include_classifier=True) == n + 512 * 751 + 751


@pytest.mark.parametrize("name", ["osnet_x0_25", "osnet_ibn_x1_0", "osnet_ain_x0_25"])
def test_forward_returns_embeddings_in_train_and_eval_mode(name):
    model = build_osnet(name, num_classes=10)
    x = torch.randn(2, 3, 256, 128)
    model.train()
    train_out = model(x)
    model.eval()
    with torch.inference_mode():
        eval_out = model(x)
        logits = model.classify(eval_out)
    assert train_out.shape == eval_out.shape == (2, 512)
    assert logits.shape == (2, 10)


@pytest.mark.parametrize("path, classes", [(MSMT17, 1041), (MARKET, 751)])
def test_torchreid_checkpoints_load_strictly(path, classes):
    state = read_state_dict(need(path))
    assert state["classifier.weight"].shape == (classes, 512)
    assert guess_architecture(state) == "osnet_x0_25"
    model = load_osnet(path, "osnet_x0_25")
    assert not model.training
    for key, value in model.state_dict().items():  # every tensor came from the file
        assert torch.equal(value, state[key]), key
    # with a classifier of the same class count, the head is loaded too (strict, nothing dropped)
    with_head = load_into(build_osnet("osnet_x0_25", num_classes=classes), state, str(path), "osnet_x0_25")
    assert torch.equal(with_head.classifier.weight, state["classifier.weight"])


def test_auto_reads_the_architecture_from_the_checkpoint():
    model = load_osnet(need(MSMT17), "auto")
    assert model.spec == ARCHITECTURES["osnet_x0_25"]


def test_data_parallel_prefix_and_wrapper_are_accepted(tmp_path):
    state = read_state_dict(need(MSMT17))
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 60}, wrapped)
    model = load_osnet(wrapped, "osnet_x0_25")
    assert torch.equal(model.conv1.conv.weight, state["conv1.conv.weight"])


def test_wrong_width_names_the_right_model():
    with pytest.raises(ReidWeightsError) as err:
        load_osnet(need(MSMT17), "osnet_x1_0")
    msg = str(err.value)
    assert "wrong shape" in msg and "conv1.conv.weight" in msg
    assert "set reid.model to osnet_x0_25" in msg
    assert "\n" not in msg


def test_partial_checkpoint_lists_missing_and_unexpected_keys(tmp_path):
    state = read_state_dict(need(MSMT17))
    state.pop("conv5.conv.weight")
    state["head.extra.weight"] = torch.zeros(3)
    bad = tmp_path / "partial.pth"
    torch.save(state, bad)
    with pytest.raises(ReidWeightsError) as err:
        load_osnet(bad, "osnet_x0_25")
    msg = str(err.value)
    assert "1 missing keys (conv5.conv.weight)" in msg
    assert "1 unexpected keys (head.extra.weight)" in msg


def test_not_a_checkpoint_is_a_vigil_error(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(VigilError, match="could not be read as a torch checkpoint"):
        load_osnet(junk)
    empty = tmp_path / "empty.pth"
    torch.save({"epoch": 3}, empty)
    with pytest.raises(VigilError, match="no state dict"):
        load_osnet(empty)
    other = tmp_path / "other.pth"
    torch.save({"backbone.weight": torch.zeros(2)}, other)
    with pytest.raises(VigilError, match="not a torchreid OSNet"):
        load_osnet(other, "auto")
