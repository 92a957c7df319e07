#include "train/adamw.h"

#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include "argument_errors.h"
#include "train/adamw_update.h"

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

void AdamW::step(double lr, double grad_scale) {
  if (!std::isfinite(lr) || lr < 0) throw RangeError("learningRate must be a finite number >= 0");
  torch::NoGradGuard no_grad;
  ++step_count_;
  AdamWScalars s;
  s.lr = lr;
  s.beta1 = options_.beta1;
  s.beta2 = options_.beta2;
  s.eps = options_.eps;
  s.step = step_count_;
  s.grad_scale = grad_scale;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor p = params_[i].tensor;
    const torch::Tensor& grad = p.grad();
    if (!grad.defined()) continue;
    s.weight_decay = options_.decay_all_parameters || p.dim() >= 2 ? options_.weight_decay : 0.0;
    if (adamw_fused_applies(p, grad, exp_avg_[i], exp_avg_sq_[i])) {
      adamw_update_fused_cpu(p, grad, exp_avg_[i], exp_avg_sq_[i], s);
    } else {
      adamw_update_plain(p, grad, exp_avg_[i], exp_avg_sq_[i], s);
    }
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

GradClip gradient_clipping(const std::vector<NamedTensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  // CPU gradients: summed in float64 one after the other, without float64 copies. Elsewhere: summed on
  // the gradients' device and read back once (one sync, not one per parameter).
  double cpu_sum = 0;
  torch::Tensor device_sum;
  for (const auto& p : params) {
    const torch::Tensor& g = p.tensor.grad();
    if (!g.defined()) continue;
    if (g.device().is_cpu()) {
      cpu_sum += grad_sum_squares(g);
    } else {
      torch::Tensor s = g.to(torch::kDouble).pow(2).sum();
      device_sum = device_sum.defined() ? device_sum + s.to(device_sum.device()) : s;
    }
  }
  if (device_sum.defined()) cpu_sum += device_sum.item<double>();
  GradClip out;
  out.norm = std::sqrt(cpu_sum);
  if (max_norm > 0 && std::isfinite(out.norm)) {
    const double coef = max_norm / (out.norm + 1e-6);
    if (coef < 1.0) out.scale = coef;
  }
  return out;
}

}  // namespace sdpo::train
