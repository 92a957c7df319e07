// DPO (sigmoid), fused: loss[b] = softplus(r_l - r_w) = -log sigmoid(r_w - r_l), elementwise, one CPU loop
// or one CUDA thread per row (native/ops/cuda/dpo_kernels.cu); the gap is recomputed in the backward.
#include <ATen/Parallel.h>

#include "ops/checks.h"
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

template <typename T>
T dpoGap(const T* pc, const T* pl, const T* rc, const T* rl, int64_t b, T beta) {
  return beta * (pl[b] - rl[b]) - beta * (pc[b] - rc[b]);
}

struct DpoLossFunction : torch::autograd::Function<DpoLossFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& pc, const torch::Tensor& pl,
                               const torch::Tensor& rc, const torch::Tensor& rl, double beta) {
    const int64_t rows = pc.size(0);
    torch::Tensor loss = torch::empty({rows}, pc.options());
    if (pc.is_cuda()) {
#ifdef SDPO_WITH_CUDA
      const c10::cuda::CUDAGuard device_guard(pc.device());
      void* stream = at::cuda::getCurrentCUDAStream().stream();
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "dpo_loss_cuda", [&] {
        cuda::launchDpoForward(pc.data_ptr<scalar_t>(), pl.data_ptr<scalar_t>(), rc.data_ptr<scalar_t>(),
                               rl.data_ptr<scalar_t>(), rows, beta, loss.data_ptr<scalar_t>(), stream);
      });
#else
      throw std::runtime_error("dpo_loss: this build has no CUDA kernels (built against a CPU-only libtorch)");
#endif
    } else {
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "dpo_loss_cpu", [&] {
        const scalar_t *pcp = pc.data_ptr<scalar_t>(), *plp = pl.data_ptr<scalar_t>();
        const scalar_t *rcp = rc.data_ptr<scalar_t>(), *rlp = rl.data_ptr<scalar_t>();
        scalar_t* out = loss.data_ptr<scalar_t>();
        const auto b_ = static_cast<scalar_t>(beta);
        at::parallel_for(0, rows, 1024, [&](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b) out[b] = stableSoftplus(dpoGap(pcp, plp, rcp, rlp, b, b_));
        });
      });
    }
    ctx->save_for_backward({pc, pl, rc, rl});
    ctx->saved_data["beta"] = beta;
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &pc = saved[0], &pl = saved[1], &rc = saved[2], &rl = saved[3];
    const double beta = ctx->saved_data["beta"].toDouble();
    const torch::Tensor grad_loss = grad_outputs[0].contiguous();
    const int64_t rows = pc.size(0);
    torch::Tensor grad_pc = torch::empty_like(pc);
    torch::Tensor grad_pl = torch::empty_like(pl);
    if (pc.is_cuda()) {
#ifdef SDPO_WITH_CUDA
      const c10::cuda::CUDAGuard device_guard(pc.device());
      void* stream = at::cuda::getCurrentCUDAStream().stream();
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "dpo_loss_backward_cuda", [&] {
        cuda::launchDpoBackward(grad_loss.data_ptr<scalar_t>(), pc.data_ptr<scalar_t>(), pl.data_ptr<scalar_t>(),
                                rc.data_ptr<scalar_t>(), rl.data_ptr<scalar_t>(), rows, beta,
                                grad_pc.data_ptr<scalar_t>(), grad_pl.data_ptr<scalar_t>(), stream);
      });
#else
      throw std::runtime_error("dpo_loss: this build has no CUDA kernels (built against a CPU-only libtorch)");
#endif
    } else {
      AT_DISPATCH_FLOATING_TYPES(pc.scalar_type(), "dpo_loss_backward_cpu", [&] {
        const scalar_t *pcp = pc.data_ptr<scalar_t>(), *plp = pl.data_ptr<scalar_t>();
        const scalar_t *rcp = rc.data_ptr<scalar_t>(), *rlp = rl.data_ptr<scalar_t>();
        const scalar_t* g = grad_loss.data_ptr<scalar_t>();
        scalar_t *gc = grad_pc.data_ptr<scalar_t>(), *gl = grad_pl.data_ptr<scalar_t>();
        const auto b_ = static_cast<scalar_t>(beta);
        at::parallel_for(0, rows, 1024, [&](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b) {
            // d softplus(gap)/d gap = sigmoid(gap); gap = beta*(l side) - beta*(chosen side).
            const scalar_t scale = g[b] * b_ * stableSigmoid(dpoGap(pcp, plp, rcp, rlp, b, b_));
            gl[b] = scale;
            gc[b] = -scale;
          }
        });
      });
    }
    return {grad_pc, grad_pl, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor dpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                       const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected, double beta) {
  auto in = checkPreferenceInputs(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, {}, 1);
  return DpoLossFunction::apply(in.policy_chosen, in.policy_rejected, in.reference_chosen, in.reference_rejected, beta);
}

}  // namespace sdpo::ops
