"""PyTorch twin of mn's CPU training step, for bench/train_cpu.sh.

Same model (Linear+ReLU MLP, widths from --layers), same batch, SGD with momentum and
weight decay, softmax cross-entropy, on random inputs already in memory (so that it
measures compute only; mn's figure includes its own reading of HDF5). Prints one line:
"torch threads=T batch=B samples_per_s=S step_ms=M".
"""
import argparse
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", default="784,1024,1024,10")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dims = [int(d) for d in a.layers.split(",")]
    mods = []
    for i in range(len(dims) - 1):
        mods.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    nbatches = 16
    xs = torch.randn(nbatches, a.batch, dims[0])
    ys = torch.randint(0, dims[-1], (nbatches, a.batch))

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[i % nbatches]), ys[i % nbatches])
        loss.backward()
        opt.step()

    for i in range(a.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.steps):
        step(i)
    dt = time.perf_counter() - t0
    print(f"torch threads={a.threads} batch={a.batch} samples_per_s={a.steps * a.batch / dt:.0f} "
          f"step_ms={1000 * dt / a.steps:.2f} version={torch.__version__}")


if __name__ == "__main__":
    main()
