"""MeshNet training step in PyTorch: the same layers, loss and optimizer as meshfed's burn
Trainer and bench/reference/meshnet_step_jax.py (dilated 3x3x3 convolutions with zero padding,
ReLU, 1x1x1 head, per-voxel cross-entropy plus soft Dice over the foreground, Adam), on one
random patch. For the GPU comparison (burn wgpu against PyTorch CUDA) on a GPU machine.

    python meshnet_step_torch.py --patch 64 --steps 20 --device cuda

Prints one line per model: `torch <channels> ch <blocks> layers: training step on <p>^3 <s>s`.
"""
import argparse
import time

import torch
import torch.nn.functional as F

MODELS = {
    "model5": (5, [1, 2, 4, 8, 16, 8, 4, 2, 1]),
    "classic21": (21, [1, 1, 1, 2, 4, 8, 1]),
}
CLASSES = 3


class MeshNet(torch.nn.Module):
    def __init__(self, channels, dilations):
        super().__init__()
        self.dilations = dilations
        self.blocks = torch.nn.ModuleList()
        cin = 1
        for d in dilations:
            self.blocks.append(torch.nn.Conv3d(cin, channels, 3, padding=d, dilation=d))
            cin = channels
        self.head = torch.nn.Conv3d(channels, CLASSES, 1)

    def forward(self, x):
        """x [batch, 1, D, H, W] -> logits [batch, classes, D, H, W]"""
        for conv in self.blocks:
            x = F.relu(conv(x))
        return self.head(x)


def loss_fn(logits, y):
    flat = logits.movedim(1, -1).reshape(-1, CLASSES)
    hot = F.one_hot(y.reshape(-1), CLASSES).float()
    ce = -(F.log_softmax(flat, -1) * hot).sum(-1).mean()
    p = F.softmax(flat, -1)
    dice = (2 * (p * hot).sum(0) + 1) / (p.sum(0) + hot.sum(0) + 1)
    return ce + (1 - dice[1:].mean())


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    p = args.patch
    for channels, dilations in MODELS.values():
        net = MeshNet(channels, dilations).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, eps=1e-5)
        x = torch.rand(args.batch, 1, p, p, p, device=device)
        y = (x[:, 0] * CLASSES).long().clamp(0, CLASSES - 1)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            return loss

        for _ in range(3):  # cudnn autotuning + warm-up
            step()
        sync(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            loss = step()
        sync(device)
        per = (time.perf_counter() - start) / args.steps
        print(f"torch {channels} ch {len(dilations)} layers: training step on {p}^3 "
              f"batch {args.batch} {per:.4f}s (loss {loss.item():.4f}, torch {torch.__version__}, "
              f"{device.type})", flush=True)


if __name__ == "__main__":
    main()
