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
