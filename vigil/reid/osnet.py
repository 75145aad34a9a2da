"""OSNet (Zhou et al., "Omni-Scale Feature Learning for Person Re-Identification", ICCV 2019).

Written for Vigil, with parameter names that match torchreid's `osnet.py` and
`osnet_ain.py` exactly, so torchreid checkpoints load with `strict=True`.
Unlike torchreid, `forward` always returns the (N, feature_dim) embedding,
whatever `self.training` says; `classify` gives identity logits when a
classifier head was built (`num_classes > 0`).

Variants: osnet_x1_0 / x0_75 / x0_5 / x0_25 (plain), osnet_ibn_x1_0 (instance
norm in the first stages) and osnet_ain_x1_0 / x0_75 / x0_5 / x0_25 (instance
norm inside the residual of chosen blocks; the AIN family nests its streams
and pools differently, hence the `ain` layout switches below).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

WIDTHS: dict[str, tuple[int, int, int, int]] = {
    "x1_0": (64, 256, 384, 512),
    "x0_75": (48, 192, 288, 384),
    "x0_5": (32, 128, 192, 256),
    "x0_25": (16, 64, 96, 128),
}


@dataclass(frozen=True)
class OSNetSpec:
    """What distinguishes the named variants."""

    channels: tuple[int, int, int, int]
    ibn: bool = False  # osnet_ibn: InstanceNorm after conv1 and in the stage-2 blocks
    ain: bool = False  # osnet_ain: instance norm inside chosen residuals, torchreid's AIN layout


def _specs() -> dict[str, OSNetSpec]:
    specs = {f"osnet_{w}": OSNetSpec(c) for w, c in WIDTHS.items()}
    specs["osnet_ibn_x1_0"] = OSNetSpec(WIDTHS["x1_0"], ibn=True)
    specs.update({f"osnet_ain_{w}": OSNetSpec(c, ain=True) for w, c in WIDTHS.items()})
    return specs


ARCHITECTURES: dict[str, OSNetSpec] = _specs()

# Which stage blocks carry instance norm in the AIN family (torchreid osnet_ain_x*).
_AIN_BLOCK_IN = ((True, True), (False, True), (True, False))


class ConvBN(nn.Module):
    """conv (no bias) + batch norm (or affine instance norm) + optional ReLU.

    Serves torchreid's ConvLayer, Conv1x1 and Conv1x1Linear, which share the
    `conv` / `bn` parameter names.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, padding: int = 0,
                 relu: bool = True, instance_norm: bool = False, bn: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        if not bn:
            self.bn = None
        else:
            self.bn = nn.InstanceNorm2d(cout, affine=True) if instance_norm else nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True) if self.relu else x


class LightConv3x3(nn.Module):
    """1x1 pointwise (linear) then 3x3 depthwise, BN, ReLU: the cheap 3x3 of OSNet."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False, groups=cout)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv2(self.conv1(x))), inplace=True)


class LightConvStream(nn.Module):
    """`depth` LightConv3x3 in a row under a `layers` attribute (AIN naming)."""

    def __init__(self, channels: int, depth: int):
        super().__init__()
        self.layers = nn.Sequential(*[LightConv3x3(channels, channels) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ChannelGate(nn.Module):
    """Squeeze-excitation style gate shared by all streams of a block (the "unified aggregation gate")."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = F.adaptive_avg_pool2d(x, 1)
        g = torch.sigmoid(self.fc2(F.relu(self.fc1(g), inplace=True)))
        return x * g


class OSBlock(nn.Module):
    """Omni-scale residual bottleneck: four streams of 1..4 light 3x3 convs, gated and summed.

    ain=False: torchreid osnet.py layout (conv2a..conv2d, optional IN after the sum).
    ain=True: torchreid osnet_ain.py layout (conv2 = list of streams; with `instance_norm`
    the IN sits inside the residual and conv3 has no BN).
    """

    def __init__(self, cin: int, cout: int, instance_norm: bool = False, ain: bool = False,
                 bottleneck_reduction: int = 4):
        super().__init__()
        mid = cout // bottleneck_reduction
        self.ain = ain
        self.conv1 = ConvBN(cin, mid)
        if ain:
            self.conv2 = nn.ModuleList([LightConvStream(mid, depth) for depth in range(1, 5)])
        else:
            self.conv2a = LightConv3x3(mid, mid)
            self.conv2b = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(2)])
            self.conv2c = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(3)])
            self.conv2d = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(4)])
        self.gate = ChannelGate(mid)
        self.conv3 = ConvBN(mid, cout, relu=False, bn=not (ain and instance_norm))
        self.downsample = ConvBN(cin, cout, relu=False) if cin != cout else None
        self.IN = nn.InstanceNorm2d(cout, affine=True) if instance_norm else None

    def _streams(self) -> list[nn.Module]:
        return list(self.conv2) if self.ain else [self.conv2a, self.conv2b, self.conv2c, self.conv2d]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        x1 = self.conv1(x)
        x2 = sum(self.gate(stream(x1)) for stream in self._streams())
        x3 = self.conv3(x2)
        if self.ain:
            if self.IN is not None:  # AIN: instance norm inside the residual branch
                x3 = self.IN(x3)
            return F.relu(x3 + identity)
        out = x3 + identity
        if self.IN is not None:  # IBN: instance norm after the sum
            out = self.IN(out)
        return F.relu(out)


def _transition(channels: int) -> nn.Sequential:
    """1x1 conv then 2x2 average pool: halves the spatial size between stages."""
    return nn.Sequential(ConvBN(channels, channels), nn.AvgPool2d(2, stride=2))


class OSNet(nn.Module):
    """Omni-Scale Network: a 512-d appearance embedding of a 256x128 RGB crop."""

    def __init__(self, spec: OSNetSpec, num_classes: int = 0, feature_dim: int = 512):
        super().__init__()
        c0, c1, c2, c3 = spec.channels
        self.spec = spec
        self.feature_dim = feature_dim
        self.conv1 = ConvBN(3, c0, kernel=7, stride=2, padding=3, instance_norm=spec.ibn or spec.ain)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        if spec.ain:
            self.conv2 = self._stage(c0, c1, _AIN_BLOCK_IN[0], ain=True)
            self.pool2 = _transition(c1)
            self.conv3 = self._stage(c1, c2, _AIN_BLOCK_IN[1], ain=True)
            self.pool3 = _transition(c2)
            self.conv4 = self._stage(c2, c3, _AIN_BLOCK_IN[2], ain=True)
        else:  # transitions live inside the stage Sequential in torchreid's plain layout
            self.conv2 = nn.Sequential(*self._stage(c0, c1, (spec.ibn, spec.ibn)), _transition(c1))
            self.conv3 = nn.Sequential(*self._stage(c1, c2, (False, False)), _transition(c2))
            self.conv4 = self._stage(c2, c3, (False, False))
        self.conv5 = ConvBN(c3, c3)
        self.fc = nn.Sequential(nn.Linear(c3, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(feature_dim, num_classes) if num_classes > 0 else None
        self._init_params()

    @staticmethod
    def _stage(cin: int, cout: int, instance_norm: tuple[bool, bool], ain: bool = False) -> nn.Sequential:
        return nn.Sequential(OSBlock(cin, cout, instance_norm[0], ain), OSBlock(cout, cout, instance_norm[1], ain))

    def _init_params(self) -> None:
        # Same scheme as torchreid so a "random weights" baseline means the same thing.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.InstanceNorm2d)) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def featuremaps(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv2(x)
        if self.spec.ain:
            x = self.pool2(x)
        x = self.conv3(x)
        if self.spec.ain:
            x = self.pool3(x)
        return self.conv5(self.conv4(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised RGB -> (N, feature_dim) embedding (not L2-normalised)."""
        v = F.adaptive_avg_pool2d(self.featuremaps(x), 1).flatten(1)
        return self.fc(v)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Identity logits for training; needs a model built with num_classes > 0."""
        if self.classifier is None:
            raise RuntimeError("this OSNet was built without a classifier (num_classes=0)")
        return self.classifier(features)


def build_osnet(name: str, num_classes: int = 0) -> OSNet:
    """An OSNet by torchreid name (osnet_x1_0, osnet_x0_25, osnet_ain_x1_0, ...), randomly initialised."""
    try:
        spec = ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown OSNet '{name}'; choose from {', '.join(ARCHITECTURES)}") from None
    return OSNet(spec, num_classes=num_classes)


def count_parameters(model: nn.Module, include_classifier: bool = False) -> int:
    return sum(p.numel() for n, p in model.named_parameters()
               if include_classifier or not n.startswith("classifier."))
