/**
 * No import circles among src/ modules. A circle makes a module see another half-initialised (undefined
 * exports at load time, depending on which is required first) and ties the two into one idea; type-only
 * imports count too, since they tie the files together as much. Imports are read with the TypeScript
 * compiler's own scanner (import / export ... from, require, import()).
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const srcRoot = path.resolve(__dirname, "..", "src");

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [full] : [];
  });
}

/** The .ts file a relative specifier names (./x -> x.ts or x/index.ts), or null for packages and other files. */
function resolveSpecifier(from: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, "index.ts")]) if (fs.existsSync(candidate)) return candidate;
  return null;
}

/** Module -> the src modules it imports. */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    const targets = info.importedFiles.map((f) => resolveSpecifier(file, f.fileName)).filter((t): t is string => t !== null);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every circle found by a depth-first walk, each as the modules along it (first one repeated at the end). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe("import circles", () => {
  test("the walk finds a circle, also through a type-only import, and not a mere diamond", () => {
    const graph = new Map([
      ["a", ["b", "c"]],
      ["b", ["d"]],
      ["c", ["d"]],
      ["d", []],
      ["e", ["f"]],
      ["f", ["e"]],
    ]);
    expect(findCycles(graph)).toEqual([["e", "f", "e"]]);
    const dir = fs.mkdtempSync(path.join(require("os").tmpdir(), "sdpo-cycles-"));
    try {
      fs.writeFileSync(path.join(dir, "x.ts"), 'import type { Y } from "./y";\nexport interface X { y: Y }\n');
      fs.writeFileSync(path.join(dir, "y.ts"), 'import {\n  type X,\n} from "./x";\nexport const y = (x: X) => x;\nexport type Y = typeof y;\n');
      const cycles = findCycles(importGraph(sourceFiles(dir)));
      expect(cycles.map((c) => c.map((f) => path.basename(f)))).toEqual([["x.ts", "y.ts", "x.ts"]]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("src/ has none", () => {
    const graph = importGraph(sourceFiles(srcRoot));
    expect(graph.size).toBeGreaterThan(50);
    const cycles = findCycles(graph).map((c) => c.map((f) => path.relative(srcRoot, f)).join(" -> "));
    expect(cycles).toEqual([]);
  });
});
