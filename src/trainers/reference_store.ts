/**
 * A precomputed-reference run's reference log-probs, stored in every checkpoint (reference_logps.arrow), so a
 * resumed run reads them back instead of scoring its data again: the reference policy runs once per run, and
 * resuming does not need the model to hold the starting weights. One row per (data role, example row, response):
 * role utf8 ("train" / "eval"), row int32, prompt_hash int32 (the row's promptHash, checked at every lookup),
 * response utf8 (the response's token ids, comma-separated), logp float64.
 */
import * as fsp from "fs/promises";
import { Float64, Int32, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from "apache-arrow";
import { writeFileAtomic } from "../model/atomic";
import type { StoredReference } from "./reference_cache";

export const REFERENCE_FILE = "reference_logps.arrow";
/** Larger files are refused before reading: 2^31 bytes is far beyond any real run's reference log-probs. */
const MAX_BYTES = 2 ** 31;

/** Writes each role's stored scores to `file`, atomically. */
export async function writeReferenceLogps(file: string, byRole: Map<string, StoredReference>): Promise<void> {
  const role: string[] = [];
  const row: number[] = [];
  const promptHash: number[] = [];
  const response: string[] = [];
  const logp: number[] = [];
  for (const [name, stored] of byRole) {
    for (const [r, responses] of stored.logps) {
      const hash = stored.prompts.get(r);
      if (hash === undefined) throw new Error(`writeReferenceLogps: row ${r} of ${name} has log-probs but no prompt hash`);
      for (const [key, value] of responses) {
        role.push(name);
        row.push(r);
        promptHash.push(hash);
        response.push(key);
        logp.push(value);
      }
    }
  }
  const table = new Table({
    role: vectorFromArray(role, new Utf8()),
    row: vectorFromArray(row, new Int32()),
    prompt_hash: vectorFromArray(promptHash, new Int32()),
    response: vectorFromArray(response, new Utf8()),
    logp: vectorFromArray(logp, new Float64()),
  });
  await writeFileAtomic(file, tableToIPC(table, "file"));
}

/** The stored log-probs by role, or undefined when `file` does not exist; anything malformed throws naming the file. */
export async function readReferenceLogps(file: string): Promise<Map<string, StoredReference> | undefined> {
  let size: number;
  try {
    const stat = await fsp.stat(file);
    if (!stat.isFile()) throw new Error(`${file} is not a regular file`);
    size = stat.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`resumeFrom: cannot read the stored reference log-probs: ${(err as Error).message}`);
  }
  if (size > MAX_BYTES) throw new Error(`resumeFrom: ${file} is ${size} bytes, more than stored reference log-probs can be (${MAX_BYTES})`);
  let table: Table;
  try {
    table = tableFromIPC(await fsp.readFile(file));
  } catch (err) {
    throw new Error(`resumeFrom: ${file} is not a readable Arrow file (${(err as Error).message})`);
  }
  const column = (name: string, type: string) => {
    const vector = table.getChild(name);
    if (!vector || String(vector.type) !== type) throw new Error(`resumeFrom: ${file} has no ${type} column '${name}'`);
    return vector;
  };
  const role = column("role", "Utf8");
  const row = column("row", "Int32");
  const hashes = column("prompt_hash", "Int32");
  const response = column("response", "Utf8");
  const logp = column("logp", "Float64");
  const byRole = new Map<string, StoredReference>();
  for (let i = 0; i < table.numRows; i++) {
    const name = role.get(i) as string | null;
    const r = row.get(i) as number | null;
    const hash = hashes.get(i) as number | null;
    const key = response.get(i) as string | null;
    const value = logp.get(i) as number | null;
    if (name === null || r === null || r < 0 || hash === null || key === null || !/^-?\d+(,-?\d+)*$/.test(key) || value === null || !Number.isFinite(value) || value > 0) {
      throw new Error(`resumeFrom: ${file}, row ${i}: not a reference log-prob (role ${String(name)}, row ${String(r)}, response ${JSON.stringify(key)}, logp ${String(value)})`);
    }
    let stored = byRole.get(name);
    if (!stored) byRole.set(name, (stored = { logps: new Map(), prompts: new Map() }));
    const known = stored.prompts.get(r);
    if (known !== undefined && known !== hash) throw new Error(`resumeFrom: ${file}, row ${i}: row ${r} of ${name} has two prompt hashes`);
    stored.prompts.set(r, hash);
    let responses: Map<string, number> | undefined = stored.logps.get(r);
    if (!responses) stored.logps.set(r, (responses = new Map()));
    responses.set(key, value);
  }
  return byRole;
}
