# An independent re-implementation of transformers' LlamaForCausalLM / MistralForCausalLM /
# Qwen2ForCausalLM / Qwen3ForCausalLM forward (eager attention, float64), written after the
# transformers source, used by test/model/hf-crosscheck.test.ts to hold the native decoder to
# Hugging Face's conventions (rotate_half RoPE, llama3 rope scaling, GQA head grouping, q/k norm).
#
#   python3 hf_reference.py case.json   (config, params {name: {shape, values}}, batch) -> JSON logps
import json, math, sys, torch
torch.set_default_dtype(torch.float64)

def rms(x, w, eps): return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]; x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)

def inv_freq(c):
    dim = c["head_dim"]; base = c["rope_theta"]
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).double() / dim))
    rs = c["rope_scaling"]
    if rs and rs["rope_type"] == "linear": return inv / rs["factor"]
    if rs and rs["rope_type"] == "llama3":
        factor = rs["factor"]; lf = rs["low_freq_factor"]; hf = rs["high_freq_factor"]; old = rs["original_max_position_embeddings"]
        low_w = old / lf; high_w = old / hf
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_w, inv / factor, inv)
        smooth = (old / wavelen - lf) / (hf - lf)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        med = ~(wavelen < high_w) * ~(wavelen > low_w)
        return torch.where(med, smoothed, inv_l)
    return inv

def forward(c, P, ids):
    T = len(ids); x = P["model.embed_tokens.weight"][torch.tensor(ids)].unsqueeze(0)
    pos = torch.arange(T).double()
    freqs = pos[:, None] * inv_freq(c)[None, :]; emb = torch.cat((freqs, freqs), -1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    H, Hkv, d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for i in range(c["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        h = rms(x, P[pre + "input_layernorm.weight"], c["rms_norm_eps"])
        def lin(n, inp):
            y = inp @ P[pre + n + ".weight"].T
            if pre + n + ".bias" in P: y = y + P[pre + n + ".bias"]
            return y
        q = lin("self_attn.q_proj", h).view(1, T, H, d); k = lin("self_attn.k_proj", h).view(1, T, Hkv, d); v = lin("self_attn.v_proj", h).view(1, T, Hkv, d)
        if c["qk_norm"]:
            q = rms(q, P[pre + "self_attn.q_norm.weight"], c["rms_norm_eps"]); k = rms(k, P[pre + "self_attn.k_norm.weight"], c["rms_norm_eps"])
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin; k = k * cos + rotate_half(k) * sin
        rep = H // Hkv
        k = k[:, :, None].expand(1, Hkv, rep, T, d).reshape(1, H, T, d); v = v[:, :, None].expand(1, Hkv, rep, T, d).reshape(1, H, T, d)
        a = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(d) + mask, -1) @ v
        x = x + lin("self_attn.o_proj", a.transpose(1, 2).reshape(1, T, H * d))
        h = rms(x, P[pre + "post_attention_layernorm.weight"], c["rms_norm_eps"])
        x = x + lin("mlp.down_proj", torch.nn.functional.silu(lin("mlp.gate_proj", h)) * lin("mlp.up_proj", h))
    x = rms(x, P["model.norm.weight"], c["rms_norm_eps"])
    W = P["lm_head.weight"] if "lm_head.weight" in P else P["model.embed_tokens.weight"]
    return torch.log_softmax(x @ W.T, -1)[0]


def main(path):
    d = json.load(open(path)); c = d["config"]; b = d["batch"]
    P = {k: torch.tensor(v["values"]).view(v["shape"]) for k, v in d["params"].items()}
    out = []
    for r in range(len(b["responsePrompt"])):
        p = b["responsePrompt"][r]
        prompt = b["promptIds"][b["promptOffsets"][p]:b["promptOffsets"][p + 1]]
        resp = b["responseIds"][b["responseOffsets"][r]:b["responseOffsets"][r + 1]]
        lp = forward(c, P, prompt + resp)
        out.append(sum(lp[len(prompt) + j - 1, t].item() for j, t in enumerate(resp)))
    print(json.dumps({"logps": out}))

if __name__ == "__main__":
    main(sys.argv[1])
