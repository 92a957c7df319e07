/**
 * "Model FLOPs" of one S-DPO training example: the useful work a perfect trainer must do, whatever
 * trainer does it. The same definition is used by `sdpo bench` and bench/reference_sdpo.py
 * (model_flops_per_example there), so FLOP/s figures of both are comparable:
 *
 *   tokens    T = Lp + (1 + K) * Lr                  (the prompt once, every response once)
 *   linear    2 * L * (D*H*hd + 2*D*Hkv*hd + H*hd*D + 3*D*F) * T     (q, k, v, o, gate, up, down)
 *   attention 4 * L * H*hd * C,  C = sum over tokens of the keys it may see (causal, prompt once):
 *             C = Lp(Lp+1)/2 + (1+K) * (Lr*Lp + Lr(Lr+1)/2)         (q.k and p.v, 2 FLOPs a term each)
 *   head      2 * D * V * (1 + K) * Lr                (the LM head only where a log-prob is needed)
 *   forward   = linear + attention + head
 *
 *   full fine-tuning: policy forward + backward (3x forward) + reference forward = 4 * forward
 *   LoRA (frozen base): the backward of frozen linears and head needs input gradients only (1x), the
 *   attention's backward is still 2x: policy = forward + linear + 2*attention + head, reference = forward.
 *   Adapter FLOPs, norms, RoPE, softmax and the optimizer are left out (small and not "model" work).
 */
export interface BenchShape {
  vocab: number;
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  promptLen: number;
  respLen: number;
  negatives: number;
}

export interface ModelFlops {
  linear: number;
  attention: number;
  head: number;
  forward: number;
  /** One training example: policy forward + backward and the reference forward. */
  perExample: number;
}

export function modelFlopsPerExample(s: BenchShape, options: { frozenBase: boolean }): ModelFlops {
  const headDim = s.dim / s.heads;
  const responses = 1 + s.negatives;
  const tokens = s.promptLen + responses * s.respLen;
  const layerParams = s.dim * s.heads * headDim + 2 * s.dim * s.kvHeads * headDim + s.heads * headDim * s.dim + 3 * s.dim * s.ffn;
  const linear = 2 * s.layers * layerParams * tokens;
  const keysSeen = (s.promptLen * (s.promptLen + 1)) / 2 + responses * (s.respLen * s.promptLen + (s.respLen * (s.respLen + 1)) / 2);
  const attention = 4 * s.layers * s.heads * headDim * keysSeen;
  const head = 2 * s.dim * s.vocab * responses * s.respLen;
  const forward = linear + attention + head;
  const policy = options.frozenBase ? forward + linear + 2 * attention + head : 3 * forward;
  return { linear, attention, head, forward, perExample: policy + forward };
}
