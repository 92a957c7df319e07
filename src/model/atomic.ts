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

/**
 * Writes `filePath` through a temp file beside it: `fill` writes the contents, then the file is fsynced and
 * renamed into place, so readers see the old file or the whole new one. On failure the temp file is removed.
 */
export async function writeFileAtomicWith(filePath: string, fill: (handle: fsp.FileHandle) => Promise<void>): Promise<void> {
  const temp = tempSibling(filePath);
  const handle = await fsp.open(temp, "wx");
  try {
    await fill(handle);
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

/** Writes `contents` to `filePath` through a fsynced temp file and a rename. */
export async function writeFileAtomic(filePath: string, contents: string | Uint8Array): Promise<void> {
  await writeFileAtomicWith(filePath, (handle) => handle.writeFile(contents));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/**
 * Cleans up after a writer of `target` that died mid-way (its pid is gone): if it died between moving
 * the old folder aside and moving the new one in, the old one is put back; its temp folders are removed.
 */
export async function recoverInterruptedWrites(target: string): Promise<void> {
  const parent = path.dirname(target);
  const prefix = `.${path.basename(target)}.tmp-`;
  let entries: string[];
  try {
    entries = await fsp.readdir(parent);
  } catch {
    return;
  }
  const stale = entries.filter((e) => {
    if (!e.startsWith(prefix)) return false;
    const pid = Number(e.slice(prefix.length).split("-")[0]);
    return Number.isSafeInteger(pid) && pid !== process.pid && !isAlive(pid);
  });
  for (const e of stale.filter((s) => s.endsWith(".old"))) {
    const targetExists = await fsp.access(target).then(() => true, () => false);
    if (!targetExists) await fsp.rename(path.join(parent, e), target);
  }
  for (const e of stale) await fsp.rm(path.join(parent, e), { recursive: true, force: true });
}

/**
 * Builds a folder atomically: `fill` writes into a fresh temp folder beside `target`, which is then
 * fsynced and renamed into place. An existing `target` is replaced only when `overwrite` is set: it is
 * moved aside first and deleted once the new folder is in place. On any error the temp folder is removed
 * and `target` is as it was.
 */
export async function writeFolderAtomic(
  target: string,
  options: { overwrite: boolean; caller: string },
  fill: (tempDir: string) => Promise<void>
): Promise<void> {
  const exists = (p: string) => fsp.access(p).then(() => true, () => false);
  await recoverInterruptedWrites(target);
  if ((await exists(target)) && !options.overwrite) {
    throw new Error(`${options.caller}: ${target} already exists; pass { overwrite: true } to replace it`);
  }
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const temp = tempSibling(target);
  await fsp.mkdir(temp);
  try {
    await fill(temp);
    await syncDirectory(temp);
    if (!(await exists(target))) {
      await fsp.rename(temp, target);
    } else {
      // Between these two renames the old folder sits at `.old` and the new one at temp, both whole;
      // recoverInterruptedWrites puts the old one back if the process dies there.
      const aside = `${temp}.old`;
      await fsp.rename(target, aside);
      try {
        await fsp.rename(temp, target);
      } catch (err) {
        await fsp.rename(aside, target).catch(() => undefined);
        throw err;
      }
      await fsp.rm(aside, { recursive: true, force: true });
    }
  } catch (err) {
    await fsp.rm(temp, { recursive: true, force: true });
    throw err;
  }
  await syncDirectory(path.dirname(target));
}
