"""MeshNet training step in JAX on CPU: the same layers, loss and optimizer as meshfed's
burn Trainer (dilated 3x3x3 convolutions with zero padding, ReLU, 1x1x1 head, per-voxel
cross-entropy plus soft Dice over the foreground, Adam), on one random patch.

    python meshnet_step_jax.py --patch 64 --steps 3

Prints one line per model: `jax <channels> ch <blocks> layers: training step on <p>^3 <s>s`.
`cargo xtask bench` runs it beside `bench-step` and prints the ratios.
"""
import argparse
import time

import jax
import jax.numpy as jnp

MODELS = {
    "model5": (5, [1, 2, 4, 8, 16, 8, 4, 2, 1]),
    "classic21": (21, [1, 1, 1, 2, 4, 8, 1]),
}
CLASSES = 3


def init(key, channels, dilations):
    params = []
    cin = 1
    for _ in dilations:
        key, k1, k2 = jax.random.split(key, 3)
        bound = 1.0 / (cin * 27) ** 0.5
        params.append((jax.random.uniform(k1, (channels, cin, 3, 3, 3), minval=-bound, maxval=bound),
                       jax.random.uniform(k2, (channels,), minval=-bound, maxval=bound)))
        cin = channels
    key, k1, k2 = jax.random.split(key, 3)
    bound = 1.0 / channels ** 0.5
    params.append((jax.random.uniform(k1, (CLASSES, channels, 1, 1, 1), minval=-bound, maxval=bound),
                   jax.random.uniform(k2, (CLASSES,), minval=-bound, maxval=bound)))
    return params


def forward(params, x, dilations):
    """x [batch, 1, D, H, W] -> logits [batch, classes, D, H, W]"""
    dn = ("NCDHW", "OIDHW", "NCDHW")
    for (w, b), d in zip(params[:-1], dilations):
        x = jax.lax.conv_general_dilated(x, w, (1, 1, 1), [(d, d)] * 3, rhs_dilation=(d, d, d),
                                         dimension_numbers=dn)
        x = jax.nn.relu(x + b[None, :, None, None, None])
    w, b = params[-1]
    x = jax.lax.conv_general_dilated(x, w, (1, 1, 1), [(0, 0)] * 3, dimension_numbers=dn)
    return x + b[None, :, None, None, None]


def loss_fn(params, x, y, dilations):
    logits = forward(params, x, dilations)
    flat = jnp.moveaxis(logits, 1, -1).reshape(-1, CLASSES)
    hot = jax.nn.one_hot(y.reshape(-1), CLASSES)
    ce = -(jax.nn.log_softmax(flat) * hot).sum(-1).mean()
    p = jax.nn.softmax(flat)
    dice = (2 * (p * hot).sum(0) + 1) / (p.sum(0) + hot.sum(0) + 1)
    return ce + (1 - dice[1:].mean())


def make_step(dilations, lr=3e-3, b1=0.9, b2=0.999, eps=1e-5):
    @jax.jit
    def step(params, m, v, t, x, y):
        loss, g = jax.value_and_grad(loss_fn)(params, x, y, dilations)
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        t = t + 1
        upd = lambda p, m, v: p - lr * (m / (1 - b1 ** t)) / (jnp.sqrt(v / (1 - b2 ** t)) + eps)
        return jax.tree_util.tree_map(upd, params, m, v), m, v, t, loss
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    key = jax.random.PRNGKey(0)
    p = args.patch
    for name, (channels, dilations) in MODELS.items():
        params = init(key, channels, dilations)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        m, v, t = zeros, zeros, 0.0
        x = jax.random.uniform(key, (1, 1, p, p, p))
        y = (x * CLASSES).astype(jnp.int32).clip(0, CLASSES - 1)
        step = make_step(tuple(dilations))
        params, m, v, t, loss = step(params, m, v, t, x, y)  # compile + warm-up
        loss.block_until_ready()
        start = time.perf_counter()
        for _ in range(args.steps):
            params, m, v, t, loss = step(params, m, v, t, x, y)
        loss.block_until_ready()
        per = (time.perf_counter() - start) / args.steps
        print(f"jax {channels} ch {len(dilations)} layers: training step on {p}^3 {per:.3f}s "
              f"(loss {float(loss):.4f}, jax {jax.__version__}, {jax.devices()[0].platform})",
              flush=True)


if __name__ == "__main__":
    main()
