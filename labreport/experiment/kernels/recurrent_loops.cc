// The sequence loops of Keras' default GRU (reset_after=True; gates z, r, n) and LSTM (gates i, f, c,
// o) as compiled TensorFlow ops: for each cell the forward loop over a whole sequence and its
// back-propagation through time. labreport.kernels builds this file at first use with the C++
// compiler and TensorFlow's own compile and link flags; labreport.fused calls the ops where the
// layer's settings allow.
//
// The input projection x·W + b (one large matrix product for every step at once) and the recurrent
// kernel's gradient (one product over all steps) stay in TensorFlow: the loops here hold only what
// must run step by step, one op per sequence instead of dozens of small ops per step.

#include <Eigen/Dense>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Array = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowArray = Eigen::Array<float, 1, Eigen::Dynamic>;

// (steps, batch, width) from the dimensions at hand, for the shape functions.
ShapeHandle Sequence(InferenceContext* c, DimensionHandle steps, DimensionHandle batch, DimensionHandle units,
                     int multiple) {
  DimensionHandle width;
  TF_CHECK_OK(c->Multiply(units, multiple, &width));
  return c->MakeShape({steps, batch, width});
}

}  // namespace

// ---- GRU, reset_after=True: z = σ(x_z + h·U_z + b_z), r = σ(x_r + h·U_r + b_r),
//      n = tanh(x_n + r·(h·U_n + b_n)), h' = n + z·(h - n) -------------------------------------

REGISTER_OP("LabreportGruSequence")
    .Input("projected: float")         // x·W + b_input, (steps, batch, 3·units)
    .Input("h0: float")                // (batch, units)
    .Input("recurrent_kernel: float")  // U, (units, 3·units)
    .Input("recurrent_bias: float")    // (3·units)
    .Output("h_last: float")           // (batch, units)
    .Output("gates: float")            // z, r, n and h·U_n + b_n per step, (steps, batch, 4·units)
    .Output("states: float")           // h before each step, (steps, batch, units)
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle projected, h0;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &projected));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &h0));
      DimensionHandle steps = c->Dim(projected, 0), batch = c->Dim(h0, 0), units = c->Dim(h0, 1);
      c->set_output(0, h0);
      c->set_output(1, Sequence(c, steps, batch, units, 4));
      c->set_output(2, Sequence(c, steps, batch, units, 1));
      return absl::OkStatus();
    });

REGISTER_OP("LabreportGruSequenceGrad")
    .Input("gates: float")
    .Input("states: float")
    .Input("recurrent_kernel: float")
    .Input("dh_last: float")
    .Output("d_projected: float")  // (steps, batch, 3·units)
    .Output("dh0: float")          // (batch, units)
    .Output("d_h_part: float")     // d(h·U + b_recurrent) per step, (steps, batch, 3·units)
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle states, dh;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &states));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 2, &dh));
      DimensionHandle steps = c->Dim(states, 0), batch = c->Dim(dh, 0), units = c->Dim(dh, 1);
      c->set_output(0, Sequence(c, steps, batch, units, 3));
      c->set_output(1, dh);
      c->set_output(2, Sequence(c, steps, batch, units, 3));
      return absl::OkStatus();
    });

class LabreportGruSequenceOp : public OpKernel {
 public:
  explicit LabreportGruSequenceOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& projected = context->input(0);
    const Tensor& h0 = context->input(1);
    const Tensor& kernel = context->input(2);
    const Tensor& bias = context->input(3);
    OP_REQUIRES(context, projected.dims() == 3 && h0.dims() == 2 && kernel.dims() == 2 && bias.dims() == 1,
                absl::InvalidArgumentError("LabreportGruSequence: expected ranks 3, 2, 2, 1"));
    const int64_t steps = projected.dim_size(0), batch = h0.dim_size(0), units = h0.dim_size(1);
    const int64_t gates = 3 * units;
    OP_REQUIRES(context, projected.dim_size(1) == batch && projected.dim_size(2) == gates &&
                kernel.dim_size(0) == units && kernel.dim_size(1) == gates && bias.dim_size(0) == gates,
                absl::InvalidArgumentError(absl::StrCat(
                    "LabreportGruSequence: shapes do not fit: projected ", projected.shape().DebugString(),
                    ", h0 ", h0.shape().DebugString(), ", recurrent_kernel ", kernel.shape().DebugString(),
                    ", recurrent_bias ", bias.shape().DebugString())));
    Tensor *h_last = nullptr, *saved_gates = nullptr, *states = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, h0.shape(), &h_last));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({steps, batch, 4 * units}), &saved_gates));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({steps, batch, units}), &states));

    Eigen::Map<const Matrix> recurrent(kernel.flat<float>().data(), units, gates);
    Eigen::Map<const RowArray> recurrent_bias(bias.flat<float>().data(), gates);
    Matrix h = Eigen::Map<const Matrix>(h0.flat<float>().data(), batch, units);
    Matrix h_part(batch, gates);
    for (int64_t t = 0; t < steps; ++t) {
      Eigen::Map<const Array> x(projected.flat<float>().data() + t * batch * gates, batch, gates);
      Eigen::Map<Array> saved(saved_gates->flat<float>().data() + t * batch * 4 * units, batch, 4 * units);
      Eigen::Map<Matrix>(states->flat<float>().data() + t * batch * units, batch, units) = h;
      h_part.noalias() = h * recurrent;
      h_part.array().rowwise() += recurrent_bias;
      saved.leftCols(2 * units) = (x.leftCols(2 * units) + h_part.array().leftCols(2 * units)).logistic();
      saved.rightCols(units) = h_part.array().rightCols(units);  // h·U_n + b_n
      saved.middleCols(2 * units, units) =
          (x.rightCols(units) + saved.middleCols(units, units) * saved.rightCols(units)).tanh();
      // h = n + z·(h - n)
      h.array() = saved.middleCols(2 * units, units) +
                  saved.leftCols(units) * (h.array() - saved.middleCols(2 * units, units));
    }
    Eigen::Map<Matrix>(h_last->flat<float>().data(), batch, units) = h;
  }
};

class LabreportGruSequenceGradOp : public OpKernel {
 public:
  explicit LabreportGruSequenceGradOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& saved_gates = context->input(0);
    const Tensor& states = context->input(1);
    const Tensor& kernel = context->input(2);
    const Tensor& dh_last = context->input(3);
    OP_REQUIRES(context, saved_gates.dims() == 3 && states.dims() == 3 && kernel.dims() == 2 && dh_last.dims() == 2,
                absl::InvalidArgumentError("LabreportGruSequenceGrad: expected ranks 3, 3, 2, 2"));
    const int64_t steps = states.dim_size(0), batch = dh_last.dim_size(0), units = dh_last.dim_size(1);
    const int64_t gates = 3 * units;
    OP_REQUIRES(context, states.dim_size(1) == batch && states.dim_size(2) == units &&
                saved_gates.dim_size(0) == steps && saved_gates.dim_size(1) == batch &&
                saved_gates.dim_size(2) == 4 * units && kernel.dim_size(0) == units && kernel.dim_size(1) == gates,
                absl::InvalidArgumentError("LabreportGruSequenceGrad: shapes do not fit"));
    Tensor *d_projected = nullptr, *dh0 = nullptr, *d_h_part = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({steps, batch, gates}), &d_projected));
    OP_REQUIRES_OK(context, context->allocate_output(1, dh_last.shape(), &dh0));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({steps, batch, gates}), &d_h_part));

    Eigen::Map<const Matrix> recurrent(kernel.flat<float>().data(), units, gates);
    Matrix dh = Eigen::Map<const Matrix>(dh_last.flat<float>().data(), batch, units);
    Array dn(batch, units);
    for (int64_t t = steps - 1; t >= 0; --t) {
      Eigen::Map<const Array> saved(saved_gates.flat<float>().data() + t * batch * 4 * units, batch, 4 * units);
      Eigen::Map<const Array> h_prev(states.flat<float>().data() + t * batch * units, batch, units);
      Eigen::Map<Array> dx(d_projected->flat<float>().data() + t * batch * gates, batch, gates);
      Eigen::Map<Matrix> dpart(d_h_part->flat<float>().data() + t * batch * gates, batch, gates);
      const auto z = saved.leftCols(units);
      const auto r = saved.middleCols(units, units);
      const auto n = saved.middleCols(2 * units, units);
      const auto rh = saved.rightCols(units);
      const auto dh_array = dh.array();
      dn = dh_array * (1 - z) * (1 - n * n);                                   // through tanh
      dx.leftCols(units) = dh_array * (h_prev - n) * z * (1 - z);              // dz, through the sigmoid
      dx.middleCols(units, units) = dn * rh * r * (1 - r);                     // dr
      dx.rightCols(units) = dn;
      dpart.array().leftCols(2 * units) = dx.leftCols(2 * units);
      dpart.array().rightCols(units) = dn * r;
      // dh_prev = dh·z + d(h·U)·Uᵀ
      Matrix carried = (dh_array * z).matrix();
      dh.noalias() = dpart * recurrent.transpose();
      dh += carried;
    }
    Eigen::Map<Matrix>(dh0->flat<float>().data(), batch, units) = dh;
  }
};

// ---- LSTM: i, f, o = σ(x + h·U), g = tanh(x_c + h·U_c), c' = f·c + i·g, h' = o·tanh(c') ---------

REGISTER_OP("LabreportLstmSequence")
    .Input("projected: float")         // x·W + b, (steps, batch, 4·units), Keras' gate order i, f, c, o
    .Input("h0: float")                // (batch, units)
    .Input("c0: float")                // (batch, units)
    .Input("recurrent_kernel: float")  // U, (units, 4·units)
    .Output("h_last: float")           // (batch, units)
    .Output("c_last: float")           // (batch, units)
    .Output("gates: float")            // i, f, g = tanh(c gate), o per step, (steps, batch, 4·units)
    .Output("states: float")           // h before each step, (steps, batch, units)
    .Output("cells: float")            // c before each step, (steps, batch, units)
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle projected, h0;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &projected));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &h0));
      DimensionHandle steps = c->Dim(projected, 0), batch = c->Dim(h0, 0), units = c->Dim(h0, 1);
      c->set_output(0, h0);
      c->set_output(1, h0);
      c->set_output(2, Sequence(c, steps, batch, units, 4));
      c->set_output(3, Sequence(c, steps, batch, units, 1));
      c->set_output(4, Sequence(c, steps, batch, units, 1));
      return absl::OkStatus();
    });

REGISTER_OP("LabreportLstmSequenceGrad")
    .Input("gates: float")
    .Input("states: float")
    .Input("cells: float")
    .Input("c_last: float")
    .Input("recurrent_kernel: float")
    .Input("dh_last: float")
    .Input("dc_last: float")
    .Output("d_projected: float")  // (steps, batch, 4·units); also d(h·U) per step
    .Output("dh0: float")          // (batch, units)
    .Output("dc0: float")          // (batch, units)
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle states, dh;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &states));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 2, &dh));
      DimensionHandle steps = c->Dim(states, 0), batch = c->Dim(dh, 0), units = c->Dim(dh, 1);
      c->set_output(0, Sequence(c, steps, batch, units, 4));
      c->set_output(1, dh);
      c->set_output(2, dh);
      return absl::OkStatus();
    });

class LabreportLstmSequenceOp : public OpKernel {
 public:
  explicit LabreportLstmSequenceOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& projected = context->input(0);
    const Tensor& h0 = context->input(1);
    const Tensor& c0 = context->input(2);
    const Tensor& kernel = context->input(3);
    OP_REQUIRES(context, projected.dims() == 3 && h0.dims() == 2 && c0.dims() == 2 && kernel.dims() == 2,
                absl::InvalidArgumentError("LabreportLstmSequence: expected ranks 3, 2, 2, 2"));
    const int64_t steps = projected.dim_size(0), batch = h0.dim_size(0), units = h0.dim_size(1);
    const int64_t gates = 4 * units;
    OP_REQUIRES(context, projected.dim_size(1) == batch && projected.dim_size(2) == gates &&
                c0.shape() == h0.shape() && kernel.dim_size(0) == units && kernel.dim_size(1) == gates,
                absl::InvalidArgumentError(absl::StrCat(
                    "LabreportLstmSequence: shapes do not fit: projected ", projected.shape().DebugString(),
                    ", h0 ", h0.shape().DebugString(), ", c0 ", c0.shape().DebugString(),
                    ", recurrent_kernel ", kernel.shape().DebugString())));
    Tensor *h_last = nullptr, *c_last = nullptr, *saved_gates = nullptr, *states = nullptr, *cells = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, h0.shape(), &h_last));
    OP_REQUIRES_OK(context, context->allocate_output(1, h0.shape(), &c_last));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({steps, batch, gates}), &saved_gates));
    OP_REQUIRES_OK(context, context->allocate_output(3, TensorShape({steps, batch, units}), &states));
    OP_REQUIRES_OK(context, context->allocate_output(4, TensorShape({steps, batch, units}), &cells));

    Eigen::Map<const Matrix> recurrent(kernel.flat<float>().data(), units, gates);
    Matrix h = Eigen::Map<const Matrix>(h0.flat<float>().data(), batch, units);
    Array c = Eigen::Map<const Array>(c0.flat<float>().data(), batch, units);
    Matrix pre(batch, gates);
    for (int64_t t = 0; t < steps; ++t) {
      Eigen::Map<const Matrix> x(projected.flat<float>().data() + t * batch * gates, batch, gates);
      Eigen::Map<Array> saved(saved_gates->flat<float>().data() + t * batch * gates, batch, gates);
      Eigen::Map<Matrix>(states->flat<float>().data() + t * batch * units, batch, units) = h;
      Eigen::Map<Array>(cells->flat<float>().data() + t * batch * units, batch, units) = c;
      pre.noalias() = x;
      pre.noalias() += h * recurrent;
      saved.leftCols(2 * units) = pre.array().leftCols(2 * units).logistic();      // i, f
      saved.middleCols(2 * units, units) = pre.array().middleCols(2 * units, units).tanh();  // g
      saved.rightCols(units) = pre.array().rightCols(units).logistic();           // o
      c = saved.middleCols(units, units) * c + saved.leftCols(units) * saved.middleCols(2 * units, units);
      h.array() = saved.rightCols(units) * c.tanh();
    }
    Eigen::Map<Matrix>(h_last->flat<float>().data(), batch, units) = h;
    Eigen::Map<Array>(c_last->flat<float>().data(), batch, units) = c;
  }
};

class LabreportLstmSequenceGradOp : public OpKernel {
 public:
  explicit LabreportLstmSequenceGradOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& saved_gates = context->input(0);
    const Tensor& states = context->input(1);
    const Tensor& cells = context->input(2);
    const Tensor& c_last = context->input(3);
    const Tensor& kernel = context->input(4);
    const Tensor& dh_last = context->input(5);
    const Tensor& dc_last = context->input(6);
    OP_REQUIRES(context, saved_gates.dims() == 3 && states.dims() == 3 && cells.dims() == 3 && c_last.dims() == 2 &&
                kernel.dims() == 2 && dh_last.dims() == 2 && dc_last.dims() == 2,
                absl::InvalidArgumentError("LabreportLstmSequenceGrad: expected ranks 3, 3, 3, 2, 2, 2, 2"));
    const int64_t steps = states.dim_size(0), batch = dh_last.dim_size(0), units = dh_last.dim_size(1);
    const int64_t gates = 4 * units;
    OP_REQUIRES(context, states.dim_size(1) == batch && states.dim_size(2) == units && cells.shape() == states.shape() &&
                saved_gates.dim_size(0) == steps && saved_gates.dim_size(1) == batch &&
                saved_gates.dim_size(2) == gates && c_last.shape() == dh_last.shape() &&
                dc_last.shape() == dh_last.shape() && kernel.dim_size(0) == units && kernel.dim_size(1) == gates,
                absl::InvalidArgumentError("LabreportLstmSequenceGrad: shapes do not fit"));
    Tensor *d_projected = nullptr, *dh0 = nullptr, *dc0 = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({steps, batch, gates}), &d_projected));
    OP_REQUIRES_OK(context, context->allocate_output(1, dh_last.shape(), &dh0));
    OP_REQUIRES_OK(context, context->allocate_output(2, dh_last.shape(), &dc0));

    Eigen::Map<const Matrix> recurrent(kernel.flat<float>().data(), units, gates);
    Matrix dh = Eigen::Map<const Matrix>(dh_last.flat<float>().data(), batch, units);
    Array dc = Eigen::Map<const Array>(dc_last.flat<float>().data(), batch, units);
    Array tanh_c(batch, units);
    for (int64_t t = steps - 1; t >= 0; --t) {
      Eigen::Map<const Array> saved(saved_gates.flat<float>().data() + t * batch * gates, batch, gates);
      Eigen::Map<const Array> c_prev(cells.flat<float>().data() + t * batch * units, batch, units);
      Eigen::Map<const Array> c_now((t + 1 < steps ? cells.flat<float>().data() + (t + 1) * batch * units
                                                   : c_last.flat<float>().data()), batch, units);
      Eigen::Map<Matrix> da(d_projected->flat<float>().data() + t * batch * gates, batch, gates);
      const auto i = saved.leftCols(units);
      const auto f = saved.middleCols(units, units);
      const auto g = saved.middleCols(2 * units, units);
      const auto o = saved.rightCols(units);
      tanh_c = c_now.tanh();
      dc += dh.array() * o * (1 - tanh_c * tanh_c);  // h = o·tanh(c)
      da.array().leftCols(units) = dc * g * i * (1 - i);
      da.array().middleCols(units, units) = dc * c_prev * f * (1 - f);
      da.array().middleCols(2 * units, units) = dc * i * (1 - g * g);
      da.array().rightCols(units) = dh.array() * tanh_c * o * (1 - o);
      dc *= f;
      dh.noalias() = da * recurrent.transpose();
    }
    Eigen::Map<Matrix>(dh0->flat<float>().data(), batch, units) = dh;
    Eigen::Map<Array>(dc0->flat<float>().data(), batch, units) = dc;
  }
};

REGISTER_KERNEL_BUILDER(Name("LabreportGruSequence").Device(tensorflow::DEVICE_CPU), LabreportGruSequenceOp);
REGISTER_KERNEL_BUILDER(Name("LabreportGruSequenceGrad").Device(tensorflow::DEVICE_CPU), LabreportGruSequenceGradOp);
REGISTER_KERNEL_BUILDER(Name("LabreportLstmSequence").Device(tensorflow::DEVICE_CPU), LabreportLstmSequenceOp);
REGISTER_KERNEL_BUILDER(Name("LabreportLstmSequenceGrad").Device(tensorflow::DEVICE_CPU), LabreportLstmSequenceGradOp);
