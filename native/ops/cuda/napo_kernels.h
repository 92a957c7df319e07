// Launchers for the fused CUDA NAPO kernels: S-DPO with a reward margin per negative, and S-DPO itself with
// gamma = 0 (then no margin work is done and the confidences are not read). Plain C++ declarations, like
// loss_kernels.h: no CUDA or ATen headers. `stream` is a cudaStream_t passed as void*; every pointer is device
// memory, contiguous, row-major. Each launcher throws std::runtime_error if the launch fails.
#pragma once
#include <cstdint>

namespace sdpo::ops::cuda {

// The margin added to each reward gap of row b:
//   margin_j = 0                                                                 (gamma = 0: S-DPO)
//   margin_j = gamma                                                             (chosen_confidence null)
//   margin_j = gamma * sigmoid((rejected_confidence[b,j] - chosen_confidence[b]) / tau)   (both non-null)
template <typename T>
struct NapoMarginArgs {
  const T* chosen_confidence = nullptr;    // [B] or null
  const T* rejected_confidence = nullptr;  // [B, K] or null
  double gamma = 0;
  double tau = 1;
};

// Forward, one block per row: z_j = beta*(pr[b,j]-rr[b,j]) - beta*(pc[b]-rc[b]) + margin_j,
//   lse[b] = max-shifted logsumexp over j with mask[b,j] (mask null: all real), loss[b] = softplus(lse[b]).
void launchNapoForward(const float* policy_chosen, const float* policy_rejected, const float* reference_chosen,
                       const float* reference_rejected, NapoMarginArgs<float> margin, const bool* mask, int64_t rows,
                       int64_t negatives, double beta, float* loss, float* lse, void* stream);
void launchNapoForward(const double* policy_chosen, const double* policy_rejected, const double* reference_chosen,
                       const double* reference_rejected, NapoMarginArgs<double> margin, const bool* mask,
                       int64_t rows, int64_t negatives, double beta, double* loss, double* lse, void* stream);

// Backward, one block per row: with s = sigmoid(lse[b]) and p_j = exp(z_j - lse[b]) (0 if masked),
//   grad_policy_rejected[b,j] = grad_loss[b] * beta * s * p_j,  grad_policy_chosen[b] = -grad_loss[b] * beta * s.
// The margin is a constant: it moves p_j, it gets no gradient.
void launchNapoBackward(const float* grad_loss, const float* policy_chosen, const float* policy_rejected,
                        const float* reference_chosen, const float* reference_rejected, NapoMarginArgs<float> margin,
                        const bool* mask, const float* lse, int64_t rows, int64_t negatives, double beta,
                        float* grad_policy_chosen, float* grad_policy_rejected, void* stream);
void launchNapoBackward(const double* grad_loss, const double* policy_chosen, const double* policy_rejected,
                        const double* reference_chosen, const double* reference_rejected,
                        NapoMarginArgs<double> margin, const bool* mask, const double* lse, int64_t rows,
                        int64_t negatives, double beta, double* grad_policy_chosen, double* grad_policy_rejected,
                        void* stream);

}  // namespace sdpo::ops::cuda
