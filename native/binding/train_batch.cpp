#include "binding/train_batch.h"

#include <algorithm>

#include "binding/errors.h"
#include "binding/tensor_convert.h"

namespace sdpo {
namespace {

torch::Tensor int32Field(const Napi::Object& obj, const char* key, const std::string& what) {
  if (!obj.Has(key)) throw TypeError(what + "." + key + " is missing (an Int32Array)");
  return viewTypedArray(obj.Get(key), what + "." + key, torch::kInt).to(torch::kLong);
}

// offsets: non-decreasing, within [0, ids length]; returns the number of lists.
int64_t checkOffsets(const torch::Tensor& offsets, int64_t ids, const std::string& what) {
  if (offsets.numel() < 1) throw RangeError(what + " must hold at least one offset");
  const int64_t* o = offsets.data_ptr<int64_t>();
  const int64_t n = offsets.numel();
  if (o[0] < 0) throw RangeError(what + "[0] = " + std::to_string(o[0]) + " is negative");
  for (int64_t i = 1; i < n; ++i) {
    if (o[i] < o[i - 1]) {
      throw RangeError(what + " must be non-decreasing: [" + std::to_string(i - 1) + "] = " +
                       std::to_string(o[i - 1]) + " > [" + std::to_string(i) + "] = " + std::to_string(o[i]));
    }
  }
  if (o[n - 1] > ids) {
    throw RangeError(what + " ends at " + std::to_string(o[n - 1]) + ", past the " + std::to_string(ids) +
                     " token ids");
  }
  return n - 1;
}

// [B, H] int64, H the longest list, -1 padding: example b's history tokens (values[offsets[b] .. offsets[b + 1])).
torch::Tensor historyTable(const Napi::Object& obj, int64_t B, const std::string& what) {
  torch::Tensor ids = int32Field(obj, "historyTokenIds", what);
  torch::Tensor offsets = int32Field(obj, "historyTokenOffsets", what);
  if (offsets.numel() != B + 1) {
    throw RangeError(what + ".historyTokenOffsets must hold B + 1 = " + std::to_string(B + 1) + " offsets, got " +
                     std::to_string(offsets.numel()));
  }
  checkOffsets(offsets, ids.numel(), what + ".historyTokenOffsets");
  const int64_t* o = offsets.data_ptr<int64_t>();
  const int64_t* v = ids.data_ptr<int64_t>();
  int64_t H = 0;
  for (int64_t b = 0; b < B; ++b) H = std::max(H, o[b + 1] - o[b]);
  torch::Tensor table = torch::full({B, H}, -1, torch::kLong);
  int64_t* t = table.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = o[b]; i < o[b + 1]; ++i) {
      if (v[i] < 0) {
        throw RangeError(what + ".historyTokenIds[" + std::to_string(i) + "] = " + std::to_string(v[i]) + " is not a token id");
      }
      t[b * H + (i - o[b])] = v[i];
    }
  }
  return table;
}

}  // namespace

train::StepBatch stepBatchFromJs(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw TypeError(what + " must be an object");
  Napi::Object obj = value.As<Napi::Object>();
  train::StepBatch batch;
  auto& r = batch.responses;
  r.prompt_ids = int32Field(obj, "promptIds", what);
  r.prompt_offsets = int32Field(obj, "promptOffsets", what);
  r.response_ids = int32Field(obj, "responseIds", what);
  r.response_offsets = int32Field(obj, "responseOffsets", what);
  r.response_prompt = int32Field(obj, "responsePrompt", what);
  const int64_t P = checkOffsets(r.prompt_offsets, r.prompt_ids.numel(), what + ".promptOffsets");
  const int64_t R = checkOffsets(r.response_offsets, r.response_ids.numel(), what + ".responseOffsets");
  if (R < 1) throw RangeError(what + " holds no responses");
  if (r.response_prompt.numel() != R) {
    throw RangeError(what + ".responsePrompt must have one entry per response (" + std::to_string(R) + "), got " +
                     std::to_string(r.response_prompt.numel()));
  }
  const int64_t* rp = r.response_prompt.data_ptr<int64_t>();
  for (int64_t i = 0; i < R; ++i) {
    if (rp[i] < 0 || rp[i] >= P) {
      throw RangeError(what + ".responsePrompt[" + std::to_string(i) + "] = " + std::to_string(rp[i]) +
                       " is not a prompt index in [0, " + std::to_string(P) + ")");
    }
  }
  batch.chosen_index = int32Field(obj, "chosenIndex", what);
  const int64_t B = batch.chosen_index.numel();
  if (B < 1) throw RangeError(what + ".chosenIndex holds no examples");
  torch::Tensor rejected = int32Field(obj, "rejectedIndex", what);
  if (rejected.numel() % B != 0) {
    throw RangeError(what + ".rejectedIndex must hold B * K entries (B = " + std::to_string(B) + "), got " +
                     std::to_string(rejected.numel()));
  }
  batch.rejected_index = rejected.reshape({B, rejected.numel() / B});
  if (obj.Has("referenceLogps") && !obj.Get("referenceLogps").IsUndefined()) {
    torch::Tensor ref = viewTypedArray(obj.Get("referenceLogps"), what + ".referenceLogps", torch::kDouble, R).clone();
    requireFinite(ref, what + ".referenceLogps");
    batch.reference_logps = ref;
  }
  const bool has_ids = obj.Has("historyTokenIds") && !obj.Get("historyTokenIds").IsUndefined();
  const bool has_offsets = obj.Has("historyTokenOffsets") && !obj.Get("historyTokenOffsets").IsUndefined();
  if (has_ids != has_offsets) throw TypeError(what + ": historyTokenIds and historyTokenOffsets come together");
  if (has_ids) batch.history_first_tokens = historyTable(obj, B, what);
  return batch;
}

}  // namespace sdpo
