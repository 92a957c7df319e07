/**
 * The decoder's parameters (names and shapes) as a config implies them, computed in JS without building
 * anything, so that a checkpoint can be held to its config.json before the native model allocates: a config
 * whose sizes disagree with the tensors (num_hidden_layers 1e6 beside a 2-layer checkpoint) is refused in
 * milliseconds, naming the field and the tensor, instead of allocating gigabytes first. The layout mirrors
 * the native decoder's parameterInfo(); a test holds the two together for every model type.
 */
import * as os from "os";
import type { NativeModelConfig } from "../native";

/** Base parameters (no adapters), in the native model's order. */
export function parameterShapes(config: NativeModelConfig): Map<string, number[]> {
  const { hidden_size: hidden, intermediate_size: ffn, vocab_size: vocab, head_dim: headDim } = config;
  const q = config.num_attention_heads * headDim;
  const kv = config.num_key_value_heads * headDim;
  const shapes = new Map<string, number[]>();
  shapes.set("model.embed_tokens.weight", [vocab, hidden]);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(`${p}self_attn.q_proj.weight`, [q, hidden]);
    if (config.attention_bias) shapes.set(`${p}self_attn.q_proj.bias`, [q]);
    shapes.set(`${p}self_attn.k_proj.weight`, [kv, hidden]);
    if (config.attention_bias) shapes.set(`${p}self_attn.k_proj.bias`, [kv]);
    shapes.set(`${p}self_attn.v_proj.weight`, [kv, hidden]);
    if (config.attention_bias) shapes.set(`${p}self_attn.v_proj.bias`, [kv]);
    shapes.set(`${p}self_attn.o_proj.weight`, [hidden, q]);
    if (config.qk_norm) {
      shapes.set(`${p}self_attn.q_norm.weight`, [headDim]);
      shapes.set(`${p}self_attn.k_norm.weight`, [headDim]);
    }
    shapes.set(`${p}mlp.gate_proj.weight`, [ffn, hidden]);
    shapes.set(`${p}mlp.up_proj.weight`, [ffn, hidden]);
    shapes.set(`${p}mlp.down_proj.weight`, [hidden, ffn]);
    shapes.set(`${p}input_layernorm.weight`, [hidden]);
    shapes.set(`${p}post_attention_layernorm.weight`, [hidden]);
  }
  shapes.set("model.norm.weight", [hidden]);
  if (!config.tie_word_embeddings) shapes.set("lm_head.weight", [vocab, hidden]);
  return shapes;
}

/** Number of base parameters, by arithmetic (no per-tensor entries): safe to call on any config. */
export function parameterCount(config: NativeModelConfig): number {
  const { hidden_size: hidden, intermediate_size: ffn, vocab_size: vocab, head_dim: headDim } = config;
  const q = config.num_attention_heads * headDim;
  const kv = config.num_key_value_heads * headDim;
  const perLayer = 2 * q * hidden + 2 * kv * hidden + (config.attention_bias ? q + 2 * kv : 0) + (config.qk_norm ? 2 * headDim : 0) + 3 * ffn * hidden + 2 * hidden;
  return vocab * hidden * (config.tie_word_embeddings ? 1 : 2) + config.num_hidden_layers * perLayer + hidden;
}

/** Which config.json fields a parameter's shape comes from, for the error message. */
function fieldsOf(name: string): string {
  if (/embed_tokens|lm_head/.test(name)) return "vocab_size, hidden_size";
  if (/mlp\./.test(name)) return "intermediate_size, hidden_size";
  if (/self_attn\.(q|k|v|o)_proj/.test(name)) return "num_attention_heads, num_key_value_heads, head_dim, hidden_size";
  if (/_norm/.test(name) && /q_norm|k_norm/.test(name)) return "head_dim";
  return "hidden_size";
}

export interface CheckpointShapes {
  /** Tensor name -> shape, from the safetensors headers. */
  shapes: Map<string, readonly number[]>;
  /** The file holding a tensor, for error messages. */
  fileOf(name: string): string;
  /** Tensors the loader ignores (old buffers, a stored copy of a tied head). */
  ignorable(name: string): boolean;
}

/**
 * Holds `config` (read from `configFile`) to the checkpoint's tensor shapes and to the machine's memory,
 * before any model is built. `bytesPerParameter`: of the dtype the model will be built in.
 */
export function checkConfigAgainstCheckpoint(config: NativeModelConfig, configFile: string, checkpoint: CheckpointShapes, bytesPerParameter: number, where: string): void {
  const count = parameterCount(config);
  const bytes = count * bytesPerParameter;
  if (!(bytes <= os.totalmem())) {
    throw new Error(
      `${where}: ${configFile} describes ${count.toExponential(2)} parameters (${(bytes / 2 ** 30).toFixed(1)} GiB), ` +
        `more than the machine's ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB of memory; check vocab_size, hidden_size, intermediate_size and num_hidden_layers`,
    );
  }
  let stored = 0;
  for (const [name, shape] of checkpoint.shapes) if (!checkpoint.ignorable(name)) stored += shape.reduce((a, b) => a * b, 1);
  if (count > stored) {
    // Cheap first word before the per-tensor walk: the config asks for more than the checkpoint holds.
    const layers = new Set([...checkpoint.shapes.keys()].map((n) => /^model\.layers\.(\d+)\./.exec(n)?.[1]).filter((x) => x !== undefined)).size;
    if (layers !== config.num_hidden_layers) {
      throw new Error(`${where}: ${configFile} says num_hidden_layers ${config.num_hidden_layers}, the checkpoint holds ${layers} layers`);
    }
  }
  const expected = parameterShapes(config);
  const missing = [...expected.keys()].filter((name) => !checkpoint.shapes.has(name));
  if (missing.length > 0) {
    const shown = missing.length <= 40 ? missing.join(", ") : `${missing.slice(0, 40).join(", ")}, ... and ${missing.length - 40} more`;
    throw new Error(`${where}: ${missing.length} parameter(s) missing from the checkpoint: ${shown}`);
  }
  for (const [name, shape] of expected) {
    const found = checkpoint.shapes.get(name)!;
    if (found.length !== shape.length || found.some((d, i) => d !== shape[i])) {
      throw new Error(`${checkpoint.fileOf(name)}: tensor "${name}" has shape [${found}] but ${configFile} (${fieldsOf(name)}) implies [${shape}]`);
    }
  }
}
