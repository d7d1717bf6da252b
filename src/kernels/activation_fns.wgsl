// Activation functions shared by the element-wise kernels and the LSTM recurrence (prepended to their source).
// Both are computed from exp(−|u|), which never overflows: WGSL's builtin tanh may return NaN for large |u| on
// some implementations (it is allowed to be computed as sinh/cosh), and exp(−u) overflows for u < −88.

fn safeTanh(u: f32) -> f32 {
  let e = exp(-2.0 * abs(u));
  return sign(u) * (1.0 - e) / (1.0 + e);
}

fn sigmoid(u: f32) -> f32 {
  let e = exp(-abs(u));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), u >= 0.0);
}
