// Launchers for the fused CUDA loss kernels. Plain C++ declarations: no CUDA or ATen headers,
// so the .cpp entry points can include this and nvcc alone compiles the .cu files.
// `stream` is a cudaStream_t passed as void*. Every pointer is device memory, contiguous, row-major.
// Each launcher enqueues its kernel(s) and returns; it throws std::runtime_error if the launch fails.
#pragma once
#include <cstdint>

namespace sdpo::ops::cuda {

// S-DPO: the NAPO kernels with gamma = 0 (napo_kernels.h).

// DPO, one thread per row: gap = beta*(policy_rejected[b]-reference_rejected[b]) - beta*(policy_chosen[b]-reference_chosen[b]),
//   loss[b] = softplus(gap); backward: grad_policy_rejected[b] = grad_loss[b] * beta * sigmoid(gap) = -grad_policy_chosen[b].
// A gap of +inf gives loss inf and the full gradient, -inf gives 0 and no gradient (as on CPU).
void launchDpoForward(const float* policy_chosen, const float* policy_rejected, const float* reference_chosen,
                      const float* reference_rejected, int64_t rows, double beta, float* loss, void* stream);
void launchDpoForward(const double* policy_chosen, const double* policy_rejected, const double* reference_chosen,
                      const double* reference_rejected, int64_t rows, double beta, double* loss, void* stream);
void launchDpoBackward(const float* grad_loss, const float* policy_chosen, const float* policy_rejected,
                       const float* reference_chosen, const float* reference_rejected, int64_t rows, double beta,
                       float* grad_policy_chosen, float* grad_policy_rejected, void* stream);
void launchDpoBackward(const double* grad_loss, const double* policy_chosen, const double* policy_rejected,
                       const double* reference_chosen, const double* reference_rejected, int64_t rows, double beta,
                       double* grad_policy_chosen, double* grad_policy_rejected, void* stream);

// Token log-probs, forward over one chunk of rows: logits [rows, vocab] (already hidden @ weight^T),
// one block per row: lse[i] = logsumexp_v logits[i, v], logp[i] = logits[i, labels[i]] - lse[i];
// rows with labels[i] == ignore_index get logp 0 (lse is still written). A label outside [0, vocab) (its
// check may be read after the launch, device_checks.h) gets logp NaN and is never used as an index.
void launchTokenLseForward(const float* logits, const int64_t* labels, int64_t rows, int64_t vocab,
                           int64_t ignore_index, float* logp, float* lse, void* stream);
void launchTokenLseForward(const double* logits, const int64_t* labels, int64_t rows, int64_t vocab,
                           int64_t ignore_index, double* logp, double* lse, void* stream);

// Token log-probs, backward over one chunk: turns the recomputed logits into grad_logits in place,
//   logits[i, v] <- grad_logp[i] * ([v == labels[i]] - exp(logits[i, v] - lse[i])),  0 for ignored rows.
void launchTokenGradLogitsInPlace(float* logits, const int64_t* labels, const float* lse, const float* grad_logp,
                                  int64_t rows, int64_t vocab, int64_t ignore_index, void* stream);
void launchTokenGradLogitsInPlace(double* logits, const int64_t* labels, const double* lse, const double* grad_logp,
                                  int64_t rows, int64_t vocab, int64_t ignore_index, void* stream);

}  // namespace sdpo::ops::cuda
