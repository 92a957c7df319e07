/**
 * A stand-in for the native decoder's weight surface (parameterInfo / getTensor / setTensor / addLora),
 * so checkpoint code is tested without the addon. Parameters are kept as float32 values; a bfloat16 model
 * rounds them to bfloat16 as the real one would. Not a decoder: score/generate are not implemented.
 */
import type { DeviceName, ModelDType, NativeLoraConfig, NativeModel, NativeModelConfig, ParameterInfo, SafetensorsDType } from "../../src/native";

export function bf16ToF32(bits: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, bits << 16, true);
  return buf.getFloat32(0, true);
}

export function f32ToBf16(value: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, value, true);
  const bits = buf.getUint32(0, true);
  if (Number.isNaN(value)) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff; // round to nearest even
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decode(dtype: SafetensorsDType, data: Uint8Array): Float32Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const size = { F32: 4, F64: 8, F16: 2, BF16: 2 }[dtype as "F32"];
  if (!size) throw new TypeError(`setTensor: dtype ${dtype} is not a float dtype`);
  const out = new Float32Array(data.byteLength / size);
  for (let i = 0; i < out.length; i++) {
    if (dtype === "F32") out[i] = view.getFloat32(i * 4, true);
    else if (dtype === "F64") out[i] = view.getFloat64(i * 8, true);
    else if (dtype === "F16") out[i] = f16ToF32(view.getUint16(i * 2, true));
    else out[i] = bf16ToF32(view.getUint16(i * 2, true));
  }
  return out;
}

interface Param {
  info: ParameterInfo;
  values: Float32Array;
}

export class FakeNativeModel implements NativeModel {
  readonly device: string;
  readonly dtype: ModelDType;
  disposed = false;
  private params = new Map<string, Param>();
  private lora?: NativeLoraConfig;
  private adaptersEnabled = true;
  private rng: number;
  /** Names passed to setTensor, in order (lets tests see what a load touched). */
  readonly setCalls: string[] = [];

  constructor(readonly config: NativeModelConfig, options: { device: DeviceName; dtype: ModelDType; seed?: number }) {
    if (options.dtype !== "float32" && options.dtype !== "bfloat16") throw new RangeError(`fake model: dtype ${options.dtype} not modelled`);
    this.device = options.device;
    this.dtype = options.dtype;
    this.rng = (options.seed ?? 1) >>> 0 || 1;
    const c = config;
    const q = c.num_attention_heads * c.head_dim;
    const kv = c.num_key_value_heads * c.head_dim;
    this.add("model.embed_tokens.weight", [c.vocab_size, c.hidden_size]);
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `model.layers.${l}.`;
      this.add(p + "input_layernorm.weight", [c.hidden_size], 1);
      this.add(p + "self_attn.q_proj.weight", [q, c.hidden_size]);
      this.add(p + "self_attn.k_proj.weight", [kv, c.hidden_size]);
      this.add(p + "self_attn.v_proj.weight", [kv, c.hidden_size]);
      if (c.attention_bias) {
        this.add(p + "self_attn.q_proj.bias", [q]);
        this.add(p + "self_attn.k_proj.bias", [kv]);
        this.add(p + "self_attn.v_proj.bias", [kv]);
      }
      if (c.qk_norm) {
        this.add(p + "self_attn.q_norm.weight", [c.head_dim], 1);
        this.add(p + "self_attn.k_norm.weight", [c.head_dim], 1);
      }
      this.add(p + "self_attn.o_proj.weight", [c.hidden_size, q]);
      this.add(p + "post_attention_layernorm.weight", [c.hidden_size], 1);
      this.add(p + "mlp.gate_proj.weight", [c.intermediate_size, c.hidden_size]);
      this.add(p + "mlp.up_proj.weight", [c.intermediate_size, c.hidden_size]);
      this.add(p + "mlp.down_proj.weight", [c.hidden_size, c.intermediate_size]);
    }
    this.add("model.norm.weight", [c.hidden_size], 1);
    if (!c.tie_word_embeddings) this.add("lm_head.weight", [c.vocab_size, c.hidden_size]);
  }

  private random(): number {
    this.rng ^= this.rng << 13;
    this.rng ^= this.rng >>> 17;
    this.rng ^= this.rng << 5;
    return ((this.rng >>> 0) / 2 ** 32 - 0.5) * 0.04;
  }

  private add(name: string, shape: number[], fill?: number, isAdapter = false): void {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = this.round(fill ?? this.random());
    this.params.set(name, { info: { name, shape, dtype: this.dtype, trainable: true, isAdapter }, values });
  }

  private round(v: number): number {
    return this.dtype === "bfloat16" ? bf16ToF32(f32ToBf16(v)) : v;
  }

  private check(): void {
    if (this.disposed) throw new Error("model has been disposed");
  }

  parameterInfo(): ParameterInfo[] {
    this.check();
    return [...this.params.values()].map((p) => ({ ...p.info, shape: [...p.info.shape] }));
  }

  getTensor(name: string, options: { merged?: boolean } = {}) {
    this.check();
    const p = this.params.get(name);
    if (!p) throw new RangeError(`getTensor: no parameter named "${name}"`);
    let values = p.values;
    const a = this.params.get(name.replace(/\.weight$/, ".lora_A.weight"));
    const b = this.params.get(name.replace(/\.weight$/, ".lora_B.weight"));
    if (options.merged && a && b && this.lora) {
      // W + (alpha / r) B A
      const [out, inn] = p.info.shape;
      const r = this.lora.rank;
      const scale = this.lora.alpha / r;
      values = new Float32Array(values);
      for (let o = 0; o < out; o++)
        for (let i = 0; i < inn; i++) {
          let sum = 0;
          for (let k = 0; k < r; k++) sum += b.values[o * r + k] * a.values[k * inn + i];
          values[o * inn + i] = this.round(values[o * inn + i] + scale * sum);
        }
    }
    if (this.dtype === "bfloat16") {
      const data = new Uint8Array(values.length * 2);
      const view = new DataView(data.buffer);
      values.forEach((v, i) => view.setUint16(i * 2, f32ToBf16(v), true));
      return { dtype: "BF16" as const, shape: [...p.info.shape], data };
    }
    return { dtype: "F32" as const, shape: [...p.info.shape], data: new Uint8Array(new Float32Array(values).buffer) };
  }

  setTensor(name: string, dtype: SafetensorsDType, shape: number[], data: Uint8Array): void {
    this.check();
    const p = this.params.get(name);
    if (!p) throw new RangeError(`setTensor: no parameter named "${name}"`);
    if (shape.join(",") !== p.info.shape.join(",")) throw new RangeError(`setTensor: "${name}" shape [${shape}] != [${p.info.shape}]`);
    const values = decode(dtype, data);
    if (values.length !== p.values.length) throw new RangeError(`setTensor: "${name}" byte length mismatch`);
    for (let i = 0; i < values.length; i++) p.values[i] = this.round(values[i]);
    this.setCalls.push(name);
  }

  addLora(config: NativeLoraConfig): void {
    this.check();
    if (this.lora) throw new Error("addLora: adapters already added");
    this.lora = config;
    for (const [name, p] of [...this.params]) {
      const m = /\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$/.exec(name);
      if (!m || !config.targets.includes(m[1])) continue;
      const [out, inn] = p.info.shape;
      const base = name.replace(/\.weight$/, "");
      this.add(`${base}.lora_A.weight`, [config.rank, inn], undefined, true);
      this.add(`${base}.lora_B.weight`, [out, config.rank], 0, true);
    }
  }

  setAdaptersEnabled(enabled: boolean): void {
    this.adaptersEnabled = enabled;
  }

  score(): never {
    throw new Error("fake model: score is not modelled");
  }

  generate(): never {
    throw new Error("fake model: generate is not modelled");
  }

  scoreGradients(): never {
    throw new Error("fake model: scoreGradients is not modelled");
  }

  setGradientCheckpointing(): never {
    throw new Error("fake model: gradient checkpointing is not modelled");
  }

  cloneFrozen(): never {
    throw new Error("fake model: cloneFrozen is not modelled");
  }

  dispose(): void {
    this.disposed = true;
  }
}
