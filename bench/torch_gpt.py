"""PyTorch twin of mn's GPT training step, for bench/gpt_cpu.sh and bench/gpt_gpu.sh.

The same GPT-2 as mn's [model] type = gpt (nanoGPT's layout): token and position
embeddings; per block LayerNorm, causal self-attention (one Linear to q, k, v, then
F.scaled_dot_product_attention(is_causal=True) when this torch has it and --attention is
auto, else the explicit softmax(q k^T / sqrt(hs)) with a causal mask, then v: mn's and
llm.c's way, which keeps the [B, heads, T, T] matrix), Linear projection, residual,
LayerNorm, Linear to 4C, GELU (tanh approximation), Linear back to C, residual; a final
LayerNorm and the output head tied to the token embedding; every Linear and LayerNorm with a
bias, no dropout. The vocabulary is padded to a multiple of 64 rows as mn pads it (50257 ->
50304); the loss is cross-entropy over the first `vocab` logits (the padded ones are never
predicted, as mn's classifier). AdamW (torch.optim.AdamW, lr 3e-4, betas 0.9/0.95, weight
decay 0.1 on the 2-D weights but not the embeddings, as mn's no_decay = auto), fp32.

Input: random tokens in [0, vocab) already in memory (so PyTorch pays no I/O; mn reads
its HDF5 in a loader thread). Steps after --warmup untimed ones are timed (between two
torch.cuda.synchronize() on a GPU). --world N > 1 runs N processes on this machine with
torch.distributed (gloo on the CPU, nccl on GPUs) and DistributedDataParallel, each with
--threads threads and --batch sequences, so the global batch is N x batch as mn's.
--device cuda runs on the GPU (rank r on GPU r); --tf32 allows TF32 matmuls.

Prints one line:
"torch world=N threads=T batch=B context=C tokens_per_s=S step_ms=M params=P version=V
 device=D tf32=0|1 attention=sdpa|explicit loss=L"
"""
import argparse
import math
import os
import socket
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HAVE_SDPA = hasattr(F, "scaled_dot_product_attention")


class Block(nn.Module):
    def __init__(self, width, heads, sdpa):
        super().__init__()
        self.heads = heads
        self.sdpa = sdpa
        self.ln_1 = nn.LayerNorm(width)
        self.c_attn = nn.Linear(width, 3 * width)
        self.c_proj = nn.Linear(width, width)
        self.ln_2 = nn.LayerNorm(width)
        self.c_fc = nn.Linear(width, 4 * width)
        self.mlp_proj = nn.Linear(4 * width, width)

    def attention(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.heads
        q, k, v = (t.view(B, T, self.heads, hs).transpose(1, 2) for t in (q, k, v))
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = att @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, context, layers, heads, width, sdpa):
        super().__init__()
        self.vocab = vocab
        self.padded = (vocab + 63) // 64 * 64
        self.wte = nn.Embedding(self.padded, width)
        self.wpe = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads, sdpa) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width)
        for m in self.modules():  # GPT-2's initialisation (its scaled residual init left out)
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # the tied head
        return F.cross_entropy(logits[..., : self.vocab].reshape(-1, self.vocab),
                               targets.reshape(-1))


def run(rank, a, port):
    torch.set_num_threads(a.threads)
    if a.world > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ["MASTER_PORT"] = str(port)
        backend = "nccl" if a.device == "cuda" else "gloo"
        torch.distributed.init_process_group(backend, rank=rank, world_size=a.world)
    if a.device == "cuda":
        torch.cuda.set_device(rank)
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    dev = torch.device(a.device, rank) if a.device == "cuda" else torch.device("cpu")
    torch.manual_seed(a.seed)  # the same weights on every rank
    sdpa = HAVE_SDPA and a.attention != "explicit"
    model = GPT(a.vocab, a.context, a.layers, a.heads, a.width, sdpa).to(dev)
    nparams = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("w")]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and not n.startswith("w"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}], lr=3e-4, betas=(0.9, 0.95))
    net = model
    if a.world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[rank] if a.device == "cuda" else None)
    g = torch.Generator().manual_seed(a.seed + 1 + rank)
    nbatches = 4
    data = torch.randint(0, a.vocab, (nbatches, a.batch, a.context + 1), generator=g).to(dev)

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()
        if a.world > 1:
            torch.distributed.barrier()

    def step(i):
        d = data[i % nbatches]
        opt.zero_grad(set_to_none=True)
        loss = net(d[:, :-1], d[:, 1:])
        loss.backward()
        opt.step()
        return loss

    for i in range(a.warmup):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(a.steps):
        loss = step(i)
    sync()
    dt = time.perf_counter() - t0
    if rank == 0:
        tokens = a.world * a.batch * a.context * a.steps
        print(f"torch world={a.world} threads={a.threads} batch={a.batch} context={a.context} "
              f"tokens_per_s={tokens / dt:.0f} step_ms={1000 * dt / a.steps:.2f} params={nparams} "
              f"version={torch.__version__} device={a.device} "
              f"tf32={int(a.device == 'cuda' and a.tf32)} "
              f"attention={'sdpa' if sdpa else 'explicit'} loss={loss.item():.3f}", flush=True)
    if a.world > 1:
        torch.distributed.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--batch", type=int, default=8, help="sequences per rank")
    p.add_argument("--threads", type=int, default=1, help="threads per rank")
    p.add_argument("--world", type=int, default=1, help="processes (DDP when more than 1)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--tf32", action="store_true", help="TF32 matmuls (cuda only)")
    p.add_argument("--attention", choices=["auto", "explicit"], default="auto",
                   help="auto: F.scaled_dot_product_attention when this torch has it; explicit: "
                        "softmax(q k^T) v with the [B, heads, T, T] matrix, as mn and llm.c")
    a = p.parse_args()
    if a.width % a.heads:
        raise SystemExit("torch_gpt.py: --width must be a multiple of --heads")
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_gpt.py: --device cuda, but torch.cuda.is_available() is False")
    if a.world == 1:
        run(0, a, 0)
    else:
        torch.multiprocessing.spawn(run, args=(a, free_port()), nprocs=a.world, join=True)


if __name__ == "__main__":
    main()
