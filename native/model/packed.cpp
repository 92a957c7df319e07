// Validation of packed token lists (values + offsets) before they reach the model.
#include <string>

#include "argument_errors.h"
#include "model/config.h"

namespace sdpo::model {

static void require_long_vector(const torch::Tensor& t, const std::string& what) {
  if (!t.defined()) throw TypeError(what + " is missing");
  if (t.dim() != 1) throw TypeError(what + " must be 1-D, got " + std::to_string(t.dim()) + "-D");
  if (t.scalar_type() != torch::kLong) throw TypeError(what + " must be int64");
  if (!t.device().is_cpu()) throw TypeError(what + " must be on the CPU");
}

int64_t validate_packed_lists(const torch::Tensor& ids, const torch::Tensor& offsets, int64_t vocab_size,
                              const std::string& what, bool allow_empty_lists) {
  require_long_vector(ids, what + " ids");
  require_long_vector(offsets, what + " offsets");
  if (offsets.numel() < 1) throw RangeError(what + " offsets must hold at least one entry (lists + 1)");
  const int64_t lists = offsets.numel() - 1;
  auto off = offsets.contiguous();
  const int64_t* o = off.data_ptr<int64_t>();
  const int64_t n = ids.numel();
  for (int64_t i = 0; i <= lists; ++i) {
    if (o[i] < 0 || o[i] > n) {
      throw RangeError(what + " offsets[" + std::to_string(i) + "] = " + std::to_string(o[i]) +
                       " is outside [0, " + std::to_string(n) + "]");
    }
    if (i > 0 && o[i] < o[i - 1]) {
      throw RangeError(what + " offsets must not decrease: offsets[" + std::to_string(i) + "] = " +
                       std::to_string(o[i]) + " < offsets[" + std::to_string(i - 1) + "] = " + std::to_string(o[i - 1]));
    }
    if (i > 0 && !allow_empty_lists && o[i] == o[i - 1]) {
      throw RangeError(what + " " + std::to_string(i - 1) + " is empty");
    }
  }
  auto vals = ids.contiguous();
  const int64_t* v = vals.data_ptr<int64_t>();
  for (int64_t i = 0; i < lists; ++i) {
    for (int64_t j = o[i]; j < o[i + 1]; ++j) {
      if (v[j] < 0 || v[j] >= vocab_size) {
        throw RangeError(what + " " + std::to_string(i) + ": token id " + std::to_string(v[j]) + " at position " +
                         std::to_string(j - o[i]) + " (ids[" + std::to_string(j) + "]) is outside the vocabulary [0, " +
                         std::to_string(vocab_size) + ")");
      }
    }
  }
  return lists;
}

void validate_packed_responses(const PackedResponses& b, int64_t vocab_size) {
  const int64_t P = validate_packed_lists(b.prompt_ids, b.prompt_offsets, vocab_size, "prompt", false);
  const int64_t R = validate_packed_lists(b.response_ids, b.response_offsets, vocab_size, "response", false);
  require_long_vector(b.response_prompt, "response_prompt");
  if (b.response_prompt.numel() != R) {
    throw RangeError("response_prompt must have one entry per response (" + std::to_string(R) + "), got " +
                     std::to_string(b.response_prompt.numel()));
  }
  auto rp = b.response_prompt.contiguous();
  const int64_t* p = rp.data_ptr<int64_t>();
  for (int64_t r = 0; r < R; ++r) {
    if (p[r] < 0 || p[r] >= P) {
      throw RangeError("response_prompt[" + std::to_string(r) + "] = " + std::to_string(p[r]) +
                       " is not a prompt index in [0, " + std::to_string(P) + ")");
    }
  }
}

}  // namespace sdpo::model
