/**
 * The `sdpo` bin as npm/npx runs it: the built file itself, executed directly (shebang + exec bit),
 * not through node. Skipped (reported as such) before `npm run build:ts` has produced dist/.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const bin = path.resolve(__dirname, "..", "dist", "src", "cli", "main.js");
const built = fs.existsSync(bin);

(built ? describe : describe.skip)("the sdpo bin", () => {
  test("is executable and starts with a node shebang", () => {
    expect(fs.readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
    expect(fs.statSync(bin).mode & 0o111).not.toBe(0);
  });

  test("runs directly and lists the main job", () => {
    const run = spawnSync(bin, ["--help"], { encoding: "utf8", timeout: 60000 });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/sdpo demo/);
  });
});
