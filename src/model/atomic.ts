/**
 * Crash-safe file writes: write beside the target, fsync, rename. A rename within one folder is atomic,
 * so a reader (or a restarted job) sees either the old file or the complete new one, never half of it.
 */
import { promises as fsp } from "fs";
import * as path from "path";

/** A sibling temp path: same folder so the final rename stays on one filesystem. */
export function tempSibling(target: string): string {
  const rand = Math.random().toString(36).slice(2, 10);
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${rand}`);
}

/** fsync a folder so a rename in it survives a power loss; not every platform allows it, so best effort. */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await fsp.open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot open folders; the rename itself is still atomic.
  }
}

/** Writes `contents` to `filePath` through a fsynced temp file and a rename. */
export async function writeFileAtomic(filePath: string, contents: string | Uint8Array): Promise<void> {
  const temp = tempSibling(filePath);
  const handle = await fsp.open(temp, "wx");
  try {
    await handle.writeFile(contents);
    await handle.sync();
    await handle.close();
    await fsp.rename(temp, filePath);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fsp.rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(path.dirname(filePath));
}
