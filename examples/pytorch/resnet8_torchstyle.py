"""The MLPerf Tiny ResNet8 as a PyTorch user trains it: a native module (Conv2d + BatchNorm2d + ReLU, NCHW input
normalized with the usual CIFAR-10 mean/std, logits out), carrying the reference weights, exported the two ways a
PyTorch user ships it: `torch.export` (.pt2) and `torch.onnx.export(..., dynamo=True)` (.onnx with its weights as
external data beside it).

    python examples/pytorch/resnet8_torchstyle.py REFERENCE.onnx OUT_DIR

The weights are read from the reference ONNX (the suite's resnet8.onnx); nothing trained is kept in the repository.
The module undoes the normalization in its first layer, so its top-1 on the CIFAR-10 test set is the reference's
(87.19%) when it is fed `(pixels / 255 - mean) / std` in NCHW:

    pytest -n auto --ptq-model=OUT_DIR/resnet8_torchstyle.pt2 --ptq-input-layout nchw \\
        --ptq-input-scale=0.00392156862745098 --ptq-input-mean=0.4914,0.4822,0.4465 --ptq-input-std=0.2470,0.2435,0.2616
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
SCALE = 1 / 255


class Block(nn.Module):
    """Two 3x3 convolutions with batch norm, and the shortcut (a 1x1 convolution when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        # Keras' "same" padding: a stride-2 convolution pads only the bottom and right (the weights expect it)
        self.pad = nn.ZeroPad2d((0, 1, 0, 1)) if stride != 1 else nn.ZeroPad2d(1)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 0)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0) if stride != 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(self.pad(x))))
        return torch.relu(self.shortcut(x) + self.bn2(self.conv2(y)))


class ResNet8(nn.Module):
    """MLPerf Tiny's ResNet8 (16-32-64 channels), NCHW, normalized input, logits out."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 16, 3, 1, 1)
        self.bn = nn.BatchNorm2d(16)
        self.stage1, self.stage2, self.stage3 = Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x * self.std + self.mean) / SCALE  # the reference was trained on pixels 0..255
        x = torch.relu(self.bn(self.conv(x)))
        x = self.stage3(self.stage2(self.stage1(x)))
        return self.fc(torch.flatten(nn.functional.avg_pool2d(x, 8), 1))


def from_reference(onnx_path: Path) -> ResNet8:
    """The module with the reference ONNX's weights (tf2onnx's graph: Conv, then batch norm as Mul and Add)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers = {i: n for n in graph.node for i in n.input}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    model = ResNet8().eval()
    # the ONNX lists a block's 1x1 shortcut just before its second 3x3 convolution's path
    order = [model.conv, model.stage1.conv1, model.stage1.conv2, model.stage2.shortcut, model.stage2.conv1,
             model.stage2.conv2, model.stage3.shortcut, model.stage3.conv1, model.stage3.conv2]
    norms = {model.conv: model.bn, model.stage1.conv1: model.stage1.bn1, model.stage1.conv2: model.stage1.bn2,
             model.stage2.conv1: model.stage2.bn1, model.stage2.conv2: model.stage2.bn2,
             model.stage3.conv1: model.stage3.bn1, model.stage3.conv2: model.stage3.bn2}
    with torch.no_grad():
        for node, conv in zip(convs, order, strict=True):
            weight, bias = init[node.input[1]], init[node.input[2]]
            if tuple(conv.weight.shape) != weight.shape:
                raise ValueError(f"{onnx_path}: {node.name} has weights {weight.shape}, expected "
                                 f"{tuple(conv.weight.shape)}; pass the MLPerf Tiny resnet8.onnx")
            conv.weight.copy_(torch.from_numpy(weight))
            conv.bias.copy_(torch.from_numpy(bias))
            if conv in norms:  # Mul by gamma/sigma, Add beta - mu*gamma/sigma: a BatchNorm2d with mean 0, var 1
                mul = consumers[node.output[0]]
                add = consumers[mul.output[0]]
                bn = norms[conv]
                bn.weight.copy_(torch.from_numpy(init[mul.input[1]].reshape(-1)))
                bn.bias.copy_(torch.from_numpy(init[add.input[1]].reshape(-1)))
                bn.running_mean.zero_()
                bn.running_var.fill_(1 - bn.eps)
        dense = next(n for n in graph.node if n.op_type == "MatMul")
        model.fc.weight.copy_(torch.from_numpy(init[dense.input[1]].T.copy()))
        model.fc.bias.copy_(torch.from_numpy(init[consumers[dense.output[0]].input[1]]))
    return model


def export(model: nn.Module, out: Path) -> tuple[Path, Path]:
    """`model` as resnet8_torchstyle.pt2 (torch.export, dynamic batch) and resnet8_torchstyle.onnx (dynamo export,
    input `x`, output `logits`, weights in resnet8_torchstyle.onnx.data)."""
    out.mkdir(parents=True, exist_ok=True)
    example = (torch.zeros(2, 3, 32, 32),)
    batch = torch.export.Dim("batch", min=1, max=1024)
    exported = torch.export.export(model, example, dynamic_shapes=({0: batch},))
    pt2 = out / "resnet8_torchstyle.pt2"
    torch.export.save(exported, str(pt2))
    onnx_path = out / "resnet8_torchstyle.onnx"
    program = torch.onnx.export(model, example, dynamo=True, input_names=["x"], output_names=["logits"],
                                dynamic_shapes=({0: batch},))
    program.save(str(onnx_path), external_data=True)
    return pt2, onnx_path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-5].strip(), file=sys.stderr)
        print("usage: python examples/pytorch/resnet8_torchstyle.py REFERENCE.onnx OUT_DIR", file=sys.stderr)
        return 2
    model = from_reference(Path(argv[0]))
    with torch.no_grad():  # the same answers as the reference on a random image, in its own contract
        pixels = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.float32)
        x = torch.from_numpy((pixels.transpose(0, 3, 1, 2) * SCALE - np.array(MEAN, np.float32)[:, None, None])
                             / np.array(STD, np.float32)[:, None, None])
        logits = model(x)
    for path in export(model, Path(argv[1])):
        print(path)
    print("logits of 4 random images:", logits.argmax(1).tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
