/**
 * The datasets that ship inside the package (datasets/<name>/), found from the installed package rather than
 * the current folder: `shippedDataset("lastfm")` gives absolute paths wherever the caller runs.
 */
import * as fs from "fs";
import * as path from "path";

/** The names `shippedDataset` and the CLI's --data / --eval / --tokenizer accept. */
export const SHIPPED_DATASETS = ["lastfm"] as const;
export type ShippedDatasetName = (typeof SHIPPED_DATASETS)[number];

/** Absolute paths of a shipped dataset's files. */
export interface ShippedDataset {
  name: ShippedDatasetName;
  /** The folder holding them (with its README.md: provenance, licence, how the files were made). */
  dir: string;
  /** Training split (.arrow). */
  train: string;
  /** Validation split (.arrow): what `sdpo eval --data lastfm` evaluates on. */
  valid: string;
  /** The tokenizer.json the splits' token ids were made with. */
  tokenizer: string;
}

/** How error messages name each dataset. */
const LABELS: Record<ShippedDatasetName, string> = { lastfm: "LastFM" };

export function isShippedDatasetName(name: string): name is ShippedDatasetName {
  return (SHIPPED_DATASETS as readonly string[]).includes(name);
}

/** The folder holding softmax-dpo's package.json (from src/, dist/src/ or any folder below them), not the cwd. */
export function packageRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest)) {
      try {
        if ((JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string }).name === "softmax-dpo") return dir;
      } catch {
        // an unreadable package.json is not ours; keep looking upwards
      }
    }
    if (path.dirname(dir) === dir) throw new Error(`cannot find the softmax-dpo package root above ${from}`);
  }
}

/**
 * The files of a dataset shipped with the package, as absolute paths: `shippedDataset("lastfm").valid`.
 * Throws for an unknown name (listing the known ones) and when a file is missing (naming it).
 */
export function shippedDataset(name: string, root: string = packageRoot()): ShippedDataset {
  if (!isShippedDatasetName(name)) {
    throw new Error(`no shipped dataset named ${JSON.stringify(name)} (shipped: ${SHIPPED_DATASETS.join(", ")})`);
  }
  const dir = path.join(root, "datasets", name);
  const files: ShippedDataset = {
    name,
    dir,
    train: path.join(dir, "train.arrow"),
    valid: path.join(dir, "valid.arrow"),
    tokenizer: path.join(dir, "tokenizer.json"),
  };
  for (const file of [files.train, files.valid, files.tokenizer]) {
    if (!fs.existsSync(file)) throw new Error(`the shipped ${LABELS[name]} data is incomplete: ${file} is missing`);
  }
  return files;
}
