"""PyTorch twin of mn's GPT-2 training step, for tests/test_gpt_parity.c.

Builds the tiny GPT of mn_model_spec_gpt (runtime/model/gpt.c) in plain torch, nanoGPT
style, with the module names that make its state_dict keys mn's tensor names (Hugging
Face's GPT2Model without "transformer.": wte.weight, h.0.attn.c_attn.weight, ...; every
matrix [out, in] as nn.Linear holds it). From seeded weights it runs one forward, the loss
(mean softmax cross-entropy over the first V of the padded logits), the backward and one
AdamW step, and writes to HDF5 (h5py), every array float32 except the int32 tokens:

  /params/<name>   the weights before the step (wte.weight [Vp, C]: rows V.. are 0)
  /tokens, /targets [B, T]
  /logits          [B*T, Vp] (columns V.. are 0 here: wte's padded rows are 0)
  /loss            scalar: the mean over the B*T positions
  /grads/<name>    the gradient of /loss
  /updated/<name>  the weights after one AdamW step
  attributes of /: vocab, padded_vocab, context, layers, heads, width, batch, seed, lr, beta1,
                   beta2, eps, weight_decay, decayed (the tensors weight decay applies to),
                   torch_version, generator

The weights are not GPT-2's initialisation (normal(0, 0.02) leaves the attention nearly
uniform and the logits nearly equal, so that a wrong softmax or a swapped head would barely
show): embeddings normal(0, 0.5), matrices normal(0, 1/sqrt(fan_in)), biases normal(0, 0.1),
LayerNorm weights 1 + normal(0, 0.1): every activation O(1), every tensor non-trivial.

AdamW as mn's optimizer.no_decay = auto runs it: weight decay only on the tensors of role
weight (the 2-D matrices of the blocks); wte, wpe (role embedding), biases and LayerNorm
none. Deterministic: fixed seed, one thread, torch.use_deterministic_algorithms(True).

  /usr/bin/python3 tests/ref/gpt_torch.py tests/fixtures/gpt_torch.h5
"""
import argparse
import math

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, CONTEXT, LAYERS, HEADS, WIDTH, BATCH = 50, 8, 2, 2, 16, 3
VOCAB_ALIGN = 64  # mn's MN_GPT_VOCAB_ALIGN
SEED = 1234
LR, BETAS, EPS, WEIGHT_DECAY = 1e-3, (0.9, 0.95), 1e-8, 0.1


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(width, 3 * width)
        self.c_proj = nn.Linear(width, width)

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.heads
        # q, k, v: three chunks of C channels; head h at channels h*hs .. of each
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=1e-5)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width, eps=1e-5)
        self.mlp = MLP(width)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """wte holds mn's padded [Vp, C]; the head is tied to it (no tensor of its own)."""

    def __init__(self, vocab, context, layers, heads, width):
        super().__init__()
        self.vocab = vocab
        self.padded_vocab = (vocab + VOCAB_ALIGN - 1) // VOCAB_ALIGN * VOCAB_ALIGN
        self.wte = nn.Embedding(self.padded_vocab, width)
        self.wpe = nn.Embedding(context, width)
        self.h = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(width, eps=1e-5)

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.wte(tokens) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.t()  # [B, T, Vp]

    def loss(self, logits, targets):
        """Mean cross-entropy over the first `vocab` logits: the padded ones never predicted."""
        v = logits[..., : self.vocab]
        return F.cross_entropy(v.reshape(-1, self.vocab), targets.reshape(-1))


@torch.no_grad()
def init_weights(model):
    for name, p in model.named_parameters():
        if name in ("wte.weight", "wpe.weight"):
            p.normal_(0.0, 0.5)
        elif name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            p.normal_(1.0, 0.1)
        elif p.dim() == 2:
            p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
        else:
            p.normal_(0.0, 0.1)
    model.wte.weight[model.vocab:].zero_()  # mn's padded rows


def decayed(name, p):
    """mn's role weight: the 2-D matrices of the blocks (wte and wpe are role embedding)."""
    return p.dim() == 2 and name not in ("wte.weight", "wpe.weight")


def numpy_of(tensors):
    return {k: v.detach().clone().numpy() for k, v in tensors}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", help="the HDF5 fixture to write")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)

    model = GPT(VOCAB, CONTEXT, LAYERS, HEADS, WIDTH)
    init_weights(model)
    tokens = torch.randint(0, VOCAB, (BATCH, CONTEXT))
    targets = torch.randint(0, VOCAB, (BATCH, CONTEXT))
    params = numpy_of(model.named_parameters())

    logits = model(tokens)
    loss = model.loss(logits, targets)
    loss.backward()
    grads = {k: p.grad.detach().clone().numpy() for k, p in model.named_parameters()}

    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if decayed(n, p)], "weight_decay": WEIGHT_DECAY},
        {"params": [p for n, p in named if not decayed(n, p)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS)
    opt.step()
    updated = numpy_of(model.named_parameters())

    with h5py.File(a.out, "w") as f:
        for group, values in (("params", params), ("grads", grads), ("updated", updated)):
            g = f.create_group(group)
            for name, v in values.items():
                g.create_dataset(name, data=v.astype(np.float32))
        f.create_dataset("tokens", data=tokens.numpy().astype(np.int32))
        f.create_dataset("targets", data=targets.numpy().astype(np.int32))
        f.create_dataset("logits", data=logits.detach().reshape(-1, model.padded_vocab).numpy())
        f.create_dataset("loss", data=np.float32(loss.item()))
        shape = dict(vocab=VOCAB, padded_vocab=model.padded_vocab, context=CONTEXT, layers=LAYERS,
                     heads=HEADS, width=WIDTH, batch=BATCH, seed=SEED)
        for k, v in shape.items():
            f.attrs[k] = np.int32(v)
        hyper = dict(lr=LR, beta1=BETAS[0], beta2=BETAS[1], eps=EPS, weight_decay=WEIGHT_DECAY)
        for k, v in hyper.items():
            f.attrs[k] = np.float64(v)
        f.attrs["decayed"] = ",".join(n for n, p in named if decayed(n, p))
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["generator"] = "tests/ref/gpt_torch.py"
    print(f"gpt_torch.py: wrote {a.out}: loss {loss.item():.6f}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
