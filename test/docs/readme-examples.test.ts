/**
 * README's TypeScript examples, as a user's project sees them (issue 13): every ```ts block of README.md is written
 * into a temporary project whose node_modules/softmax-dpo is a symlink to this checkout (so package.json's `main`
 * and `types`, dist/src, are what it gets), type-checked with the repository's TypeScript under a strict CommonJS
 * tsconfig ("module": "commonjs") and a strict "module": "nodenext" one (what `tsc --init` writes; there a
 * `.mts` block is an ES module), and run with node: CommonJS blocks from the commonjs build, `.mts` blocks as
 * ES modules from the nodenext build. The examples read EPOCHS from the environment (visible in README) and
 * the test sets EPOCHS=0.01, so each training example trains a few steps.
 *
 * Conventions of README's blocks:
 * - a first line `// name.ts: ...` or `// name.mts: ...` names the file (a `.mts` block is an ES module);
 * - `<!-- doc-test: no-run (why) -->` on the line before a block: type-checked, never run (say why);
 * - every block imports from "softmax-dpo" and names no file of the repository (datasets/...): data come from
 *   shippedDataset("lastfm") or from paths the reader supplies.
 *
 * Also type-checked: a file of `// @ts-expect-error` lines (a loss name outside LossName, fit(42), ...) that must
 * each fail to compile, and the types the issue found missing from the index, imported by name.
 * Needs dist/ (npx tsc -p tsconfig.build.json, or npm run build:ts); skipped with the reason when it is absent.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");
const readmePath = path.join(root, "README.md");
const tscBin = path.join(root, "node_modules", "typescript", "bin", "tsc");

export interface ReadmeBlock {
  /** 1-based line of README.md where the block's code starts. */
  line: number;
  code: string;
  /** File name the block asks for (`// train.mts: ...`), else a generated one. */
  file: string;
  esm: boolean;
  /** Why the block is not run (from `<!-- doc-test: no-run (why) -->`), or null. */
  noRun: string | null;
}

/** Every ```ts (or ```typescript / ```mts / ```cts) block of a markdown text, with its marks. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split("\n");
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript|mts|cts)\b(.*)$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    if (end >= lines.length) throw new Error(`README.md:${i + 1}: a ${open[1]} block is never closed`);
    const code = lines.slice(start, end).join("\n") + "\n";
    let prev = i - 1;
    while (prev >= 0 && lines[prev].trim() === "") prev--;
    const mark = prev >= 0 ? /^<!--\s*doc-test:\s*(.*?)\s*-->$/.exec(lines[prev].trim()) : null;
    let noRun: string | null = null;
    if (mark) {
      const m = /^no-run\s*\((.+)\)$/.exec(mark[1]);
      if (!m) throw new Error(`README.md:${prev + 1}: unknown doc-test mark '${mark[1]}' (known: no-run (why))`);
      noRun = m[1];
    }
    const named = /^\/\/\s*([\w.-]+\.(m|c)?ts)\b/.exec(code);
    const n = String(blocks.length + 1).padStart(2, "0");
    const file = named ? named[1] : `example${n}.ts`;
    blocks.push({ line: start + 1, code, file, esm: file.endsWith(".mts") || open[1] === "mts", noRun });
    i = end;
  }
  return blocks;
}

/** What must fail to compile (each line after a @ts-expect-error), and the public types that must be importable. */
const TYPE_TESTS = `import {
  createModel,
  createTrainer,
  presetConfig,
  SDPOTrainer,
  type FitOptions,
  type LossName,
  type PackedResponsesInput,
  type PreferenceData,
  type PreferenceSource,
  type ResolvedOptions,
  type TrainerOptions,
} from "softmax-dpo";

export function typeTests(): void {
  const model = createModel(presetConfig("tiny", 64));
  const trainer = createTrainer("sdpo", { model });
  // @ts-expect-error: "sdpoo" is not a LossName
  createTrainer("sdpoo", { model });
  const loss: string = "sdpo";
  // @ts-expect-error: a plain string is not a LossName either
  createTrainer(loss, { model });
  // @ts-expect-error: fit takes a path or a PreferenceSource, not a number
  void trainer.fit(42);
  // @ts-expect-error: an object without batches() is not a PreferenceSource
  void trainer.fit({ path: "train.arrow" });
  // @ts-expect-error: eval data is typed too
  const fitOptions: FitOptions = { eval: 42 };
  // @ts-expect-error: evaluate takes what fit takes
  void trainer.evaluate(true);
  // @ts-expect-error: a misspelt option
  const options: TrainerOptions = { model, learningrate: 1e-3 };
  // @ts-expect-error: negativeSampling is a union of names
  new SDPOTrainer({ model, negativeSampling: "hardest" });

  // the types public signatures use are exported by name
  const resolved: ResolvedOptions = trainer.options;
  const name: LossName = trainer.loss;
  const data: PreferenceData = "train.arrow";
  const source: PreferenceSource = { countRows: async () => 0, batches: async function* () {} };
  const packed: PackedResponsesInput | undefined = undefined;
  void [fitOptions, options, resolved, name, data, source, packed];
}
`;

/**
 * Named types that the index's exports reach through their public declarations (parameters, results, members
 * that are not private, type arguments, ...), declared in the package but not exported from the index: a user
 * sees them in hovers and errors but cannot import them. "Name (file) <- the export it is reached from".
 */
export function unexportedPublicTypes(distSrc: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const ts = require("typescript") as typeof import("typescript");
  const program = ts.createProgram([path.join(distSrc, "index.d.ts")], { noEmit: true, skipLibCheck: true, types: [] });
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(path.join(distSrc, "index.d.ts"));
  const moduleSymbol = index && checker.getSymbolAtLocation(index);
  if (!moduleSymbol) throw new Error(`cannot read ${distSrc}/index.d.ts`);
  const target = (s: import("typescript").Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const exported = new Set(checker.getExportsOfModule(moduleSymbol).map(target));
  const seen = new Set<import("typescript").Symbol>(exported);
  const missing = new Set<string>();
  const hidden = (node: import("typescript").Node) =>
    ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword);
  const visit = (decl: import("typescript").Node, via: string): void => {
    const walk = (node: import("typescript").Node): void => {
      if (hidden(node)) return;
      let name: import("typescript").Node | undefined;
      if (ts.isTypeReferenceNode(node)) name = node.typeName;
      else if (ts.isExpressionWithTypeArguments(node)) name = node.expression;
      else if (ts.isTypeQueryNode(node)) name = node.exprName;
      if (name) {
        const symbol = checker.getSymbolAtLocation(ts.isQualifiedName(name) ? name.right : name);
        if (symbol) reach(target(symbol), via);
      }
      ts.forEachChild(node, walk);
    };
    walk(decl);
  };
  const reach = (symbol: import("typescript").Symbol, via: string): void => {
    if (seen.has(symbol)) return;
    seen.add(symbol);
    const decls = symbol.declarations ?? [];
    if (decls.length === 0 || decls.some((d) => ts.isTypeParameterDeclaration(d))) return;
    const file = decls[0].getSourceFile().fileName;
    if (!path.resolve(file).startsWith(distSrc + path.sep)) return;
    missing.add(`${symbol.name} (${path.relative(distSrc, file)}) <- ${via}`);
    for (const d of decls) visit(d, `${via} > ${symbol.name}`);
  };
  for (const symbol of exported) for (const d of symbol.declarations ?? []) visit(d, symbol.name);
  return [...missing].sort();
}

function newestSourceAfter(dir: string, than: number): string | null {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = newestSourceAfter(full, than);
      if (found) return found;
    } else if (entry.name.endsWith(".ts") && fs.statSync(full).mtimeMs > than) return full;
  }
  return null;
}

function distSkipReason(): string | null {
  const index = path.join(root, "dist", "src", "index.js");
  const types = path.join(root, "dist", "src", "index.d.ts");
  if (!fs.existsSync(index) || !fs.existsSync(types)) {
    return "dist/src/index.js is missing: build it first (npx tsc -p tsconfig.build.json, or npm run build:ts)";
  }
  const stale = newestSourceAfter(path.join(root, "src"), fs.statSync(types).mtimeMs);
  if (stale) return `dist/ is older than ${path.relative(root, stale)}: rebuild it (npx tsc -p tsconfig.build.json)`;
  return null;
}

const skipReason = distSkipReason();
const blocks = readmeBlocks(fs.readFileSync(readmePath, "utf8"));

describe("README's ts blocks, read as written", () => {
  test("there are blocks, each importing from softmax-dpo, naming no file of the repository, few skipped", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    for (const b of blocks) {
      const where = `README.md:${b.line}`;
      expect([where, /from "softmax-dpo"/.test(b.code)]).toEqual([where, true]);
      // datasets/... exists only in a clone: a user's project gets the data from shippedDataset("lastfm")
      expect([where, /["'`](\.\/)?datasets\//.test(b.code)]).toEqual([where, false]);
    }
    expect(blocks.filter((b) => b.noRun !== null).length).toBeLessThanOrEqual(2);
    expect(blocks.some((b) => b.esm && b.noRun === null)).toBe(true);
    expect(blocks.some((b) => !b.esm && b.noRun === null)).toBe(true);
    expect(new Set(blocks.map((b) => b.file)).size).toBe(blocks.length);
  });

  test("the parser reads names, marks and module kinds", () => {
    const md = [
      "text",
      "```ts",
      "// a.mts: an ES module",
      'import { x } from "softmax-dpo";',
      "```",
      "<!-- doc-test: no-run (needs a GPU) -->",
      "",
      "```typescript",
      'import { y } from "softmax-dpo";',
      "```",
      "```sh",
      "echo not ts",
      "```",
    ].join("\n");
    const parsed = readmeBlocks(md);
    expect(parsed.map((b) => [b.line, b.file, b.esm, b.noRun])).toEqual([
      [3, "a.mts", true, null],
      [9, "example02.ts", false, "needs a GPU"],
    ]);
    expect(() => readmeBlocks("<!-- doc-test: skip -->\n```ts\nx\n```\n")).toThrow(/unknown doc-test mark 'skip'/);
  });
});

(skipReason ? describe.skip : describe)(`README's ts blocks in a user's project${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let project = "";
  const dirOf = (i: number) => `b${String(i + 1).padStart(2, "0")}`;
  const where = new Map<string, string>();

  beforeAll(() => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-readme-"));
    const modules = path.join(project, "node_modules");
    fs.mkdirSync(path.join(modules, "@types"), { recursive: true });
    fs.symlinkSync(root, path.join(modules, "softmax-dpo"), "dir");
    fs.symlinkSync(path.join(root, "node_modules", "@types", "node"), path.join(modules, "@types", "node"), "dir");
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "readme-examples", private: true, type: "commonjs" }, null, 2));
    blocks.forEach((b, i) => {
      const file = path.join(project, "src", dirOf(i), b.file);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, b.code);
      where.set(`src/${dirOf(i)}/${b.file}`, `README.md:${b.line}`);
    });
    fs.writeFileSync(path.join(project, "src", "type-tests.ts"), TYPE_TESTS);
    const strict = { target: "ES2022", lib: ["ES2022"], strict: true, esModuleInterop: true, skipLibCheck: true, types: ["node"], rootDir: "src" };
    const cjsFiles = blocks.flatMap((b, i) => (b.esm ? [] : [`src/${dirOf(i)}/${b.file}`])).concat("src/type-tests.ts");
    fs.writeFileSync(
      path.join(project, "tsconfig.cjs.json"),
      JSON.stringify({ compilerOptions: { ...strict, module: "commonjs", moduleResolution: "node", outDir: "out-cjs" }, files: cjsFiles }, null, 2)
    );
    fs.writeFileSync(
      path.join(project, "tsconfig.nodenext.json"),
      JSON.stringify({ compilerOptions: { ...strict, module: "nodenext", moduleResolution: "nodenext", outDir: "out-nodenext" }, include: ["src"] }, null, 2)
    );
  });

  afterAll(() => {
    if (project && !process.env.SDPO_KEEP_README_PROJECT) fs.rmSync(project, { recursive: true, force: true });
  });

  /** tsc's diagnostics, each file named with the README line its block starts on. */
  function tsc(config: string): { status: number | null; output: string } {
    const r = spawnSync(process.execPath, [tscBin, "-p", config], { cwd: project, encoding: "utf8", timeout: 120000 });
    let output = `${r.stdout}${r.stderr}`;
    for (const [file, line] of where) output = output.split(file).join(`${file} (${line})`);
    return { status: r.status, output };
  }

  test("every block type-checks, strict, with module commonjs (.mts blocks aside) and with module nodenext; each @ts-expect-error line fails", () => {
    for (const config of ["tsconfig.cjs.json", "tsconfig.nodenext.json"]) {
      const r = tsc(config);
      expect([config, r.output.trim()]).toEqual([config, ""]);
      expect(r.status).toBe(0);
    }
    // the two module systems: require() in the CommonJS build, import in the ES module
    blocks.forEach((b, i) => {
      if (b.esm) {
        const out = fs.readFileSync(path.join(project, "out-nodenext", dirOf(i), b.file.replace(/\.mts$/, ".mjs")), "utf8");
        expect(out).toMatch(/^import .* from "softmax-dpo";$/m);
      } else {
        const out = fs.readFileSync(path.join(project, "out-cjs", dirOf(i), b.file.replace(/\.ts$/, ".js")), "utf8");
        expect(out).toMatch(/require\("softmax-dpo"\)/);
      }
    });
  });

  test("the type tests fail without their @ts-expect-error lines (the directives are not vacuous)", () => {
    const file = path.join(project, "src", "type-tests.ts");
    const expectations = TYPE_TESTS.split("\n").filter((l) => l.includes("@ts-expect-error")).length;
    fs.writeFileSync(file, TYPE_TESTS.split("\n").filter((l) => !l.includes("@ts-expect-error")).join("\n"));
    fs.writeFileSync(path.join(project, "tsconfig.types.json"), JSON.stringify({ extends: "./tsconfig.cjs.json", compilerOptions: { noEmit: true }, files: ["src/type-tests.ts"] }));
    try {
      const r = tsc("tsconfig.types.json");
      const errorLines = new Set(r.output.split("\n").map((l) => /type-tests\.ts\((\d+),/.exec(l)?.[1]).filter((l) => l !== undefined));
      expect(errorLines.size).toBe(expectations);
    } finally {
      fs.writeFileSync(file, TYPE_TESTS);
    }
  });

  test("every type the public declarations name is exported from the index (dist/src/index.d.ts)", () => {
    expect(unexportedPublicTypes(path.join(root, "dist", "src"))).toEqual([]);
  });

  test("every runnable block runs with node (EPOCHS=0.01): CommonJS from the commonjs build, .mts as an ES module", () => {
    const ran: string[] = [];
    blocks.forEach((b, i) => {
      if (b.noRun !== null) return;
      const script = b.esm
        ? path.join(project, "out-nodenext", dirOf(i), b.file.replace(/\.mts$/, ".mjs"))
        : path.join(project, "out-cjs", dirOf(i), b.file.replace(/\.ts$/, ".js"));
      const cwd = path.join(project, "run", dirOf(i));
      fs.mkdirSync(cwd, { recursive: true });
      const r = spawnSync(process.execPath, [script], {
        cwd,
        encoding: "utf8",
        timeout: 90000,
        env: { ...process.env, EPOCHS: "0.01" },
      });
      const label = `README.md:${b.line} (${b.file})`;
      expect([label, r.status, r.signal, r.status === 0 ? "" : `${r.stdout}\n${r.stderr}`]).toEqual([label, 0, null, ""]);
      expect([label, r.stdout.trim().length > 0]).toEqual([label, true]);
      ran.push(b.file);
    });
    expect(ran.length).toBeGreaterThanOrEqual(blocks.length - 2);
  }, 240000);
});
