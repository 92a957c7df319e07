// S-DPO and NAPO, one fused autograd node with a hand-written backward: S-DPO is NAPO without a margin
// (gamma = 0), so both entry points apply this one function. Per row, a max-shifted log-sum-exp of the gaps
// z_j = r_j - r_w + m_j. The margin (fixed gamma, or gamma times a sigmoid of the confidence gap) is a
// constant to autograd; the loops are instantiated per margin kind, so with gamma = 0 they hold no margin
// work at all and S-DPO pays nothing for NAPO. CPU keeps the [B, K] softmax weights for the backward; CUDA
// keeps only the per-row lse and recomputes the gaps (free next to a second pass over memory).
#include <ATen/Parallel.h>

#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/checks.h"
#include "ops/losses.h"
#include "ops/stable_math.h"

#ifdef SDPO_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "ops/cuda/napo_kernels.h"
#endif

namespace sdpo::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

enum class MarginKind { None, Fixed, Dynamic };

// gamma = 0 is no margin whatever the confidences say (gamma * sigmoid(...) is 0): S-DPO.
MarginKind marginKind(double gamma, const torch::Tensor& chosen_confidence) {
  if (gamma == 0) return MarginKind::None;
  return chosen_confidence.defined() ? MarginKind::Dynamic : MarginKind::Fixed;
}

template <MarginKind kind>
using MarginTag = std::integral_constant<MarginKind, kind>;

// Calls f(MarginTag<kind>{}) so each kind gets its own instantiation of the loops.
template <typename F>
void dispatchMarginKind(MarginKind kind, F&& f) {
  switch (kind) {
    case MarginKind::None: return f(MarginTag<MarginKind::None>{});
    case MarginKind::Fixed: return f(MarginTag<MarginKind::Fixed>{});
    case MarginKind::Dynamic: return f(MarginTag<MarginKind::Dynamic>{});
  }
}

// Margin settings with raw pointers for the CPU loops; confidences are read in the dynamic kind only.
template <typename T>
struct CpuMargin {
  const T* chosen_confidence;
  const T* rejected_confidence;
  T gamma;
  T inverse_tau;

  template <MarginKind kind>
  T at(int64_t row, int64_t index) const {
    if constexpr (kind == MarginKind::Fixed) {
      return gamma;
    } else {
      return gamma * stableSigmoid((rejected_confidence[index] - chosen_confidence[row]) * inverse_tau);
    }
  }
};

// CPU forward in three passes over a [B, K] buffer: (1) shifted gaps z_j - max_j z_j (masked: -inf),
// (2) exp in place through ATen's SIMD exp kernel (a scalar std::exp costs ~5 ns an element, ATen's ~0.7),
// (3) per row: sum, lse = max + log(sum), loss = softplus(lse), and the buffer scaled to the softmax weights,
// which the backward reuses instead of calling exp again. This is pass 1.
template <typename T, MarginKind kind>
void shiftedGapsCpu(const T* pc, const T* pr, const T* rc, const T* rr, const CpuMargin<T>& margin, const bool* mask,
                    int64_t rows, int64_t negatives, T beta, T* shifted, T* row_max) {
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const T chosen_reward = beta * (pc[b] - rc[b]);
      const int64_t base = b * negatives;
      T* row = shifted + base;
      T max = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < negatives; ++j) {
        if (mask && !mask[base + j]) {
          row[j] = -std::numeric_limits<T>::infinity();
          continue;
        }
        T gap = beta * (pr[base + j] - rr[base + j]) - chosen_reward;
        if constexpr (kind != MarginKind::None) gap += margin.template at<kind>(b, base + j);
        row[j] = gap;
        max = std::max(max, gap);
      }
      for (int64_t j = 0; j < negatives; ++j) row[j] -= max;  // masked stay -inf: exp gives 0
      row_max[b] = max;
    }
  });
}

// Pass 3: row sums, lse = max + log(sum), loss = softplus(lse); the buffer becomes the softmax weights.
template <typename T>
void finishForwardCpu(T* softmax, int64_t rows, int64_t negatives, T* lse, T* loss) {
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      T* row = softmax + b * negatives;
      T sum = 0;
      for (int64_t j = 0; j < negatives; ++j) sum += row[j];
      const T inverse = T(1) / sum;  // sum >= 1 (the max term is e^0): no log(0), no 1/0
      for (int64_t j = 0; j < negatives; ++j) row[j] *= inverse;
      lse[b] += std::log(sum);  // lse holds the row max on entry
      loss[b] = stableSoftplus(lse[b]);
    }
  });
}

// The backward from the kept softmax weights: the margin only moved them, it gets no gradient.
template <typename T>
void backwardCpu(const T* grad_loss, const T* softmax, const T* lse, int64_t rows, int64_t negatives, T beta,
                 T* grad_pc, T* grad_pr) {
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      // d softplus(lse)/d lse = sigmoid(lse); d lse/d z_j = softmax_j (0 where masked); d z_j/d policy = +-beta.
      const T scale = grad_loss[b] * beta * stableSigmoid(lse[b]);
      const T* row = softmax + b * negatives;
      T* row_grad = grad_pr + b * negatives;
      for (int64_t j = 0; j < negatives; ++j) row_grad[j] = scale * row[j];
      grad_pc[b] = -scale;  // the softmax weights sum to 1
    }
  });
}

template <typename T>
const T* optionalData(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

#ifdef SDPO_WITH_CUDA
template <typename T>
cuda::NapoMarginArgs<T> cudaMargin(const torch::Tensor& chosen_confidence, const torch::Tensor& rejected_confidence,
                                   double gamma, double tau) {
  cuda::NapoMarginArgs<T> args;
  args.chosen_confidence = optionalData<T>(chosen_confidence);
  args.rejected_confidence = optionalData<T>(rejected_confidence);
  args.gamma = gamma;
  args.tau = tau;
  return args;
}
#endif

struct NapoLossFunction : torch::autograd::Function<NapoLossFunction> {
  // Confidences are optional tensors (no margin or a fixed one: none) and constants: they get no gradient.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& pc, const torch::Tensor& pr,
                               const torch::Tensor& rc, const torch::Tensor& rr,
                               const c10::optional<torch::Tensor>& chosen_confidence,
                               const c10::optional<torch::Tensor>& rejected_confidence,
                               const c10::optional<torch::Tensor>& mask, double beta, double gamma, double tau) {
    const int64_t rows = pr.size(0), negatives = pr.size(1);
    torch::Tensor loss = torch::empty({rows}, pc.options());
    torch::Tensor lse = torch::empty({rows}, pc.options());
    const torch::Tensor mask_tensor = mask.has_value() ? *mask : torch::Tensor();
    const torch::Tensor chosen_conf = chosen_confidence.has_value() ? *chosen_confidence : torch::Tensor();
    const torch::Tensor rejected_conf = rejected_confidence.has_value() ? *rejected_confidence : torch::Tensor();
    const bool* mask_ptr = mask_tensor.defined() ? mask_tensor.data_ptr<bool>() : nullptr;
    if (pc.is_cuda()) {
#ifdef SDPO_WITH_CUDA
      const c10::cuda::CUDAGuard device_guard(pc.device());
      void* stream = at::cuda::getCurrentCUDAStream().stream();
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "napo_loss_cuda", [&] {
        cuda::launchNapoForward(pc.data_ptr<scalar_t>(), pr.data_ptr<scalar_t>(), rc.data_ptr<scalar_t>(),
                                rr.data_ptr<scalar_t>(), cudaMargin<scalar_t>(chosen_conf, rejected_conf, gamma, tau),
                                mask_ptr, rows, negatives, beta, loss.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>(),
                                stream);
      });
#else
      throw std::runtime_error("napo_loss: this build has no CUDA kernels (built against a CPU-only libtorch)");
#endif
    } else {
      torch::Tensor softmax = torch::empty({rows, negatives}, pc.options());
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "napo_loss_cpu", [&] {
        const CpuMargin<scalar_t> margin{optionalData<scalar_t>(chosen_conf), optionalData<scalar_t>(rejected_conf),
                                         static_cast<scalar_t>(gamma), static_cast<scalar_t>(1.0 / tau)};
        dispatchMarginKind(marginKind(gamma, chosen_conf), [&](auto kind) {
          shiftedGapsCpu<scalar_t, decltype(kind)::value>(
              pc.data_ptr<scalar_t>(), pr.data_ptr<scalar_t>(), rc.data_ptr<scalar_t>(), rr.data_ptr<scalar_t>(),
              margin, mask_ptr, rows, negatives, static_cast<scalar_t>(beta), softmax.data_ptr<scalar_t>(),
              lse.data_ptr<scalar_t>());
        });
        softmax.exp_();
        finishForwardCpu<scalar_t>(softmax.data_ptr<scalar_t>(), rows, negatives, lse.data_ptr<scalar_t>(),
                                   loss.data_ptr<scalar_t>());
      });
      // [B, K] softmax weights, 0 where masked: the CPU backward is then one multiply per entry.
      ctx->saved_data["softmax"] = softmax;
    }
    ctx->save_for_backward({pc, pr, rc, rr, lse});
    ctx->saved_data["mask"] = mask_tensor;
    ctx->saved_data["chosen_confidence"] = chosen_conf;
    ctx->saved_data["rejected_confidence"] = rejected_conf;
    ctx->saved_data["beta"] = beta;
    ctx->saved_data["gamma"] = gamma;
    ctx->saved_data["tau"] = tau;
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &pc = saved[0], &pr = saved[1], &lse = saved[4];
    const double beta = ctx->saved_data["beta"].toDouble();
    const torch::Tensor grad_loss = grad_outputs[0].contiguous();  // the mean's backward hands an expanded view
    const int64_t rows = pr.size(0), negatives = pr.size(1);
    torch::Tensor grad_pc = torch::empty_like(pc);
    torch::Tensor grad_pr = torch::empty_like(pr);
    if (pc.is_cuda()) {
#ifdef SDPO_WITH_CUDA
      const torch::Tensor &rc = saved[2], &rr = saved[3];
      const torch::Tensor mask = ctx->saved_data["mask"].toTensor();
      const torch::Tensor chosen_conf = ctx->saved_data["chosen_confidence"].toTensor();
      const torch::Tensor rejected_conf = ctx->saved_data["rejected_confidence"].toTensor();
      const double gamma = ctx->saved_data["gamma"].toDouble();
      const double tau = ctx->saved_data["tau"].toDouble();
      const bool* mask_ptr = mask.defined() ? mask.data_ptr<bool>() : nullptr;
      const c10::cuda::CUDAGuard device_guard(pc.device());
      void* stream = at::cuda::getCurrentCUDAStream().stream();
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "napo_loss_backward_cuda", [&] {
        cuda::launchNapoBackward(grad_loss.data_ptr<scalar_t>(), pc.data_ptr<scalar_t>(), pr.data_ptr<scalar_t>(),
                                 rc.data_ptr<scalar_t>(), rr.data_ptr<scalar_t>(),
                                 cudaMargin<scalar_t>(chosen_conf, rejected_conf, gamma, tau), mask_ptr,
                                 lse.data_ptr<scalar_t>(), rows, negatives, beta, grad_pc.data_ptr<scalar_t>(),
                                 grad_pr.data_ptr<scalar_t>(), stream);
      });
#else
      throw std::runtime_error("napo_loss: this build has no CUDA kernels (built against a CPU-only libtorch)");
#endif
    } else {
      const torch::Tensor softmax = ctx->saved_data["softmax"].toTensor();
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "napo_loss_backward_cpu", [&] {
        backwardCpu<scalar_t>(grad_loss.data_ptr<scalar_t>(), softmax.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>(),
                              rows, negatives, static_cast<scalar_t>(beta), grad_pc.data_ptr<scalar_t>(),
                              grad_pr.data_ptr<scalar_t>());
      });
    }
    // One gradient per forward argument: only the two policy inputs get one.
    return {grad_pc,        grad_pr,        torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

c10::optional<torch::Tensor> optionalTensor(const torch::Tensor& t) {
  if (t.defined()) return t;
  return c10::nullopt;
}

}  // namespace

torch::Tensor napo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                        const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected, double beta,
                        const NapoMargin& margin, const torch::Tensor& mask) {
  auto in = checkPreferenceInputs(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, mask, 2);
  NapoMargin checked = checkNapoMargin(margin, in.policy_rejected);
  if (checked.gamma == 0) checked.chosen_confidence = checked.rejected_confidence = torch::Tensor();  // no margin
  return NapoLossFunction::apply(in.policy_chosen, in.policy_rejected, in.reference_chosen, in.reference_rejected,
                                 optionalTensor(checked.chosen_confidence),
                                 optionalTensor(checked.rejected_confidence), optionalTensor(in.mask), beta,
                                 checked.gamma, checked.tau);
}

torch::Tensor sdpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                        const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected, double beta,
                        const torch::Tensor& mask) {
  return napo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, NapoMargin{}, mask);
}

}  // namespace sdpo::ops
