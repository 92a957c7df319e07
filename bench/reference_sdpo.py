#!/usr/bin/env python3
"""The paper's S-DPO training recipe, as a baseline to measure softmax-dpo against.

Written from the S-DPO paper's description and its public trainer's structure (a TRL DPOTrainer
subclass), not copied: for every one of the 1+K candidates the prompt+response is run through the
policy (with grad) and again through a frozen reference model, full-vocabulary log-softmax logits are
materialised at every position, and the loss sums exp() directly:

    loss = -logsigmoid(-log(sum_k exp(beta * (r_k - r_w))))

A LLaMA-style decoder (RMSNorm, RoPE, SwiGLU, grouped-query attention) with random weights, trained
with AdamW. Prints one JSON line: examples_per_s, peak_rss_mb, model FLOP/s.
Runs on Debian's python3-torch (1.13): /usr/bin/python3 bench/reference_sdpo.py --negatives 3
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
        inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x):  # x: [B, T, D]
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        freqs = torch.outer(torch.arange(t, dtype=torch.float32), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
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

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class LlamaLM(nn.Module):
    def __init__(self, vocab, dim, layers, heads, kv_heads, ffn, theta=10000.0):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Block(dim, heads, kv_heads, ffn, theta) for _ in range(layers)])
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids):  # ids: [B, T] -> logits [B, T, V]
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def sequence_logps(model, prompt, response):
    """The paper's way: concatenate prompt+response, full logits, full log_softmax, sum response tokens."""
    ids = torch.cat([prompt, response], dim=1)  # [B, Lp + Lr]
    logits = model(ids)[:, :-1, :]  # [B, T-1, V], every position
    logp = logits.log_softmax(-1)
    labels = ids[:, 1:]
    token_logp = torch.gather(logp, 2, labels.unsqueeze(-1)).squeeze(-1)
    response_mask = torch.zeros_like(labels, dtype=torch.bool)
    response_mask[:, prompt.shape[1] - 1:] = True
    return (token_logp * response_mask).sum(-1)  # [B]


def sdpo_loss_paper(pc, prs, rc, rrs, beta):
    chosen_logratios = pc - rc
    temp = sum(torch.exp(beta * ((pr - rr) - chosen_logratios)) for pr, rr in zip(prs, rrs))
    return (-F.logsigmoid(-torch.log(temp))).mean()


def model_flops_per_example(a, n_params_no_embed):
    # 6 * params * tokens for the policy (forward + backward) + 2 * params * tokens for the reference,
    # counting the useful tokens once: prompt once and every response: what a perfect trainer must do.
    tokens = a.prompt_len + (1 + a.negatives) * a.resp_len
    return 8 * n_params_no_embed * tokens


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
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    policy = LlamaLM(a.vocab, a.dim, a.layers, a.heads, a.kv_heads, a.ffn)
    reference = copy.deepcopy(policy).eval()
    for param in reference.parameters():
        param.requires_grad_(False)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    n_params = sum(p.numel() for p in policy.parameters())
    n_params_no_embed = n_params - policy.embed_tokens.weight.numel()

    def batch():
        prompt = torch.randint(0, a.vocab, (a.batch_size, a.prompt_len))
        chosen = torch.randint(0, a.vocab, (a.batch_size, a.resp_len))
        rejected = [torch.randint(0, a.vocab, (a.batch_size, a.resp_len)) for _ in range(a.negatives)]
        return prompt, chosen, rejected

    def step():
        prompt, chosen, rejected = batch()
        pc = sequence_logps(policy, prompt, chosen)
        prs = [sequence_logps(policy, prompt, r) for r in rejected]
        with torch.no_grad():
            rc = sequence_logps(reference, prompt, chosen)
            rrs = [sequence_logps(reference, prompt, r) for r in rejected]
        loss = sdpo_loss_paper(pc, prs, rc, rrs, a.beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - start
    examples_per_s = a.steps * a.batch_size / seconds
    print(json.dumps({
        "impl": "reference-paper-recipe",
        "examples_per_s": examples_per_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "model_flops_per_s": examples_per_s * model_flops_per_example(a, n_params_no_embed),
        "params": n_params,
        "threads": torch.get_num_threads(),
        "negatives": a.negatives,
        "batch_size": a.batch_size,
        "steps": a.steps,
    }))


if __name__ == "__main__":
    main()
