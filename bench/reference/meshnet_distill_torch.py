"""`meshfed-lab distill` replicated in PyTorch, for a GPU machine: the same split of
brainchop's t1_crop (min-max normalised, cropped to the brain's box with 18 voxels of padding,
training on x < mid, Dice on x >= mid), the same model5-shaped MeshNet (optionally with
BatchNorm), loss (cross-entropy + soft Dice over the foreground), Adam and cosine schedule.
It tells how far this recipe can go with more steps than a CPU affords, and whether burn's
Trainer learns as fast per step as PyTorch does.

    python meshnet_distill_torch.py --volume t1_crop.nii.gz --labels ref.nii.gz \
        --patch 40 --batch 4 --batch-norm --cosine --steps 2000

Only numpy and torch: the NIfTI-1 reader below handles the uncompressed or gzipped files
meshfed writes and brainchop ships.
"""
import argparse
import gzip
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

DILATIONS = [1, 2, 4, 8, 16, 8, 4, 2, 1]
CHANNELS = 5
CLASSES = 3
DTYPES = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64, 512: np.uint16}


def read_nifti(path):
    """NIfTI-1 voxels as an array indexed [x, y, z]."""
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    endian = "<" if np.frombuffer(raw[:4], "<i4")[0] == 348 else ">"
    dim = np.frombuffer(raw[40:56], endian + "i2")
    datatype = int(np.frombuffer(raw[70:72], endian + "i2")[0])
    offset = max(352, int(np.frombuffer(raw[108:112], endian + "f4")[0]))
    nx, ny, nz = (int(d) for d in dim[1:4])
    dt = np.dtype(DTYPES[datatype]).newbyteorder(endian)
    data = np.frombuffer(raw, dt, nx * ny * nz, offset)
    return data.reshape((nx, ny, nz), order="F")


def split(volume, labels):
    v = volume.astype(np.float32)
    v = (v - v.min()) / max(float(v.max() - v.min()), 1e-12)
    idx = np.argwhere(v > 0.0)
    lo = np.maximum(idx.min(0) - 18, 0)
    hi = np.minimum(idx.max(0) + 1 + 18, v.shape)
    mid = (lo[0] + hi[0]) // 2
    train = (slice(lo[0], mid), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    eval_lo = max(mid - 48, lo[0])
    ev = (slice(eval_lo, hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    test = (slice(mid, hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    return v[train], labels[train].astype(np.int64), v[ev], mid - eval_lo, labels[test]


class MeshNet(torch.nn.Module):
    def __init__(self, batch_norm):
        super().__init__()
        layers = []
        cin = 1
        for d in DILATIONS:
            layers.append(torch.nn.Conv3d(cin, CHANNELS, 3, padding=d, dilation=d))
            if batch_norm:
                layers.append(torch.nn.BatchNorm3d(CHANNELS))
            layers.append(torch.nn.ReLU())
            cin = CHANNELS
        layers.append(torch.nn.Conv3d(CHANNELS, CLASSES, 1))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x):
        """x [batch, 1, D, H, W] -> logits [batch, classes, D, H, W]"""
        return self.net(x)


def loss_fn(logits, y):
    flat = logits.movedim(1, -1).reshape(-1, CLASSES)
    hot = F.one_hot(y.reshape(-1), CLASSES).float()
    ce = F.cross_entropy(flat, y.reshape(-1))
    p = F.softmax(flat, -1)
    dice = (2 * (p * hot).sum(0) + 1) / (p.sum(0) + hot.sum(0) + 1)
    return ce + (1 - dice[1:].mean())


def batches(vol, lab, patch, batch, tissue, rng, device, flip=False):
    """An endless stream of `batch` patches; `tissue` of them centred on a labelled voxel;
    with `flip`, half of them mirrored along x (left-right, as the test hemisphere is)."""
    fg = np.argwhere(lab > 0)
    dims = np.array(vol.shape)
    vt = torch.from_numpy(vol).to(device)
    lt = torch.from_numpy(lab).to(device)
    while True:
        xs, ys = [], []
        for _ in range(batch):
            if rng.random() < tissue:
                c = fg[rng.integers(len(fg))]
                s = np.clip(c - patch // 2, 0, dims - patch)
            else:
                s = np.array([rng.integers(0, d - patch + 1) for d in dims])
            sl = tuple(slice(int(a), int(a) + patch) for a in s)
            x, y = vt[sl], lt[sl]
            if flip and rng.random() < 0.5:
                x, y = x.flip(0), y.flip(0)
            xs.append(x)
            ys.append(y)
        yield torch.stack(xs)[:, None], torch.stack(ys)


def dice(pred, ref):
    out = []
    for c in range(CLASSES):
        a, b = pred == c, ref == c
        total = a.sum() + b.sum()
        out.append(2 * (a & b).sum() / total if total else float("nan"))
    return out


@torch.no_grad()
def evaluate(net, ev, offset, test_labels, device):
    net.eval()
    x = torch.from_numpy(ev).to(device)[None, None]
    pred = net(x).argmax(1)[0, offset:].cpu().numpy()
    net.train()
    return dice(pred, test_labels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--volume", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--batch-norm", action="store_true")
    ap.add_argument("--cosine", action="store_true")
    ap.add_argument("--tissue-fraction", type=float, default=0.5)
    ap.add_argument("--flip", action="store_true", help="mirror half the patches along x")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tag", default="torch")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    tv, tl, ev, offset, test_labels = split(read_nifti(args.volume), read_nifti(args.labels))
    print(f"{args.tag}: train {tv.shape}, eval {ev.shape}, test from x={offset}", flush=True)
    net = MeshNet(args.batch_norm).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, eps=1e-5)
    data = batches(tv, tl, args.patch, args.batch, args.tissue_fraction,
                   np.random.default_rng(args.seed), device, args.flip)
    start, losses = time.perf_counter(), []
    for step in range(1, args.steps + 1):
        if args.cosine:
            progress = (step - 1) / args.steps
            lr = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
            for g in opt.param_groups:
                g["lr"] = lr
        x, y = next(data)
        loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        if step % args.eval_every == 0 or step == args.steps:
            d = evaluate(net, ev, offset, test_labels, device)
            mean = (d[1] + d[2]) / 2
            print(f"{args.tag} step {step:>6} loss {torch.stack(losses).mean().item():.4f} "
                  f"Dice bg/WM/GM {d[0]:.4f}/{d[1]:.4f}/{d[2]:.4f} mean WM/GM {mean:.4f} "
                  f"({time.perf_counter() - start:.0f}s)", flush=True)
            losses = []


if __name__ == "__main__":
    main()
