//! MeshNet's dilated 3×3×3 convolution as a burn backend extension, so that burn's CPU
//! backend (flex) runs it, and its two gradients, with [`crate::dilated_conv`]'s
//! direct kernels instead of im2col, and burn's cube backend (wgpu, WebGPU) with
//! [`super::cube_conv`]. Any other convolution keeps burn's own: the trait's default
//! bodies. Autodiff records one node per convolution whose backward pass calls the inner
//! backend's gradients.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch, Flex};
use burn::nn::conv::Conv3d;
use burn::tensor::{DType, Shape, Tensor, TensorData};

use crate::dilated_conv::{self, ConvShape};
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
use burn_cubecl::tensor::CubeTensor;

#[cfg(any(feature = "wgpu", feature = "webgpu"))]
use super::cube_conv;

/// 3×3×3 convolution with dilation and padding `dilation`, stride 1, one group, and a bias.
#[backend_extension(
    Flex,
    Cube: cfg(any(feature = "wgpu", feature = "webgpu")),
    Autodiff
)]
pub trait MeshConvBackend: Backend {
    /// `x` `[batch, cin, D, H, W]`, `weight` `[cout, cin, 3, 3, 3]`, `bias` `[cout]` →
    /// `[batch, cout, D, H, W]`.
    fn mesh_conv3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        dilation: usize,
    ) -> FloatTensor<Self> {
        Self::conv3d(x, weight, Some(bias), options(dilation))
    }

    /// The gradient with respect to `x`, given the output's gradient `grad`.
    fn mesh_conv3d_x_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        dilation: usize,
    ) -> FloatTensor<Self> {
        Self::conv3d_x_backward(x, weight, grad, options(dilation))
    }

    /// The gradient with respect to `weight`, given the output's gradient `grad`.
    fn mesh_conv3d_weight_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        dilation: usize,
    ) -> FloatTensor<Self> {
        Self::conv3d_weight_backward(x, weight, grad, options(dilation))
    }
}

/// Whether burn's cube backend (wgpu, WebGPU) runs MeshNet's convolutions with the direct
/// kernels (the default) or with burn's own: for benchmarks that compare the two, and for a
/// device whose kernels failed their check.
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
static GPU_KERNELS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Chooses the direct kernels (`true`, the default) or burn's convolution on the GPU.
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
pub fn use_gpu_kernels(on: bool) {
    GPU_KERNELS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the GPU runs the direct kernels (see [`use_gpu_kernels`]).
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
pub fn gpu_kernels() -> bool {
    GPU_KERNELS.load(std::sync::atomic::Ordering::Relaxed)
}

fn options(dilation: usize) -> ConvOptions<3> {
    ConvOptions::new([1; 3], [dilation; 3], [dilation; 3], 1)
}

/// `conv`'s forward pass through [`MeshConvBackend`]: a MeshNet block's convolution (3×3×3,
/// padding equal to the dilation, with a bias). Other convolutions go through burn's own.
pub fn forward(conv: &Conv3d, x: Tensor<5>) -> Tensor<5> {
    let [d, _, _] = conv.dilation;
    let mesh_shaped = conv.kernel_size == [3; 3]
        && conv.stride == [1; 3]
        && conv.groups == 1
        && conv.dilation == [d; 3]
        && conv.padding == burn::nn::PaddingConfig3d::Explicit(d, d, d);
    match (&conv.bias, mesh_shaped) {
        (Some(bias), true) => Tensor::from_dispatch(<Dispatch as MeshConvBackend>::mesh_conv3d(
            x.into_dispatch(),
            conv.weight.val().into_dispatch(),
            bias.val().into_dispatch(),
            d,
        )),
        _ => conv.forward(x),
    }
}

impl MeshConvBackend for Flex {
    fn mesh_conv3d(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, d: usize) -> FlexTensor {
        let Some(s) = shape_of(&x, &weight, d) else {
            return Self::conv3d(x, weight, Some(bias), options(d));
        };
        let (x, weight, bias) = (dense(&x), dense(&weight), dense(&bias));
        let out = dilated_conv::forward(f32s(&x), f32s(&weight), Some(f32s(&bias)), &s);
        tensor(out, [s.batch, s.cout, s.dims[0], s.dims[1], s.dims[2]])
    }

    fn mesh_conv3d_x_backward(
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        d: usize,
    ) -> FlexTensor {
        let Some(s) = shape_of(&x, &weight, d) else {
            return Self::conv3d_x_backward(x, weight, grad, options(d));
        };
        let (weight, grad) = (dense(&weight), dense(&grad));
        let out = dilated_conv::input_grad(f32s(&grad), f32s(&weight), &s);
        tensor(out, [s.batch, s.cin, s.dims[0], s.dims[1], s.dims[2]])
    }

    fn mesh_conv3d_weight_backward(
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        d: usize,
    ) -> FlexTensor {
        let Some(s) = shape_of(&x, &weight, d) else {
            return Self::conv3d_weight_backward(x, weight, grad, options(d));
        };
        let (x, grad) = (dense(&x), dense(&grad));
        let out = dilated_conv::weight_grad(f32s(&x), f32s(&grad), &s);
        tensor(out, [s.cout, s.cin, 3, 3, 3])
    }
}

/// On the GPU (wgpu natively, WebGPU in the browser): the direct kernels of
/// [`super::cube_conv`].
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
impl MeshConvBackend for burn::backend::Cube {
    fn mesh_conv3d(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, d: usize) -> CubeTensor {
        match cube_shape_of(&x, &weight, d) {
            Some(s) => cube_conv::forward(x, weight, bias, &s),
            None => Self::conv3d(x, weight, Some(bias), options(d)),
        }
    }

    fn mesh_conv3d_x_backward(
        x: CubeTensor,
        weight: CubeTensor,
        grad: CubeTensor,
        d: usize,
    ) -> CubeTensor {
        match cube_shape_of(&x, &weight, d) {
            Some(s) => cube_conv::input_grad(grad, weight, &s),
            None => Self::conv3d_x_backward(x, weight, grad, options(d)),
        }
    }

    fn mesh_conv3d_weight_backward(
        x: CubeTensor,
        weight: CubeTensor,
        grad: CubeTensor,
        d: usize,
    ) -> CubeTensor {
        match cube_shape_of(&x, &weight, d) {
            Some(s) => cube_conv::weight_grad(x, grad, &s),
            None => Self::conv3d_weight_backward(x, weight, grad, options(d)),
        }
    }
}

#[cfg(any(feature = "wgpu", feature = "webgpu"))]
fn cube_shape_of(x: &CubeTensor, weight: &CubeTensor, dilation: usize) -> Option<ConvShape> {
    let f32s = x.dtype == DType::F32 && weight.dtype == DType::F32;
    conv_shape(f32s, x.meta.shape(), weight.meta.shape(), dilation).filter(|_| gpu_kernels())
}

/// The kernels' shape, or `None` where they do not apply (not f32, not 3×3×3).
fn shape_of(x: &FlexTensor, weight: &FlexTensor, dilation: usize) -> Option<ConvShape> {
    let f32s = x.dtype() == DType::F32 && weight.dtype() == DType::F32;
    conv_shape(f32s, x.layout().shape(), weight.layout().shape(), dilation)
}

/// The kernels' shape from the input's and the weight's shapes.
fn conv_shape(f32s: bool, xs: &Shape, ws: &Shape, dilation: usize) -> Option<ConvShape> {
    let ok = f32s && xs.num_dims() == 5 && ws.num_dims() == 5 && ws[1] == xs[1];
    (ok && ws[2..] == [3, 3, 3]).then(|| ConvShape {
        batch: xs[0],
        cin: xs[1],
        cout: ws[0],
        dims: [xs[2], xs[3], xs[4]],
        dilation,
    })
}

fn dense(t: &FlexTensor) -> FlexTensor {
    t.to_contiguous()
}

fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("a contiguous f32 tensor (checked by shape_of)")
}

fn tensor(values: Vec<f32>, shape: [usize; 5]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// The convolution as one autodiff node; its backward pass calls the inner backend's
/// gradients (the kernels on flex, burn's own elsewhere) and burn's bias gradient.
impl<B: MeshConvBackend, C: CheckpointStrategy> MeshConvBackend for Autodiff<B, C> {
    fn mesh_conv3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        dilation: usize,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct MeshConvBackward;

        impl<B: MeshConvBackend> Backward<B, 3> for MeshConvBackward {
            type State = (NodeId, NodeId, NodeId, usize);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_weight, node_bias] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, weight, bias, d) = ops.state;
                let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x);
                let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(weight);
                let bias = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(bias);
                if let Some(node) = node_x {
                    let g = B::mesh_conv3d_x_backward(x.clone(), weight.clone(), grad.clone(), d);
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = node_weight {
                    let g = B::mesh_conv3d_weight_backward(x.clone(), weight, grad.clone(), d);
                    grads.register::<B>(node.id, g);
                }
                if let Some(node) = node_bias {
                    grads.register::<B>(node.id, B::conv3d_bias_backward(x, bias, grad));
                }
            }
        }

        match MeshConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&weight),
                    prep.checkpoint(&bias),
                    dilation,
                );
                let out = B::mesh_conv3d(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    dilation,
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::mesh_conv3d(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                dilation,
            )),
        }
    }
}

#[cfg(test)]
#[path = "mesh_conv_tests.rs"]
mod tests;
