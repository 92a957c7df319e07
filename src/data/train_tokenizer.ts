/**
 * Byte-level BPE training for models trained from scratch.
 *
 * The `tokenizers` JS binding trains only with the model's default trainer (no vocab size, no special
 * tokens), so we let it learn the merges (the Rust trainer, deterministic), then keep the first
 * `vocabSize - 256 - specials` merges: BPE training is greedy, so that prefix is exactly what a trainer
 * with the smaller vocabulary would have produced. The vocabulary is the full 256-symbol byte alphabet
 * (so any text encodes, unseen characters included), the kept merges, then the special tokens.
 *
 * The Rust trainer writes its (hidden) progress bars' line feeds straight to file descriptor 1, where no
 * JavaScript stream can catch them: it runs in a child process whose stdout is discarded, so a command that
 * trains a tokenizer prints nothing but its own lines.
 */
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { Tokenizer as HfTokenizer, byteLevelAlphabet } from "tokenizers";

/** The child's program: train the default BPE trainer on argv[1] with the byte-level pre-tokenizer, save to argv[2]. */
const LEARN_MERGES = `
const [modulePath, corpus, saved] = process.argv.slice(1);
const { BPE, Tokenizer, byteLevelPreTokenizer } = require(modulePath);
const trainer = new Tokenizer(BPE.empty());
trainer.setPreTokenizer(byteLevelPreTokenizer(false, true));
trainer.train([corpus]);
trainer.save(saved);
`;

/** Runs the Rust BPE trainer on `corpus` in a child process (its stdout discarded); returns the saved tokenizer's text. */
function learnInChild(corpus: string, saved: string): string {
  const run = spawnSync(process.execPath, ["-e", LEARN_MERGES, require.resolve("tokenizers"), corpus, saved], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.error) throw new Error(`tokenizer training could not start: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`tokenizer training failed (exit ${run.status ?? run.signal}): ${run.stderr.trim().split("\n").slice(-3).join(" ")}`);
  return readFileSync(saved, "utf8");
}

export const DEFAULT_SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>"];

export interface TrainTokenizerOptions {
  /** Total ids, specials included. */
  vocabSize: number;
  /** Appended after the learned tokens; the first is the EOS. */
  specialTokens?: string[];
}

/** Learns a byte-level BPE tokenizer from `texts`; returns the tokenizer.json text. */
export function trainByteLevelBpe(texts: string[], options: TrainTokenizerOptions): string {
  const specials = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const alphabet = byteLevelAlphabet().sort();
  const mergeBudget = options.vocabSize - alphabet.length - specials.length;
  if (!Number.isInteger(options.vocabSize) || mergeBudget < 0) {
    throw new RangeError(
      `vocabSize must be an integer >= ${alphabet.length + specials.length} (256 bytes + ${specials.length} special tokens), got ${options.vocabSize}`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "sdpo-bpe-"));
  let learned: string[][];
  try {
    const corpus = join(dir, "corpus.txt");
    writeFileSync(corpus, texts.join("\n"));
    const merges = JSON.parse(learnInChild(corpus, join(dir, "trained.json"))).model.merges as (string | string[])[];
    // tokenizers writes merges as ["a", "b"] pairs; older versions as "a b" strings.
    learned = merges.map((m) => (Array.isArray(m) ? m : m.split(" ")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const vocab: Record<string, number> = {};
  let next = 0;
  for (const symbol of alphabet) vocab[symbol] = next++;
  const merges: string[][] = [];
  for (const [a, b] of learned) {
    if (merges.length === mergeBudget) break;
    const token = a + b;
    if (vocab[token] !== undefined) continue;
    vocab[token] = next++;
    merges.push([a, b]);
  }
  const addedTokens = specials.map((content) => ({
    id: next++,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", ...byteLevel },
    post_processor: { type: "ByteLevel", ...byteLevel },
    decoder: { type: "ByteLevel", ...byteLevel },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const text = JSON.stringify(json);
  HfTokenizer.fromString(text); // refuse to hand back something the library cannot load
  return text;
}

/** Writes `text` to `path` through a temporary file and a rename, so readers never see half a file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(temp, data);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
