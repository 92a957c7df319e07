/** baseline.json: writing a baseline folder atomically and reading its header back with checks. */
import { promises as fsp } from "fs";
import * as path from "path";
import { writeFolderAtomic } from "../model/atomic";
import { BASELINE_FILE, BASELINE_FORMAT, isBaselineKind, type BaselineHeader, type BaselineSource } from "./baseline";

/**
 * Writes folder `dir` holding baseline.json (`json`) and whatever `fill` adds, through a temp folder
 * renamed into place, so `dir` is either the old folder or the whole new one.
 */
export async function writeBaselineFolder(
  dir: string,
  json: BaselineHeader & Record<string, unknown>,
  options: { overwrite?: boolean },
  fill?: (tempDir: string) => Promise<void>
): Promise<void> {
  await writeFolderAtomic(path.resolve(dir), { overwrite: options.overwrite === true, caller: "baseline save" }, async (temp) => {
    if (fill) await fill(temp);
    await fsp.writeFile(path.join(temp, BASELINE_FILE), JSON.stringify(json) + "\n");
  });
}

function checkSource(value: unknown, where: string): BaselineSource {
  const s = value as Partial<BaselineSource> | null;
  const ok =
    s !== null &&
    typeof s === "object" &&
    typeof s.file === "string" &&
    typeof s.sha256 === "string" &&
    typeof s.itemsSha256 === "string" &&
    Number.isInteger(s.rows) &&
    Number.isInteger(s.itemCount) &&
    (s.itemCount as number) > 0;
  if (!ok) throw new Error(`${where}: "source" must hold file, sha256, rows, itemCount and itemsSha256`);
  return s as BaselineSource;
}

/** Reads dir/baseline.json: its header checked, every other field as written. */
export async function readBaselineJson(dir: string): Promise<BaselineHeader & Record<string, unknown>> {
  const file = path.join(dir, BASELINE_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === "ENOENT" ? `${dir}: no ${BASELINE_FILE}; not a folder written by \`sdpo baseline\`` : `${file}: cannot read (${(err as Error).message})`);
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== "object") throw new Error(`${file}: expected a JSON object`);
  if (json.format !== BASELINE_FORMAT) throw new Error(`${file}: format ${JSON.stringify(json.format)}, expected "${BASELINE_FORMAT}"`);
  if (!isBaselineKind(json.kind)) throw new Error(`${file}: unknown kind ${JSON.stringify(json.kind)}`);
  return { ...json, format: BASELINE_FORMAT, kind: json.kind, source: checkSource(json.source, file) };
}

/** The header of a baseline fitted on `data`. */
export function sourceOf(file: string, data: { rows: readonly unknown[]; items: readonly string[]; itemsSha256: string; fileSha256?: string }): BaselineSource {
  return { file, sha256: data.fileSha256 ?? "", rows: data.rows.length, itemCount: data.items.length, itemsSha256: data.itemsSha256 };
}
