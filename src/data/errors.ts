/** DataError: a problem with a data file, naming the file and, where known, the row and column. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly row?: number,
    readonly column?: string,
  ) {
    const where = [row !== undefined ? `row ${row}` : "", column !== undefined ? `column "${column}"` : ""]
      .filter((s) => s.length > 0)
      .join(", ");
    super(`${file}: ${where ? where + ": " : ""}${problem}`);
    this.name = "DataError";
  }
}
