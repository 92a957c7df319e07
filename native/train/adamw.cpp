#include "train/adamw.h"

#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include "binding/errors.h"

namespace sdpo::train {
namespace {

// Half-precision parameters keep their moments in float32: bf16 moments lose small updates.
torch::ScalarType momentDtype(const torch::Tensor& p) {
  auto t = p.scalar_type();
  return (t == torch::kHalf || t == torch::kBFloat16) ? torch::kFloat : t;
}

}  // namespace

AdamW::AdamW(std::vector<NamedTensor> params, AdamWOptions options)
    : params_(std::move(params)), options_(options) {
  if (!(options_.beta1 >= 0 && options_.beta1 < 1)) throw RangeError("adamBeta1 must be in [0, 1)");
  if (!(options_.beta2 >= 0 && options_.beta2 < 1)) throw RangeError("adamBeta2 must be in [0, 1)");
  if (!(options_.eps > 0)) throw RangeError("adamEpsilon must be > 0");
  if (!(options_.weight_decay >= 0)) throw RangeError("weightDecay must be >= 0");
  for (const auto& p : params_) {
    auto opts = p.tensor.options().dtype(momentDtype(p.tensor));
    exp_avg_.push_back(torch::zeros(p.tensor.sizes(), opts));
    exp_avg_sq_.push_back(torch::zeros(p.tensor.sizes(), opts));
  }
}

void AdamW::step(double lr) {
  if (!std::isfinite(lr) || lr < 0) throw RangeError("learningRate must be a finite number >= 0");
  torch::NoGradGuard no_grad;
  ++step_count_;
  const double bias1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_count_));
  const double bias2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_count_));
  const double step_size = lr / bias1;
  const double bias2_sqrt = std::sqrt(bias2);
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor p = params_[i].tensor;
    const torch::Tensor& grad_ref = p.grad();
    if (!grad_ref.defined()) continue;
    torch::Tensor& m = exp_avg_[i];
    torch::Tensor& v = exp_avg_sq_[i];
    // Work in the moments' dtype (float32 for half parameters), write the result back.
    torch::Tensor g = grad_ref.to(m.scalar_type());
    torch::Tensor w = p.scalar_type() == m.scalar_type() ? p : p.to(m.scalar_type());
    if (options_.weight_decay != 0) w.mul_(1.0 - lr * options_.weight_decay);
    m.mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
    v.mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    torch::Tensor denom = (v.sqrt() / bias2_sqrt).add_(options_.eps);
    w.addcdiv_(m, denom, -step_size);
    if (!w.is_same(p)) p.copy_(w);
  }
}

void AdamW::zero_grad() {
  for (auto& p : params_) {
    if (p.tensor.grad().defined()) p.tensor.mutable_grad() = torch::Tensor();
  }
}

std::vector<NamedTensor> AdamW::state() const {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.push_back({params_[i].name + ".exp_avg", exp_avg_[i].detach().to(torch::kCPU).clone()});
    out.push_back({params_[i].name + ".exp_avg_sq", exp_avg_sq_[i].detach().to(torch::kCPU).clone()});
  }
  return out;
}

void AdamW::load_state(int64_t step_count, const std::vector<NamedTensor>& state) {
  if (step_count < 0) throw RangeError("optimizer state: step must be >= 0");
  std::unordered_map<std::string, const torch::Tensor*> byName;
  for (const auto& entry : state) byName[entry.name] = &entry.tensor;
  if (byName.size() != 2 * params_.size()) {
    throw RangeError("optimizer state: expected " + std::to_string(2 * params_.size()) +
                     " tensors (exp_avg and exp_avg_sq of each trainable parameter), got " +
                     std::to_string(byName.size()));
  }
  // Check everything before changing anything.
  std::vector<torch::Tensor> m(params_.size()), v(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    for (int which = 0; which < 2; ++which) {
      std::string name = params_[i].name + (which == 0 ? ".exp_avg" : ".exp_avg_sq");
      auto it = byName.find(name);
      if (it == byName.end()) throw RangeError("optimizer state: missing tensor '" + name + "'");
      const torch::Tensor& t = *it->second;
      if (t.sizes() != params_[i].tensor.sizes()) {
        throw RangeError("optimizer state: '" + name + "' has shape " + c10::str(t.sizes()) + ", parameter has " +
                         c10::str(params_[i].tensor.sizes()));
      }
      const torch::Tensor& target = which == 0 ? exp_avg_[i] : exp_avg_sq_[i];
      (which == 0 ? m[i] : v[i]) = t.to(target.options());
    }
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    exp_avg_[i].copy_(m[i]);
    exp_avg_sq_[i].copy_(v[i]);
  }
  step_count_ = step_count;
}

double clip_grad_norm(const std::vector<NamedTensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  // Summed on the gradients' device, read back once (one sync, not one per parameter).
  torch::Tensor sum_sq;
  for (const auto& p : params) {
    const torch::Tensor& g = p.tensor.grad();
    if (!g.defined()) continue;
    torch::Tensor s = g.to(torch::kDouble).pow(2).sum();
    sum_sq = sum_sq.defined() ? sum_sq + s.to(sum_sq.device()) : s;
  }
  double norm = sum_sq.defined() ? std::sqrt(sum_sq.item<double>()) : 0.0;
  if (max_norm > 0 && std::isfinite(norm)) {
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
      for (const auto& p : params) {
        if (p.tensor.grad().defined()) p.tensor.mutable_grad().mul_(coef);
      }
    }
  }
  return norm;
}

}  // namespace sdpo::train
