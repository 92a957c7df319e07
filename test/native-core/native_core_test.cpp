// The native core's ops checked without Node (CMakeLists.txt beside this file): the fused S-DPO / NAPO loss
// held to its plain reference in value and gradient, the candidate-list term to its formula, and a bad shape
// refused with sdpo::RangeError. Prints one line per check; exit status 1 if any failed.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "argument_errors.h"
#include "ops/losses.h"

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) failures++;
}

double maxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Value and gradients of sum(loss) w.r.t. the policy inputs, from the fused path or the plain one.
struct Result {
  torch::Tensor loss, grad_chosen, grad_rejected;
};

template <class Loss>
Result run(Loss loss, const torch::Tensor& pc, const torch::Tensor& pr) {
  auto c = pc.detach().clone().requires_grad_(true);
  auto r = pr.detach().clone().requires_grad_(true);
  torch::Tensor value = loss(c, r);
  value.sum().backward();
  return {value.detach(), c.grad(), r.grad()};
}

}  // namespace

int main() {
  using namespace sdpo;
  torch::manual_seed(7);
  const int64_t B = 6, K = 4;
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor pc = torch::randn({B}, f64) * 3, pr = torch::randn({B, K}, f64) * 3;
  torch::Tensor rc = torch::randn({B}, f64), rr = torch::randn({B, K}, f64);
  torch::Tensor mask = torch::rand({B, K}, f64) > 0.3;
  mask.select(1, 0).fill_(true);  // every row keeps a real negative

  {
    ops::NapoMargin margin;
    margin.gamma = 0.5;
    margin.tau = 0.7;
    margin.chosen_confidence = torch::randn({B}, f64);
    margin.rejected_confidence = torch::randn({B, K}, f64);
    auto fused = run([&](auto& c, auto& r) { return ops::napo_loss(c, r, rc, rr, 0.8, margin, mask); }, pc, pr);
    auto plain = run([&](auto& c, auto& r) { return ops::napo_loss_plain(c, r, rc, rr, 0.8, margin, mask); }, pc, pr);
    expect(maxAbsDiff(fused.loss, plain.loss) < 1e-12, "napo_loss (dynamic margin, masked) == napo_loss_plain");
    expect(maxAbsDiff(fused.grad_chosen, plain.grad_chosen) < 1e-12 && maxAbsDiff(fused.grad_rejected, plain.grad_rejected) < 1e-12,
           "napo_loss gradients == napo_loss_plain gradients");
  }
  {
    auto fused = run([&](auto& c, auto& r) { return ops::sdpo_loss(c, r, rc, rr, 1.3, mask); }, pc, pr);
    auto plain = run([&](auto& c, auto& r) { return ops::sdpo_loss_plain(c, r, rc, rr, 1.3, mask); }, pc, pr);
    expect(maxAbsDiff(fused.loss, plain.loss) < 1e-12, "sdpo_loss == sdpo_loss_plain");
    expect(maxAbsDiff(fused.grad_rejected, plain.grad_rejected) < 1e-12, "sdpo_loss gradients == sdpo_loss_plain gradients");
  }
  {
    // -log(exp(pc) + sum over real negatives of exp(pr)), and its gradient: minus each response's share.
    auto list = run([&](auto& c, auto& r) { return ops::candidate_list_nll(c, r, mask); }, pc, pr);
    torch::Tensor shares = torch::cat({pc.exp().unsqueeze(1), pr.exp() * mask.to(torch::kFloat64)}, 1);
    torch::Tensor total = shares.sum(1);
    expect(maxAbsDiff(list.loss, -total.log()) < 1e-12, "candidate_list_nll == -log(sum of the listed probabilities)");
    expect(maxAbsDiff(list.grad_rejected, -shares.slice(1, 1) / total.unsqueeze(1)) < 1e-12,
           "candidate_list_nll gradient == -(each listed response's share)");
  }
  {
    bool refused = false;
    try {
      ops::candidate_list_nll(pc, pr.slice(0, 0, B - 1));
    } catch (const RangeError& e) {
      refused = std::string(e.what()).find("policyRejected must be [B, K]") != std::string::npos;
    }
    expect(refused, "a [B - 1, K] policyRejected is a RangeError naming it");
  }
  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
