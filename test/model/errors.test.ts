/** Bad input gets a clear JS error naming what and where; a disposed model refuses use. */
import { native, type PackedResponsesInput } from "../../src/native";
import { expectThrows, rejectionOf } from "../helpers";
import { makeModel, packBatch, tinyConfig } from "./fixtures";

const Model = () => native().Model;

describe("Model errors", () => {
  test("constructor validates the config and options, naming the field", () => {
    expectThrows(() => new (Model())(tinyConfig({ hidden_size: 0 }), { device: "cpu", dtype: "float32" }), "RangeError", /config\.hidden_size must be a positive integer/);
    expectThrows(() => new (Model())(tinyConfig({ num_key_value_heads: 3 }), { device: "cpu", dtype: "float32" }), "RangeError", /num_attention_heads \(4\) must be a multiple of config\.num_key_value_heads \(3\)/);
    expectThrows(() => new (Model())(tinyConfig({ model_type: "gpt2" as "llama" }), { device: "cpu", dtype: "float32" }), "RangeError", /config\.model_type must be one of llama, mistral, qwen2, qwen3, got 'gpt2'/);
    expectThrows(() => new (Model())(tinyConfig({ vocab_size: 2.5 }), { device: "cpu", dtype: "float32" }), "RangeError", /config\.vocab_size must be an integer/);
    const missing = { ...tinyConfig() } as Partial<ReturnType<typeof tinyConfig>>;
    delete missing.rope_theta;
    expectThrows(() => new (Model())(missing as ReturnType<typeof tinyConfig>, { device: "cpu", dtype: "float32" }), "TypeError", /config\.rope_theta is missing/);
    expectThrows(
      () => new (Model())(tinyConfig({ rope_scaling: { rope_type: "yarn" as "linear", factor: 2 } }), { device: "cpu", dtype: "float32" }),
      "RangeError",
      /rope_scaling\.rope_type must be llama3 or linear, got 'yarn'/
    );
    expectThrows(() => new (Model())(tinyConfig(), { device: "cpu", dtype: "int8" as "float32" }), "RangeError", /options\.dtype must be float32, float64, bfloat16 or float16/);
    expectThrows(() => new (Model())(tinyConfig(), { device: "tpu" as "cpu", dtype: "float32" }), "RangeError", /options\.device must be 'cpu', 'cuda' or 'cuda:N'/);
    if (!native().buildInfo().cudaAvailable) {
      expectThrows(() => new (Model())(tinyConfig(), { device: "cuda", dtype: "float32" }), "Error", /CUDA is not available/);
    }
  });

  test("a parameter the machine cannot hold is an error naming it, its shape and size, not an abort", () => {
    // 1e11 x 16 float32 is 6.4 TB: no allocator grants it.
    expectThrows(() => new (Model())(tinyConfig({ vocab_size: 1e11 }), { device: "cpu", dtype: "float32" }), "Error",
      /out of memory allocating parameter 'model\.embed_tokens\.weight' \[100000000000, 16\] float32 \(5\.96e\+03 GiB\) on cpu/);
    expectThrows(() => new (Model())(tinyConfig({ intermediate_size: 1e11 }), { device: "cpu", dtype: "float64" }), "Error",
      /out of memory allocating parameter 'model\.layers\.0\.mlp\.gate_proj\.weight' \[100000000000, 16\] float64/);
  });

  test("sequences past max_position_embeddings or mistral's sliding window are refused, not computed otherwise", async () => {
    const windowed = makeModel(tinyConfig({ model_type: "mistral", max_position_embeddings: 12, sliding_window: 6 }));
    expect(windowed.config.sliding_window).toBe(6);
    // prompt 0 (2 tokens) + response 0 (3): 5 <= 6, scored; prompt 1 (3) + response 2 (4): 7 > 6, refused.
    await windowed.score(packBatch([[1, 2], [3, 4, 5]], [[[4, 5, 6]], [[6]]]));
    let err = await rejectionOf(windowed.score(packBatch([[1, 2], [3, 4, 5]], [[[4, 5, 6]], [[6], [7, 8, 9, 10]]])));
    expect(err.name).toBe("RangeError");
    expect(err.message).toMatch(/prompt 1 \+ response 2 is 7 tokens, more than mistral's sliding_window \(6\): windowed attention is not implemented/);
    err = await rejectionOf(windowed.generate(Int32Array.from([1, 2, 3]), Int32Array.from([0, 3]), { maxNewTokens: 4, eosTokenId: 0 }));
    expect(err.message).toMatch(/prompt 0 \+ maxNewTokens is 7 tokens, more than mistral's sliding_window \(6\)/);
    await windowed.generate(Int32Array.from([1, 2, 3]), Int32Array.from([0, 3]), { maxNewTokens: 3, eosTokenId: 0 });
    const short = makeModel(tinyConfig({ max_position_embeddings: 4 }));
    err = await rejectionOf(short.score(packBatch([[1, 2, 3]], [[[4, 5]]])));
    expect(err.message).toMatch(/prompt 0 \+ response 0 is 5 tokens, more than the model's max_position_embeddings \(4\)/);
    expectThrows(() => new (Model())(tinyConfig({ sliding_window: -1 }), { device: "cpu", dtype: "float32" }), "RangeError", /sliding_window must be > 0/);
  });

  test("score rejects bad batches with the row and value", async () => {
    const model = makeModel(tinyConfig());
    const good = packBatch([[1, 2], [3]], [[[4, 5]], [[6], [7, 8]]]);
    const expectReject = async (batch: PackedResponsesInput, name: string, message: RegExp) => {
      const err = await rejectionOf(model.score(batch));
      expect(err.name).toBe(name);
      expect(err.message).toMatch(message);
    };
    await expectReject({ ...good, responseIds: Int32Array.from([4, 5, 6, 7, 37]) }, "RangeError", /response 2: token id 37 at position 1 \(ids\[4\]\) is outside the vocabulary \[0, 37\)/);
    await expectReject({ ...good, promptIds: Int32Array.from([1, -2, 3]) }, "RangeError", /prompt 0: token id -2/);
    await expectReject({ ...good, responseOffsets: Int32Array.from([0, 2, 1, 5]) }, "RangeError", /response offsets must not decrease: offsets\[2\] = 1 < offsets\[1\] = 2/);
    await expectReject({ ...good, responseOffsets: Int32Array.from([0, 2, 3, 9]) }, "RangeError", /response offsets\[3\] = 9 is outside \[0, 5\]/);
    await expectReject({ ...good, responseOffsets: Int32Array.from([0, 2, 2, 5]) }, "RangeError", /response 1 is empty/);
    await expectReject({ ...good, promptOffsets: Int32Array.from([0, 0, 3]) }, "RangeError", /prompt 0 is empty/);
    await expectReject({ ...good, responsePrompt: Int32Array.from([0, 1, 2]) }, "RangeError", /response_prompt\[2\] = 2 is not a prompt index in \[0, 2\)/);
    await expectReject({ ...good, responsePrompt: Int32Array.from([0, 1]) }, "RangeError", /one entry per response \(3\), got 2/);
    await expectReject({ ...good, promptIds: Float32Array.from([1, 2, 3]) as unknown as Int32Array }, "TypeError", /batch\.promptIds must be int32/);
    await expectReject(undefined as unknown as PackedResponsesInput, "TypeError", /batch must be an object/);
    // The good batch still works afterwards.
    expect((await model.score(good)).logps.length).toBe(3);
    model.dispose();
  });

  test("generate validates its options", async () => {
    const model = makeModel(tinyConfig());
    const ids = Int32Array.from([1, 2, 3]);
    const offsets = Int32Array.from([0, 3]);
    let err = await rejectionOf(model.generate(ids, offsets, { maxNewTokens: -1, eosTokenId: 0 }));
    expect(err.message).toMatch(/maxNewTokens must be >= 0/);
    err = await rejectionOf(model.generate(ids, offsets, { maxNewTokens: 3, eosTokenId: 99 }));
    expect(err.name).toBe("RangeError");
    expect(err.message).toMatch(/eosTokenId 99 is outside the vocabulary/);
    err = await rejectionOf(
      model.generate(ids, offsets, { maxNewTokens: 3, eosTokenId: 0, allowed: { ids: Int32Array.from([4]), offsets: Int32Array.from([0, 1]), promptOffsets: Int32Array.from([0, 0]) } })
    );
    expect(err.message).toMatch(/allowed lists of prompt 0 is empty/);
    model.dispose();
  });

  test("tensor access names unknown parameters and checks shape, size and dtype", () => {
    const model = makeModel(tinyConfig());
    expectThrows(() => model.getTensor("model.layers.9.mlp.up_proj.weight"), "Error", /unknown parameter 'model\.layers\.9\.mlp\.up_proj\.weight'/);
    const bytes = new Uint8Array(16 * 4);
    expectThrows(() => model.setTensor("model.nrom.weight", "F32", [16], bytes), "Error", /unknown parameter 'model\.nrom\.weight'/);
    expectThrows(() => model.setTensor("model.norm.weight", "F32", [4, 4], bytes), "RangeError", /shape \[4, 4\] does not match the parameter's \[16\]/);
    expectThrows(() => model.setTensor("model.norm.weight", "F64", [16], bytes), "RangeError", /data holds 64 bytes, \[16\] F64 needs 128/);
    expectThrows(() => model.setTensor("model.norm.weight", "I32", [16], bytes), "TypeError", /dtype must be one of F32, F64, BF16, F16/);
    expectThrows(() => model.setTensor("model.norm.weight", "F32", [16], new Float32Array(16) as unknown as Uint8Array), "TypeError", /data must be a Uint8Array/);
    model.dispose();
  });

  test("a disposed model refuses every use", async () => {
    const model = makeModel(tinyConfig());
    const batch = packBatch([[1]], [[[2]]]);
    const pending = model.score(batch); // in flight: still completes
    model.dispose();
    expect((await pending).logps.length).toBe(1);
    expect(model.disposed).toBe(true);
    expectThrows(() => model.parameterInfo(), "Error", /Model\.parameterInfo: the model was disposed/);
    expectThrows(() => model.getTensor("model.norm.weight"), "Error", /disposed/);
    expectThrows(() => model.setAdaptersEnabled(false), "Error", /disposed/);
    expectThrows(() => model.config, "Error", /disposed/);
    const err = await rejectionOf(model.score(batch));
    expect(err.message).toMatch(/Model\.score: the model was disposed/);
    expect((await rejectionOf(model.generate(Int32Array.from([1]), Int32Array.from([0, 1]), { maxNewTokens: 1, eosTokenId: 0 }))).message).toMatch(/disposed/);
    model.dispose(); // twice is fine
  });
});
