/**
 * The CLI's data and tokenizer flags take a file or the name of a dataset shipped with the package
 * (src/data/shipped.ts), so they work from any folder:
 *   --data lastfm        the training split for `sdpo train` / `sdpo baseline`, the validation split for
 *                        `sdpo eval` / `sdpo baseline eval` and for every --eval;
 *   --data lastfm:valid  a split named explicitly (train or valid);
 *   --tokenizer lastfm   the dataset's tokenizer.json.
 * A name wins over a file of the same name in the current folder: reach such a file as ./lastfm.
 */
import { isShippedDatasetName, shippedDataset, type ShippedDatasetName } from "../data/shipped";

export type Split = "train" | "valid";

export interface DataArg {
  /** The file to read: a path as given, or the shipped split's absolute path. */
  file: string;
  /** Set when the value named a shipped dataset. */
  dataset?: ShippedDatasetName;
  /** With a dataset: its tokenizer.json (the one its token ids were made with). */
  tokenizer?: string;
}

const REFERENCE = /^([A-Za-z0-9_-]+)(?::([A-Za-z0-9_-]*))?$/;

/** `lastfm` or `lastfm:<split>` when `value` names a shipped dataset; null for anything else (a path). */
export function datasetReference(value: string): { name: ShippedDatasetName; split?: string } | null {
  const m = REFERENCE.exec(value);
  if (!m || !isShippedDatasetName(m[1])) return null;
  return m[2] === undefined ? { name: m[1] } : { name: m[1], split: m[2] };
}

/** A --data / --eval value: the file it names, `split` of the dataset when it is a dataset name. */
export function resolveDataArg(value: string, split: Split, flag: string): DataArg {
  const ref = datasetReference(value);
  if (!ref) return { file: value };
  const wanted = ref.split ?? split;
  if (wanted !== "train" && wanted !== "valid") {
    throw new Error(`${flag} ${value}: the shipped dataset ${ref.name} has the splits train and valid (${ref.name}:train, ${ref.name}:valid)`);
  }
  const data = shippedDataset(ref.name);
  return { file: data[wanted], dataset: ref.name, tokenizer: data.tokenizer };
}

/** A --tokenizer value: the file it names, or a shipped dataset's tokenizer.json. */
export function resolveTokenizerArg(value: string, flag = "--tokenizer"): string {
  const ref = datasetReference(value);
  if (!ref) return value;
  if (ref.split !== undefined) throw new Error(`${flag} ${value}: name the dataset alone (${ref.name}); its splits share one tokenizer`);
  return shippedDataset(ref.name).tokenizer;
}
