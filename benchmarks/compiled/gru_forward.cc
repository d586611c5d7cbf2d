// A measurement, not part of labreport: the forward loop of Keras' GRU (reset_after=True) over a
// whole sequence as one compiled TensorFlow op, to see how far a compiled loop is from the
// arithmetic floor. No gradient is registered; benchmarks/compiled_loop.py builds and times it
// against labreport.fused._gru_last_state's forward pass.
//
// Inputs: projected = x·W + b_input for every step (T, B, 3h), h0 (B, h), the recurrent kernel U
// (h, 3h), the recurrent bias (3h). Output: h after the last step (B, h). Gates z, r, n as in Keras.

#include <Eigen/Dense>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;

REGISTER_OP("GruSequence")
    .Input("projected: float")
    .Input("h0: float")
    .Input("recurrent_kernel: float")
    .Input("recurrent_bias: float")
    .Output("h_last: float")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(1));
      return absl::OkStatus();
    });

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Array = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

class GruSequenceOp : public OpKernel {
 public:
  explicit GruSequenceOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& projected = context->input(0);
    const Tensor& h0 = context->input(1);
    const Tensor& kernel = context->input(2);
    const Tensor& bias = context->input(3);
    const int steps = projected.dim_size(0), batch = projected.dim_size(1);
    const int gates = projected.dim_size(2), units = gates / 3;
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, h0.shape(), &output));

    Eigen::Map<const Matrix> recurrent(kernel.flat<float>().data(), units, gates);
    Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>> recurrent_bias(bias.flat<float>().data(), gates);
    Matrix h = Eigen::Map<const Matrix>(h0.flat<float>().data(), batch, units);
    Matrix h_part(batch, gates);
    Array zr(batch, 2 * units), candidate(batch, units);
    for (int t = 0; t < steps; ++t) {
      Eigen::Map<const Array> x(projected.flat<float>().data() + static_cast<size_t>(t) * batch * gates, batch, gates);
      h_part.noalias() = h * recurrent;
      h_part.array().rowwise() += recurrent_bias;
      zr = (x.leftCols(2 * units) + h_part.array().leftCols(2 * units)).logistic();
      candidate = (x.rightCols(units) + zr.rightCols(units) * h_part.array().rightCols(units)).tanh();
      h.array() = candidate + zr.leftCols(units) * (h.array() - candidate);
    }
    Eigen::Map<Matrix>(output->flat<float>().data(), batch, units) = h;
  }
};

REGISTER_KERNEL_BUILDER(Name("GruSequence").Device(tensorflow::DEVICE_CPU), GruSequenceOp);
