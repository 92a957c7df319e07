// Softmax-DPO, fused into one autograd node: a max-shifted log-sum-exp of the reward gaps per row and a
// hand-written backward. CPU keeps the [B, K] softmax weights for the backward; CUDA keeps only the per-row
// lse and recomputes the gaps (free next to a second pass over memory).
#include <ATen/Parallel.h>

#include <limits>

#include "ops/checks.h"
#include "ops/gap_lse_cpu.h"
#include "ops/losses.h"
#include "ops/stable_math.h"

#ifdef SDPO_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "ops/cuda/loss_kernels.h"
#endif

namespace sdpo::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// CPU forward in three passes over a [B, K] buffer: (1) shifted gaps g_j - max_j g_j (masked: -inf),
// (2) exp in place through ATen's SIMD exp kernel (a scalar std::exp costs ~5 ns an element, ATen's ~0.7),
// (3) per row: sum, lse = max + log(sum), loss = softplus(lse), and the buffer scaled to the softmax weights,
// which the backward reuses instead of calling exp again.
template <typename T>
void sdpoShiftedGapsCpu(const T* pc, const T* pr, const T* rc, const T* rr, const bool* mask, int64_t rows,
                        int64_t negatives, T beta, T* shifted, T* row_max) {
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const T chosen_reward = beta * (pc[b] - rc[b]);
      const T* row_pr = pr + b * negatives;
      const T* row_rr = rr + b * negatives;
      const bool* row_mask = mask ? mask + b * negatives : nullptr;
      T* row = shifted + b * negatives;
      T max = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < negatives; ++j) {
        row[j] = (row_mask && !row_mask[j]) ? -std::numeric_limits<T>::infinity()
                                            : beta * (row_pr[j] - row_rr[j]) - chosen_reward;
        max = std::max(max, row[j]);
      }
      for (int64_t j = 0; j < negatives; ++j) row[j] -= max;  // masked stay -inf: exp gives 0
      row_max[b] = max;
    }
  });
}



struct SdpoLossFunction : torch::autograd::Function<SdpoLossFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& pc, const torch::Tensor& pr,
                               const torch::Tensor& rc, const torch::Tensor& rr,
                               const c10::optional<torch::Tensor>& mask, double beta) {
    const int64_t rows = pr.size(0), negatives = pr.size(1);
    torch::Tensor loss = torch::empty({rows}, pc.options());
    torch::Tensor lse = torch::empty({rows}, pc.options());
    const torch::Tensor mask_tensor = mask.has_value() ? *mask : torch::Tensor();
    const bool* mask_ptr = mask_tensor.defined() ? mask_tensor.data_ptr<bool>() : nullptr;
    if (pc.is_cuda()) {
#ifdef SDPO_WITH_CUDA
      const c10::cuda::CUDAGuard device_guard(pc.device());
      void* stream = at::cuda::getCurrentCUDAStream().stream();
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "sdpo_loss_cuda", [&] {
        cuda::launchSdpoForward(pc.data_ptr<scalar_t>(), pr.data_ptr<scalar_t>(), rc.data_ptr<scalar_t>(),
                                rr.data_ptr<scalar_t>(), mask_ptr, rows, negatives, beta,
                                loss.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>(), stream);
      });
#else
      throw std::runtime_error("sdpo_loss: this build has no CUDA kernels (built against a CPU-only libtorch)");
#endif
    } else {
      torch::Tensor softmax = torch::empty({rows, negatives}, pc.options());
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "sdpo_loss_cpu", [&] {
        sdpoShiftedGapsCpu<scalar_t>(pc.data_ptr<scalar_t>(), pr.data_ptr<scalar_t>(), rc.data_ptr<scalar_t>(),
                                     rr.data_ptr<scalar_t>(), mask_ptr, rows, negatives, static_cast<scalar_t>(beta),
                                     softmax.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>());
        softmax.exp_();
        gapLseFinishForwardCpu<scalar_t>(softmax.data_ptr<scalar_t>(), rows, negatives, lse.data_ptr<scalar_t>(),
                                       loss.data_ptr<scalar_t>());
      });
      // [B, K] softmax weights, 0 where masked: the CPU backward is then one multiply per entry.
      ctx->saved_data["softmax"] = softmax;
    }
    ctx->save_for_backward({pc, pr, rc, rr, lse});
    ctx->saved_data["mask"] = mask_tensor;
    ctx->saved_data["beta"] = beta;
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
      const bool* mask_ptr = mask.defined() ? mask.data_ptr<bool>() : nullptr;
      const c10::cuda::CUDAGuard device_guard(pc.device());
      void* stream = at::cuda::getCurrentCUDAStream().stream();
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "sdpo_loss_backward_cuda", [&] {
        cuda::launchSdpoBackward(grad_loss.data_ptr<scalar_t>(), pc.data_ptr<scalar_t>(), pr.data_ptr<scalar_t>(),
                                 rc.data_ptr<scalar_t>(), rr.data_ptr<scalar_t>(), mask_ptr,
                                 lse.data_ptr<scalar_t>(), rows, negatives, beta, grad_pc.data_ptr<scalar_t>(),
                                 grad_pr.data_ptr<scalar_t>(), stream);
      });
#else
      throw std::runtime_error("sdpo_loss: this build has no CUDA kernels (built against a CPU-only libtorch)");
#endif
    } else {
      const torch::Tensor softmax = ctx->saved_data["softmax"].toTensor();
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "sdpo_loss_backward_cpu", [&] {
        gapLseBackwardCpu<scalar_t>(grad_loss.data_ptr<scalar_t>(), softmax.data_ptr<scalar_t>(),
                                  lse.data_ptr<scalar_t>(), rows, negatives, static_cast<scalar_t>(beta),
                                  grad_pc.data_ptr<scalar_t>(), grad_pr.data_ptr<scalar_t>());
      });
    }
    // One gradient per forward argument: the reference inputs, mask and beta get none.
    return {grad_pc, grad_pr, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sdpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                        const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected, double beta,
                        const torch::Tensor& mask) {
  auto in = checkPreferenceInputs(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, mask, 2);
  c10::optional<torch::Tensor> optional_mask;
  if (in.mask.defined()) optional_mask = in.mask;
  return SdpoLossFunction::apply(in.policy_chosen, in.policy_rejected, in.reference_chosen, in.reference_rejected,
                                 optional_mask, beta);
}

}  // namespace sdpo::ops
