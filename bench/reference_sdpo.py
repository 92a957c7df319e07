#!/usr/bin/env python3
"""The paper's S-DPO training recipe, as a baseline to measure softmax-dpo against.

Written from the S-DPO paper's description and its public trainer's structure (a TRL DPOTrainer
subclass), not copied: the prompt+response of every one of the 1+K candidates is stacked into one
batch (TRL's concatenated_forward) and run through the policy (with grad) and again through a frozen
reference copy, full-vocabulary log-softmax logits are materialised at every position, and the loss
sums exp() directly:

    loss = -logsigmoid(-log(sum_k exp(beta * (r_k - r_w))))

A LLaMA-style decoder (RMSNorm, RoPE, SwiGLU, grouped-query attention) with random weights, trained
with AdamW, full fine-tuning. Prints one JSON line with `sdpo bench`'s camelCase keys: examplesPerSecond, peakRssMb (ru_maxrss = VmHWM),
modelFlopsPerSecond (model_flops_per_example: the same definition as `sdpo bench`).
Runs on Debian's python3-torch (1.13): /usr/bin/python3 bench/reference_sdpo.py --negatives 3 --threads 2
"""
import argparse
import copy
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, dim, heads, kv_heads, theta):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.q_proj = nn.Linear(dim, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, dim, bias=False)

    def forward(self, x, cos, sin, causal):  # x: [B, T, D]
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(causal, float("-inf"))
        out = torch.softmax(scores, dim=-1) @ v  # [B, H, T, hd]
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class Block(nn.Module):
    def __init__(self, dim, heads, kv_heads, ffn, theta):
        super().__init__()
        self.input_layernorm = RMSNorm(dim)
        self.self_attn = Attention(dim, heads, kv_heads, theta)
        self.post_attention_layernorm = RMSNorm(dim)
        self.gate_proj = nn.Linear(dim, ffn, bias=False)
        self.up_proj = nn.Linear(dim, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, dim, bias=False)

    def forward(self, x, cos, sin, causal):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, causal)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class LlamaLM(nn.Module):
    def __init__(self, vocab, dim, layers, heads, kv_heads, ffn, theta=10000.0):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Block(dim, heads, kv_heads, ffn, theta) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        head_dim = dim // heads
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids):  # ids: [B, T] -> logits [B, T, V]
        # RoPE tables and the causal mask once per forward, shared by the layers (as HF's rotary cache).
        t = ids.shape[1]
        freqs = torch.outer(torch.arange(t, dtype=torch.float32, device=ids.device), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=ids.device), 1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, causal)
        return self.lm_head(self.norm(x))


def sequence_logps(model, prompt, responses):
    """The paper's way (TRL's concatenated_forward): every candidate's prompt+response concatenated and
    stacked into one batch [(1+K)*B, Lp+Lr], full logits, full log_softmax, sum the response tokens."""
    n = len(responses)
    ids = torch.cat([prompt.repeat(n, 1), torch.cat(responses, dim=0)], dim=1)  # [n*B, Lp + Lr]
    logits = model(ids)[:, :-1, :]  # [n*B, T-1, V], every position
    logp = logits.log_softmax(-1)
    labels = ids[:, 1:]
    token_logp = torch.gather(logp, 2, labels.unsqueeze(-1)).squeeze(-1)
    response_mask = torch.zeros_like(labels, dtype=torch.bool)
    response_mask[:, prompt.shape[1] - 1:] = True
    return (token_logp * response_mask).sum(-1).view(n, -1)  # [n, B]: chosen first


def sdpo_loss_paper(pc, prs, rc, rrs, beta):
    chosen_logratios = pc - rc
    temp = sum(torch.exp(beta * ((pr - rr) - chosen_logratios)) for pr, rr in zip(prs, rrs))
    return (-F.logsigmoid(-torch.log(temp))).mean()


def model_flops_per_example(a):
    """The useful work of one example, whatever trainer does it; the same definition as
    src/bench/model_flops.ts (sdpo bench), full fine-tuning:
      T = Lp + (1+K)*Lr tokens (the prompt once, every response once)
      linear = 2*L*(D*H*hd + 2*D*Hkv*hd + H*hd*D + 3*D*F)*T
      attention = 4*L*H*hd*C, C = Lp(Lp+1)/2 + (1+K)*(Lr*Lp + Lr(Lr+1)/2)  (causal keys seen)
      head = 2*D*V*(1+K)*Lr  (the LM head only where a log-prob is needed)
      policy forward + backward (3x) + reference forward = 4 * (linear + attention + head)."""
    hd = a.dim // a.heads
    n = 1 + a.negatives
    tokens = a.prompt_len + n * a.resp_len
    layer_params = a.dim * a.heads * hd + 2 * a.dim * a.kv_heads * hd + a.heads * hd * a.dim + 3 * a.dim * a.ffn
    linear = 2 * a.layers * layer_params * tokens
    keys_seen = a.prompt_len * (a.prompt_len + 1) / 2 + n * (a.resp_len * a.prompt_len + a.resp_len * (a.resp_len + 1) / 2)
    attention = 4 * a.layers * a.heads * hd * keys_seen
    head = 2 * a.dim * a.vocab * n * a.resp_len
    return 4 * (linear + attention + head)


def current_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=688)
    p.add_argument("--prompt-len", type=int, default=160)
    p.add_argument("--resp-len", type=int, default=6)
    p.add_argument("--negatives", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--beta", type=float, default=1.0)
    # torch 1.13 on these machines starts with ONE intra-op thread (libgomp): pass --threads explicitly.
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:<i>")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    baseline_rss_mb = current_rss_mb()

    device = torch.device(a.device)
    policy = LlamaLM(a.vocab, a.dim, a.layers, a.heads, a.kv_heads, a.ffn).to(device)
    reference = copy.deepcopy(policy).eval()
    for param in reference.parameters():
        param.requires_grad_(False)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    n_params = sum(p.numel() for p in policy.parameters())

    def batch():
        prompt = torch.randint(0, a.vocab, (a.batch_size, a.prompt_len), device=device)
        chosen = torch.randint(0, a.vocab, (a.batch_size, a.resp_len), device=device)
        rejected = [torch.randint(0, a.vocab, (a.batch_size, a.resp_len), device=device) for _ in range(a.negatives)]
        return prompt, chosen, rejected

    def step():
        prompt, chosen, rejected = batch()
        policy_logps = sequence_logps(policy, prompt, [chosen] + rejected)
        with torch.no_grad():
            reference_logps = sequence_logps(reference, prompt, [chosen] + rejected)
        loss = sdpo_loss_paper(policy_logps[0], policy_logps[1:], reference_logps[0], reference_logps[1:], a.beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    step_ms = []
    for _ in range(a.steps):
        start = time.perf_counter()
        step()
        step_ms.append((time.perf_counter() - start) * 1000)
    seconds = sum(step_ms) / 1000
    examples_per_s = a.steps * a.batch_size / seconds
    print(json.dumps({
        "impl": "reference-paper-recipe",
        "device": a.device,
        "examplesPerSecond": examples_per_s,
        "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "stepMsMedian": sorted(step_ms)[len(step_ms) // 2],
        "baselineRssMb": baseline_rss_mb,
        "modelFlopsPerSecond": examples_per_s * model_flops_per_example(a),
        "params": n_params,
        "threads": torch.get_num_threads(),
        "negatives": a.negatives,
        "batchSize": a.batch_size,
        "steps": a.steps,
    }))


if __name__ == "__main__":
    main()
