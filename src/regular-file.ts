/**
 * Opening input files (model folders, tokenizers, JSON and templates): regular files only. A FIFO, socket or device in a file's place would
 * block a read forever (a FIFO waits for a writer) or stream without end, so each file is opened without
 * blocking and refused unless fstat says it is a regular file; the check and the read use one descriptor.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, promises as fsp, readFileSync } from "fs";

export class NotRegularFileError extends Error {
  override name = "NotRegularFileError";
}

function refuse(file: string, kind: string): never {
  throw new NotRegularFileError(`${file}: is a ${kind}, not a regular file`);
}

function kindOf(stat: import("fs").Stats): string {
  if (stat.isDirectory()) return "folder";
  if (stat.isFIFO()) return "FIFO";
  if (stat.isSocket()) return "socket";
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return "device";
  return "special file";
}

/** A read-only handle on `file`, which must be a regular file. */
export async function openRegularFile(file: string): Promise<fsp.FileHandle> {
  const handle = await fsp.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) refuse(file, kindOf(stat));
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** The text of `file`, which must be a regular file. */
export async function readRegularFile(file: string): Promise<string> {
  const handle = await openRegularFile(file);
  try {
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/** The text of `file`, which must be a regular file (synchronous readers: JSON inputs, templates, tokenizers). */
export function readRegularFileSync(file: string): string {
  const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) refuse(file, kindOf(stat));
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
