/**
 * Hand-made files for the baseline tests: items A..F (ids 0..5), a 5-row training file and a 7-row
 * evaluation file, text columns only. The expected counts and ranks in the tests are worked out by hand
 * from the rows below.
 */
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { recordsToTable, writeArrowFile, type PreferenceRecord } from "../../src/data/arrow_write";
import { preferenceSchema } from "../../src/data/schema";

export const ITEMS = ["A", "B", "C", "D", "E", "F"];
const id = (title: string): number => ITEMS.indexOf(title);

/** [history, target, candidates] */
type Row = [string[], string, string[]];

export const TRAIN_ROWS: Row[] = [
  [["A", "B"], "C", ["C", "D", "E", "F"]],
  [["A"], "C", ["D", "C", "E", "F"]],
  [["B", "C"], "D", ["A", "D", "E", "F"]],
  [["A", "D"], "B", ["B", "C", "E", "F"]],
  [["E"], "C", ["A", "B", "C", "F"]],
];

export const EVAL_ROWS: Row[] = [
  [["A"], "B", ["B", "C", "D", "F"]],
  [["B", "D"], "D", ["C", "B", "D", "E"]],
  [["C", "E"], "D", ["A", "D", "F", "C"]],
  [["F"], "E", ["E", "F", "A", "B"]],
  [["A", "B"], "F", ["D", "F", "E", "B"]],
  [["E"], "A", ["A", "B", "F", "D"]],
  [["A"], "C", ["C", "D", "E", "F"]],
];

export function records(rows: Row[]): PreferenceRecord[] {
  return rows.map(([history, target, candidates], i) => ({
    prompt: `row ${i}: ${history.join(", ")}`,
    chosen: target,
    rejected: [],
    candidates,
    history,
    chosenItem: id(target),
    rejectedItems: [],
    candidateItems: candidates.map(id),
  }));
}

export class BaselineFiles {
  readonly dir = mkdtempSync(join(tmpdir(), "sdpo-baselines-"));

  /** Writes `rows` as an Arrow file (record batches of 2 rows, so reading crosses batches). */
  write(name: string, rows: Row[], items: string[] = ITEMS): string {
    const file = join(this.dir, name);
    const schema = preferenceSchema({ templates: ["{history} {candidates}"], items, rows: rows.length });
    writeArrowFile(recordsToTable(records(rows), schema, 2), file);
    return file;
  }

  get train(): string {
    return this.write("train.arrow", TRAIN_ROWS);
  }

  get eval(): string {
    return this.write("eval.arrow", EVAL_ROWS);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
