/**
 * Model: the TypeScript face of the native decoder (NativeModel). Scores candidate responses against
 * shared prompts and generates greedily; loading lives in checkpoint.ts, saving in save.ts.
 */
import type { Tokenizer } from "../data/tokenizer";
import type { PackedTokens } from "../data/batch";
import type { DeviceName, ModelDType, NativeLoraConfig, NativeModel, NativeModelConfig, ParameterInfo } from "../native";
import { saveModel, type SaveOptions } from "./save";

/** Prompts as token lists, or packed (values + offsets, e.g. a PreferenceBatch column). */
export type PromptTokens = number[][] | PackedTokens;

export interface ScoreCandidatesOptions {
  /** Override the adapters switch for this call; false scores with the reference policy. */
  adapters?: boolean;
  /** Also return per-token log-probs. */
  tokenLogps?: boolean;
}

export interface CandidateScores {
  /** [prompt][candidate] summed log p(candidate | prompt). */
  logps: number[][];
  /** [prompt][candidate][token] per-token log-probs (when asked for). */
  tokenLogps?: number[][][];
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** End-of-sequence token id: a prompt's generation stops after producing it. */
  eos: number;
  /** Constrained decoding: per prompt, the token lists it may produce (then EOS). */
  allowed?: number[][][];
  adapters?: boolean;
}

export const DEFAULT_LORA: NativeLoraConfig = {
  rank: 8,
  alpha: 16,
  dropout: 0,
  targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
};

export class Model {
  readonly native: NativeModel;
  readonly config: NativeModelConfig;
  /** The tokenizer loaded with the checkpoint, if any (see checkpoint.ts). */
  readonly tokenizer?: Tokenizer;
  /** The checkpoint folder it came from, if any. */
  readonly path?: string;

  constructor(native: NativeModel, extras: { tokenizer?: Tokenizer; path?: string } = {}) {
    this.native = native;
    this.config = native.config;
    this.tokenizer = extras.tokenizer;
    this.path = extras.path;
  }

  get device(): DeviceName {
    return this.native.device as DeviceName;
  }
  get dtype(): ModelDType {
    return this.native.dtype;
  }
  get disposed(): boolean {
    return this.native.disposed;
  }
  get hasAdapters(): boolean {
    return this.native.parameterInfo().some((p) => p.isAdapter);
  }

  parameterInfo(): ParameterInfo[] {
    return this.native.parameterInfo();
  }

  /** Adds LoRA adapters (defaults: rank 8, alpha 16, no dropout, every linear layer); the base is frozen. */
  addLora(config: Partial<NativeLoraConfig> = {}): void {
    this.native.addLora({ ...DEFAULT_LORA, ...config });
  }

  setAdaptersEnabled(enabled: boolean): void {
    this.native.setAdaptersEnabled(enabled);
  }

  /** Recompute each decoder layer in backward instead of keeping its activations (training only). */
  setGradientCheckpointing(enabled: boolean): void {
    this.native.setGradientCheckpointing(enabled);
  }

  /**
   * Scores each prompt's candidate responses: log p(candidate | prompt), the prompt encoded once.
   * `candidateIds[i]` are prompt i's candidates (token lists, each non-empty).
   */
  async scoreCandidates(promptIds: PromptTokens, candidateIds: number[][][], options: ScoreCandidatesOptions = {}): Promise<CandidateScores> {
    const prompts = packPrompts(promptIds);
    const P = prompts.offsets.length - 1;
    if (!Array.isArray(candidateIds) || candidateIds.length !== P) {
      throw new RangeError(`scoreCandidates: candidateIds must hold one list of candidates per prompt (${P}), got ${Array.isArray(candidateIds) ? candidateIds.length : typeof candidateIds}`);
    }
    const responseIds: number[] = [];
    const responseOffsets = [0];
    const responsePrompt: number[] = [];
    candidateIds.forEach((candidates, p) => {
      if (!Array.isArray(candidates)) throw new TypeError(`scoreCandidates: candidateIds[${p}] must be an array of token lists`);
      candidates.forEach((tokens, c) => {
        pushTokens(responseIds, tokens, `candidateIds[${p}][${c}]`);
        responseOffsets.push(responseIds.length);
        responsePrompt.push(p);
      });
    });
    const result = await this.native.score(
      {
        promptIds: prompts.values,
        promptOffsets: prompts.offsets,
        responseIds: Int32Array.from(responseIds),
        responseOffsets: Int32Array.from(responseOffsets),
        responsePrompt: Int32Array.from(responsePrompt),
      },
      { adapters: options.adapters, tokenLogps: options.tokenLogps ?? false }
    );
    const logps: number[][] = [];
    const tokenLogps: number[][][] = [];
    let r = 0;
    for (const candidates of candidateIds) {
      const row: number[] = [];
      const tokenRow: number[][] = [];
      for (let c = 0; c < candidates.length; c++, r++) {
        row.push(result.logps[r]);
        if (result.tokenLogps) tokenRow.push(Array.from(result.tokenLogps.subarray(responseOffsets[r], responseOffsets[r + 1])));
      }
      logps.push(row);
      tokenLogps.push(tokenRow);
    }
    return options.tokenLogps ? { logps, tokenLogps } : { logps };
  }

  /** Greedy decoding: each prompt's new tokens, the EOS that ended it included. */
  async generate(promptIds: PromptTokens, options: GenerateOptions): Promise<number[][]> {
    const prompts = packPrompts(promptIds);
    const P = prompts.offsets.length - 1;
    let allowed: { ids: Int32Array; offsets: Int32Array; promptOffsets: Int32Array } | undefined;
    if (options.allowed !== undefined) {
      if (!Array.isArray(options.allowed) || options.allowed.length !== P) {
        throw new RangeError(`generate: options.allowed must hold one list of candidates per prompt (${P})`);
      }
      const ids: number[] = [];
      const offsets = [0];
      const promptOffsets = [0];
      options.allowed.forEach((lists, p) => {
        if (!Array.isArray(lists)) throw new TypeError(`generate: options.allowed[${p}] must be an array of token lists`);
        lists.forEach((tokens, l) => {
          pushTokens(ids, tokens, `options.allowed[${p}][${l}]`, true);
          offsets.push(ids.length);
        });
        promptOffsets.push(offsets.length - 1);
      });
      allowed = { ids: Int32Array.from(ids), offsets: Int32Array.from(offsets), promptOffsets: Int32Array.from(promptOffsets) };
    }
    const out = await this.native.generate(prompts.values, prompts.offsets, {
      maxNewTokens: options.maxNewTokens,
      eosTokenId: options.eos,
      adapters: options.adapters,
      allowed,
    });
    const lists: number[][] = [];
    for (let p = 0; p < P; p++) lists.push(Array.from(out.ids.subarray(out.offsets[p], out.offsets[p + 1])));
    return lists;
  }

  /** Saves a Hugging Face-format folder (see saveModel in save.ts). */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    await saveModel(this, dir, options);
  }

  dispose(): void {
    this.native.dispose();
  }
}

function pushTokens(into: number[], tokens: unknown, where: string, allowEmpty = false): void {
  if (!Array.isArray(tokens)) throw new TypeError(`${where} must be an array of token ids`);
  if (tokens.length === 0 && !allowEmpty) throw new RangeError(`${where} is empty`);
  tokens.forEach((t, j) => {
    if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) throw new RangeError(`${where}[${j}] = ${String(t)} is not a token id`);
    into.push(t as number);
  });
}

function packPrompts(prompts: PromptTokens): { values: Int32Array; offsets: Int32Array } {
  if (Array.isArray(prompts)) {
    const values: number[] = [];
    const offsets = [0];
    prompts.forEach((tokens, i) => {
      pushTokens(values, tokens, `promptIds[${i}]`);
      offsets.push(values.length);
    });
    return { values: Int32Array.from(values), offsets: Int32Array.from(offsets) };
  }
  // By tag, not instanceof: arrays made natively or in another realm (jest's vm) are Int32Arrays too.
  const isInt32 = (a: unknown) => Object.prototype.toString.call(a) === "[object Int32Array]";
  if (prompts && isInt32(prompts.values) && isInt32(prompts.offsets)) {
    return { values: prompts.values, offsets: prompts.offsets };
  }
  throw new TypeError("promptIds must be number[][] or packed tokens {values: Int32Array, offsets: Int32Array}");
}
