// QOperator form -> QDQ form, so that Network lowers both with one set of patterns.
#pragma once

#include <string>

#include "qk/onnx/model.hpp"

namespace qk {
namespace onnx {
namespace detail {

// True if the model has QLinearConv or QLinearMatMul nodes.
bool has_qoperator_nodes(const Model& m) noexcept;

// Rewrites every QLinearConv and QLinearMatMul into the QDQ chain that means the same thing:
//   QLinearConv(x, xs, xz, w, ws, wz, ys, yz[, B])
//     -> DequantizeLinear(x, xs, xz), DequantizeLinear(w, ws, wz[, axis 0]),
//        DequantizeLinear(B, xs * ws, axis 0) -> Conv (the same attributes) -> QuantizeLinear(ys, yz) -> y
//   QLinearMatMul(a, as, az, b, bs, bz, ys, yz)
//     -> DequantizeLinear(a), DequantizeLinear(b[, axis 1]) -> MatMul -> QuantizeLinear -> y
// (ONNX defines QLinearConv's bias as int32 at scale xs * ws, zero point 0.) The weights, their
// scales and the bias must be initializers. Every other node is copied as it is. The tensors the
// rewrite adds are named after the node ("<node>/x_dq", ...). Errors name the node.
Status qoperator_as_qdq(const Model& m, Model* out, std::string* error);

}  // namespace detail
}  // namespace onnx
}  // namespace qk
