#include "ops/checks.h"

#include <cmath>
#include <sstream>

#include "argument_errors.h"
#include "ops/device_checks.h"
#include "ops/losses.h"

namespace sdpo::ops {
namespace {

std::string shapeString(at::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

std::string dtypeString(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return "float32";
    case torch::kDouble: return "float64";
    case torch::kLong: return "int64";
    case torch::kInt: return "int32";
    case torch::kBool: return "bool";
    default: return std::string(c10::toString(t));
  }
}

}  // namespace

void requireFloating(const torch::Tensor& t, const std::string& what) {
  if (!t.defined()) throw TypeError(what + " is missing (undefined tensor)");
  if (t.scalar_type() != torch::kFloat && t.scalar_type() != torch::kDouble) {
    throw TypeError(what + " must be float32 or float64, got " + dtypeString(t.scalar_type()));
  }
}

void requireSameDtypeDevice(const torch::Tensor& t, const std::string& what, const torch::Tensor& like,
                            const std::string& likeName) {
  if (t.scalar_type() != like.scalar_type()) {
    throw TypeError(what + " must have the dtype of " + likeName + " (" + dtypeString(like.scalar_type()) +
                    "), got " + dtypeString(t.scalar_type()));
  }
  if (t.device() != like.device()) {
    throw TypeError(what + " must be on the device of " + likeName + " (" + like.device().str() + "), got " +
                    t.device().str());
  }
}

void requireShape(const torch::Tensor& t, const std::string& what, at::IntArrayRef shape) {
  if (t.sizes() != shape) {
    throw RangeError(what + " must have shape " + shapeString(shape) + ", got " + shapeString(t.sizes()));
  }
}

void requireBeta(double beta) {
  if (!std::isfinite(beta) || beta <= 0) {
    std::ostringstream out;
    out << "beta must be a finite number > 0, got " << beta;
    throw RangeError(out.str());
  }
}

PreferenceInputs checkPreferenceInputs(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                                       const torch::Tensor& reference_chosen,
                                       const torch::Tensor& reference_rejected, double beta,
                                       const torch::Tensor& mask, int rejected_rank) {
  requireBeta(beta);
  requireFloating(policy_chosen, "policy_chosen");
  requireFloating(policy_rejected, "policy_rejected");
  requireFloating(reference_chosen, "reference_chosen");
  requireFloating(reference_rejected, "reference_rejected");
  requireSameDtypeDevice(policy_rejected, "policy_rejected", policy_chosen, "policy_chosen");
  requireSameDtypeDevice(reference_chosen, "reference_chosen", policy_chosen, "policy_chosen");
  requireSameDtypeDevice(reference_rejected, "reference_rejected", policy_chosen, "policy_chosen");
  if (policy_chosen.dim() != 1) {
    throw RangeError("policy_chosen must be 1-D [B], got " + shapeString(policy_chosen.sizes()));
  }
  const int64_t rows = policy_chosen.size(0);
  int64_t negatives = 1;
  if (rejected_rank == 2) {
    if (policy_rejected.dim() != 2 || policy_rejected.size(0) != rows) {
      throw RangeError("policy_rejected must have shape [B, K] = [" + std::to_string(rows) + ", K], got " +
                       shapeString(policy_rejected.sizes()));
    }
    negatives = policy_rejected.size(1);
    if (negatives < 1) throw RangeError("policy_rejected has K = 0 negatives per row; K must be >= 1");
    requireShape(reference_rejected, "reference_rejected", {rows, negatives});
  } else {
    requireShape(policy_rejected, "policy_rejected", {rows});
    requireShape(reference_rejected, "reference_rejected", {rows});
  }
  requireShape(reference_chosen, "reference_chosen", {rows});

  PreferenceInputs in;
  in.rows = rows;
  in.negatives = negatives;
  in.policy_chosen = policy_chosen.contiguous();
  in.policy_rejected = policy_rejected.contiguous();
  in.reference_chosen = reference_chosen.contiguous();
  in.reference_rejected = reference_rejected.contiguous();
  if (mask.defined()) {
    if (rejected_rank != 2) throw TypeError("mask is only accepted by sdpo_loss");
    if (mask.scalar_type() != torch::kBool) {
      throw TypeError("mask must be bool, got " + dtypeString(mask.scalar_type()));
    }
    if (mask.device() != policy_chosen.device()) {
      throw TypeError("mask must be on the device of policy_chosen (" + policy_chosen.device().str() + "), got " +
                      mask.device().str());
    }
    requireShape(mask, "mask", {rows, negatives});
    if (rows > 0) {
      // On CUDA the verdict may be read later (device_checks.h); the kernels give an empty row a loss of 0
      // meanwhile, touching no memory outside the row.
      runDeviceCheck({firstTrueIndex(mask.logical_not().all(1)), rows, [](int64_t row) {
                        throw RangeError("mask row " + std::to_string(row) +
                                         " has no real negative; every row needs at least one (mask[b, j] = true)");
                      }});
    }
    in.mask = mask.contiguous();
  }
  return in;
}

TokenInputs checkTokenInputs(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& labels,
                             int64_t ignore_index) {
  requireFloating(hidden, "hidden");
  requireFloating(weight, "weight");
  requireSameDtypeDevice(weight, "weight", hidden, "hidden");
  if (hidden.dim() != 2) throw RangeError("hidden must be 2-D [N, D], got " + shapeString(hidden.sizes()));
  if (weight.dim() != 2 || weight.size(1) != hidden.size(1)) {
    throw RangeError("weight must have shape [V, D] = [V, " + std::to_string(hidden.size(1)) + "], got " +
                     shapeString(weight.sizes()));
  }
  if (weight.size(0) < 1) throw RangeError("weight has V = 0 rows; the vocabulary must not be empty");
  if (!labels.defined() || labels.scalar_type() != torch::kLong) {
    throw TypeError("labels must be int64, got " +
                    (labels.defined() ? dtypeString(labels.scalar_type()) : std::string("undefined")));
  }
  if (labels.device() != hidden.device()) {
    throw TypeError("labels must be on the device of hidden (" + hidden.device().str() + "), got " +
                    labels.device().str());
  }
  requireShape(labels, "labels", {hidden.size(0)});
  const int64_t vocab = weight.size(0);
  if (labels.numel() > 0) {
    // On CUDA the verdict may be read later (device_checks.h); the kernels never index with a label
    // outside [0, V) meanwhile (its row gets a NaN log-prob and no gradient).
    const torch::Tensor bad = (labels.lt(0) | labels.ge(vocab)) & labels.ne(ignore_index);
    runDeviceCheck({firstTrueIndex(bad), labels.size(0), [labels, vocab, ignore_index](int64_t row) {
                      const int64_t value = labels[row].item<int64_t>();
                      throw RangeError("labels[" + std::to_string(row) + "] = " + std::to_string(value) +
                                       " is outside [0, " + std::to_string(vocab) + ") and is not ignore_index (" +
                                       std::to_string(ignore_index) + ")");
                    }});
  }
  return {hidden.contiguous(), weight.contiguous(), labels.contiguous()};
}

int64_t chooseChunkRows(ChunkDevice device, int64_t requested, int64_t rows, int64_t vocab, int64_t free_bytes,
                        int64_t element_size) {
  if (requested > 0) return requested;
  const int64_t all_rows = std::max<int64_t>(rows, 1);
  const int64_t row_logits = std::max<int64_t>(vocab, 1);
  if (device == ChunkDevice::Cpu) return std::max<int64_t>(1, std::min(all_rows, kCpuChunkLogits / row_logits));
  const int64_t budget_bytes = std::min(kCudaChunkMaxBytes, std::max<int64_t>(free_bytes, 0) / 4);
  const int64_t row_bytes = row_logits * std::max<int64_t>(element_size, 1);
  const int64_t budget_rows = budget_bytes / row_bytes;
  // The row floor gives way when it would take more than half of the free memory.
  const int64_t floor_rows = kCudaChunkMinRows * row_bytes <= std::max<int64_t>(free_bytes, 0) / 2 ? kCudaChunkMinRows : 1;
  return std::max<int64_t>(1, std::min(all_rows, std::max(budget_rows, floor_rows)));
}

NapoMargin checkNapoMargin(const NapoMargin& margin, const torch::Tensor& policy_rejected) {
  if (!std::isfinite(margin.gamma) || margin.gamma < 0) {
    std::ostringstream out;
    out << "gamma must be a finite number >= 0, got " << margin.gamma;
    throw RangeError(out.str());
  }
  NapoMargin checked = margin;
  if (!margin.dynamic()) return checked;
  if (!margin.chosen_confidence.defined() || !margin.rejected_confidence.defined()) {
    throw TypeError(std::string("the dynamic margin needs both chosen_confidence and rejected_confidence; ") +
                    (margin.chosen_confidence.defined() ? "rejected_confidence" : "chosen_confidence") + " is missing");
  }
  if (!std::isfinite(margin.tau) || margin.tau <= 0) {
    std::ostringstream out;
    out << "tau must be a finite number > 0, got " << margin.tau;
    throw RangeError(out.str());
  }
  requireFloating(margin.chosen_confidence, "chosen_confidence");
  requireFloating(margin.rejected_confidence, "rejected_confidence");
  requireSameDtypeDevice(margin.chosen_confidence, "chosen_confidence", policy_rejected, "policy_rejected");
  requireSameDtypeDevice(margin.rejected_confidence, "rejected_confidence", policy_rejected, "policy_rejected");
  const int64_t rows = policy_rejected.size(0), negatives = policy_rejected.size(1);
  requireShape(margin.chosen_confidence, "chosen_confidence", {rows});
  requireShape(margin.rejected_confidence, "rejected_confidence", {rows, negatives});
  // Confidences are scores to compare, not something to train: no gradient flows into them.
  checked.chosen_confidence = margin.chosen_confidence.detach().contiguous();
  checked.rejected_confidence = margin.rejected_confidence.detach().contiguous();
  return checked;
}

}  // namespace sdpo::ops
