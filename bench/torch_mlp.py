"""PyTorch twin of mn's training step, for bench/train_cpu.sh and bench/gpu_step.sh.

Same model (Linear+ReLU MLP, widths from --layers), same batch, SGD with momentum and
weight decay, softmax cross-entropy, on random inputs already in memory (so that it
measures compute only; mn's figure includes its own reading of HDF5 and, on a GPU, the
copy of each batch to the device). --device cuda runs it on the current GPU, timed between
two torch.cuda.synchronize(); --tf32 lets its matmuls use TF32 (default: full FP32, as
mn's compute.tf32 = false). Prints one line:
"torch threads=T batch=B samples_per_s=S step_ms=M version=V device=D tf32=0|1".
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
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--tf32", action="store_true", help="TF32 matmuls (cuda only)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("torch_mlp.py: --device cuda, but torch.cuda.is_available() is False")
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    dev = torch.device(a.device)
    torch.manual_seed(0)
    dims = [int(d) for d in a.layers.split(",")]
    mods = []
    for i in range(len(dims) - 1):
        mods.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    nbatches = 16
    xs = torch.randn(nbatches, a.batch, dims[0], device=dev)
    ys = torch.randint(0, dims[-1], (nbatches, a.batch), device=dev)

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[i % nbatches]), ys[i % nbatches])
        loss.backward()
        opt.step()

    for i in range(a.warmup):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(a.steps):
        step(i)
    sync()
    dt = time.perf_counter() - t0
    print(f"torch threads={a.threads} batch={a.batch} samples_per_s={a.steps * a.batch / dt:.0f} "
          f"step_ms={1000 * dt / a.steps:.2f} version={torch.__version__} device={a.device} "
          f"tf32={int(a.device == 'cuda' and a.tf32)}")


if __name__ == "__main__":
    main()
