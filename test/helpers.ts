/**
 * Shared test helpers.
 *
 * Errors made by the native addon come from Node's main realm, while jest runs tests in a vm
 * context with its own RangeError/TypeError constructors, so `toThrow(RangeError)` fails across
 * realms. Compare by name and message instead.
 */
export function thrownBy(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the call to throw, and it returned normally");
}

export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the promise to reject, and it resolved");
}

/** Asserts `fn` throws an error whose name is `name` and whose message matches `message`. */
export function expectThrows(fn: () => unknown, name: "TypeError" | "RangeError" | "Error", message?: RegExp): void {
  const err = thrownBy(fn);
  expect(err.name).toBe(name);
  if (message) expect(err.message).toMatch(message);
}

/**
 * Keys of a machine-readable output (nested objects and arrays included) that are not camelCase, as
 * "path.to.key": `sdpo eval --json`, `sdpo baseline --json` and `sdpo bench` share that convention.
 */
export function nonCamelCaseKeys(value: unknown, at = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => nonCamelCaseKeys(v, `${at}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, v]) => [
    ...(/^[a-z][a-zA-Z0-9]*$/.test(key) ? [] : [`${at}${at ? "." : ""}${key}`]),
    ...nonCamelCaseKeys(v, `${at}${at ? "." : ""}${key}`),
  ]);
}
