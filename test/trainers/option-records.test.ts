/** The option records are the one list of trainer options: TrainerOptions, the resolution, the resume check, the
 *  native trainer and `sdpo train`'s flags must all agree with them. */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import yargs from "yargs";
import { trainCommand } from "../../src/cli/commands/train";
import { camelCased } from "../../src/cli/train-flags";
import { OPTION_RECORDS } from "../../src/trainers/option-records";
import { nativeTrainerOptions, OPTION_NAMES, resolveOptions, RESUME_INVARIANTS } from "../../src/trainers/options";
import type { TrainerOptions } from "../../src/trainers/types";
import { LOSS_NAMES } from "../../src/trainers/registry";

/** Compile-time: a record for every option of TrainerOptions but the model, and no record of another name
 *  (`npm test` type-checks the tests first). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const recordsMatchTheType: Same<keyof typeof OPTION_RECORDS, Exclude<keyof TrainerOptions, "model">> = true;

/** The members TrainerOptions declares, read from its source. */
function declaredOptions(): string[] {
  const file = path.resolve(__dirname, "../../src/trainers/types.ts");
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const found = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === "TrainerOptions");
  if (!found) throw new Error("no interface TrainerOptions in src/trainers/types.ts");
  return found.members.map((m) => (m.name as ts.Identifier).text);
}

async function trainHelp(): Promise<string> {
  return new Promise<string>((resolve) => {
    yargs().command(trainCommand).exitProcess(false).parse(["train", "--help"], {}, (_err, _argv, output) => resolve(output));
  });
}

describe("trainer option records", () => {
  test("every option TrainerOptions declares has a record, and every record an option", () => {
    expect(recordsMatchTheType).toBe(true);
    expect([...OPTION_NAMES].sort()).toEqual(declaredOptions().sort());
  });

  test("every record's flags and their aliases are in `sdpo train --help`", async () => {
    const help = await trainHelp();
    for (const record of Object.values(OPTION_RECORDS)) {
      for (const spec of record.cli?.flags ?? []) {
        const names = [spec.flag, ...(spec.alias === undefined ? [] : typeof spec.alias === "string" ? [spec.alias] : spec.alias)];
        for (const name of names) expect(help).toMatch(new RegExp(`--${name}[,\\s]`));
      }
    }
  });

  test("a flag without its own read is named as its option, so that its value is the option's", () => {
    for (const [name, record] of Object.entries(OPTION_RECORDS)) {
      if (record.cli && !record.cli.read) expect({ name, flags: record.cli.flags.map((f) => camelCased(f.flag)) }).toEqual({ name, flags: [name] });
    }
  });

  test("the resume invariants are the options that fix the data order and the schedule", () => {
    expect([...RESUME_INVARIANTS].sort()).toEqual(
      [
        "gradientAccumulationSteps", "negatives", "seed", "numTrainEpochs", "maxSteps", "warmupRatio", "lrSchedulerType", "learningRate",
        "negativeSampling", "poolSize", "poolRefreshSteps", "inBatchNegatives", "rewardMargin",
      ].sort()
    );
  });

  test("the native trainer receives a resolved value for every option it reads, whatever the loss", () => {
    const native = Object.entries(OPTION_RECORDS).filter(([, r]) => r.native).map(([name]) => name);
    for (const loss of LOSS_NAMES) {
      const sent = nativeTrainerOptions(loss, resolveOptions(loss, { model: {} as never, referenceMode: "frozen-copy" }, false)) as unknown as Record<string, unknown>;
      expect(sent.loss).toBe(loss);
      for (const name of native) {
        if (name === "rewardMargin" && loss !== "napo") expect(sent).not.toHaveProperty(name);
        else expect({ name, defined: sent[name] !== undefined }).toEqual({ name, defined: true });
      }
    }
    expect(nativeTrainerOptions("sdpo", resolveOptions("sdpo", { model: {} as never }, true))).toMatchObject({ referenceMode: "adapters-off" });
  });
});
