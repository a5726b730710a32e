//! MeshNet in burn. burn 0.22 carries the backend in the [`Device`] rather than in a type
//! parameter, so one model runs on every enabled backend (flex CPU, wgpu/WebGPU) and trains
//! wherever the device has autodiff (`device.autodiff()`).

use burn::module::{Module, Param, RunningState};
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, PaddingConfig3d};
use burn::tensor::activation::{elu, relu};
use burn::tensor::{Device, Tensor, TensorData};

use super::NetError;
use meshfed_shared::meshnet::{Activation, ModelConfig, SpecError};

/// A MeshNet: the parameter layout of [`ModelConfig`] plus training-only dropout.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshNetConfig {
    pub model: ModelConfig,
    /// Dropout probability after each block while training (0 disables it).
    pub dropout: f64,
}

impl From<ModelConfig> for MeshNetConfig {
    fn from(model: ModelConfig) -> Self {
        Self {
            model,
            dropout: 0.0,
        }
    }
}

/// One dilated 3×3×3 block: convolution, optional BatchNorm, activation, dropout.
#[derive(Module, Debug)]
pub struct Block {
    pub(super) conv: Conv3d,
    pub(super) norm: Option<BatchNorm>,
    dropout: Dropout,
}

#[derive(Module, Debug)]
pub struct MeshNet {
    pub(super) blocks: Vec<Block>,
    pub(super) head: Conv3d,
    #[module(skip)]
    pub(super) activation: Activation,
}

impl MeshNetConfig {
    /// A freshly initialised network (burn's default Conv3d initialisation).
    pub fn init(&self, device: &Device) -> Result<MeshNet, SpecError> {
        self.model.validate()?;
        let m = &self.model;
        let blocks = m
            .dilations
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let d = d as usize;
                let cin = if i == 0 { m.in_channels } else { m.channels };
                Block {
                    conv: Conv3dConfig::new([cin, m.channels], [3, 3, 3])
                        .with_dilation([d; 3])
                        .with_padding(PaddingConfig3d::Explicit(d, d, d))
                        .init(device),
                    norm: m
                        .batch_norm
                        .then(|| BatchNormConfig::new(m.channels).init(device)),
                    dropout: DropoutConfig::new(self.dropout).init(),
                }
            })
            .collect();
        Ok(MeshNet {
            blocks,
            head: Conv3dConfig::new([m.channels, m.classes], [1, 1, 1]).init(device),
            activation: m.activation,
        })
    }

    /// A network holding `values` (all parameters in [`ModelConfig::params`] order).
    pub fn load(&self, values: &[f32], device: &Device) -> Result<MeshNet, SpecError> {
        let expected = self.model.parameter_count();
        if values.len() != expected {
            return Err(SpecError::Count {
                expected,
                found: values.len(),
            });
        }
        let mut net = self.init(device)?;
        let mut rest = values;
        let mut take = |shape: &[usize]| {
            let n: usize = shape.iter().product();
            let (head, tail) = rest.split_at(n);
            rest = tail;
            TensorData::new(head.to_vec(), shape.to_vec())
        };
        let c = self.model.channels;
        for (i, block) in net.blocks.iter_mut().enumerate() {
            let cin = if i == 0 { self.model.in_channels } else { c };
            block.conv.weight = param(take(&[c, cin, 3, 3, 3]), device);
            block.conv.bias = Some(param(take(&[c]), device));
            if let Some(norm) = block.norm.as_mut() {
                norm.gamma = param(take(&[c]), device);
                norm.beta = param(take(&[c]), device);
                norm.running_mean = RunningState::new(Tensor::from_data(take(&[c]), device));
                norm.running_var = RunningState::new(Tensor::from_data(take(&[c]), device));
            }
        }
        net.head.weight = param(take(&[self.model.classes, c, 1, 1, 1]), device);
        net.head.bias = Some(param(take(&[self.model.classes]), device));
        Ok(net)
    }
}

fn param<const D: usize>(data: TensorData, device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(data, device))
}

impl MeshNet {
    /// `input` `[batch, in_channels, D, H, W]` → logits `[batch, classes, D, H, W]`
    /// (every block pads by its dilation, so the grid is kept).
    pub fn forward(&self, input: Tensor<5>) -> Tensor<5> {
        let mut x = input;
        for block in &self.blocks {
            x = super::mesh_conv::forward(&block.conv, x);
            if let Some(norm) = &block.norm {
                x = norm.forward(x);
            }
            x = self.activate(x);
            x = block.dropout.forward(x);
        }
        self.head.forward(x)
    }

    /// The nonlinearity after every 3×3×3 block (model5's ReLU or model20chan3cls's ELU).
    pub(super) fn activate(&self, x: Tensor<5>) -> Tensor<5> {
        match self.activation {
            Activation::Relu => relu(x),
            Activation::Elu => elu(x, 1.0),
        }
    }

    /// The tensors in parameter order, each as `[values]` to read back.
    pub(super) fn tensors(&self) -> Vec<Tensor<1>> {
        let flat = |t: Tensor<5>| t.flatten::<1>(0, 4);
        let mut out = vec![];
        for block in &self.blocks {
            out.push(flat(block.conv.weight.val()));
            out.extend(block.conv.bias.as_ref().map(|b| b.val()));
            if let Some(n) = &block.norm {
                out.extend([n.gamma.val(), n.beta.val()]);
                // `value_sync`: burn keeps a step's update aside until the next one, so
                // `value` would read the statistics one step behind.
                out.extend([n.running_mean.value_sync(), n.running_var.value_sync()]);
            }
        }
        out.push(flat(self.head.weight.val()));
        out.extend(self.head.bias.as_ref().map(|b| b.val()));
        out
    }

    /// `self` with each parameter's id taken from the matching parameter of `other` (the same
    /// architecture), so an optimizer's state keyed by those ids applies to `self`.
    pub(super) fn with_ids_of(mut self, other: &MeshNet) -> MeshNet {
        for (block, old) in self.blocks.iter_mut().zip(&other.blocks) {
            block.conv.weight.id = old.conv.weight.id;
            if let (Some(bias), Some(old)) = (block.conv.bias.as_mut(), old.conv.bias.as_ref()) {
                bias.id = old.id;
            }
            if let (Some(norm), Some(old)) = (block.norm.as_mut(), old.norm.as_ref()) {
                norm.gamma.id = old.gamma.id;
                norm.beta.id = old.beta.id;
            }
        }
        self.head.weight.id = other.head.weight.id;
        if let (Some(bias), Some(old)) = (self.head.bias.as_mut(), other.head.bias.as_ref()) {
            bias.id = old.id;
        }
        self
    }

    /// All parameters flattened in [`ModelConfig::params`] order (native: blocks on readback).
    pub fn values(&self) -> Result<Vec<f32>, NetError> {
        let all = Tensor::cat(self.tensors(), 0);
        Ok(all.into_data().try_to_vec::<f32>()?)
    }

    /// [`MeshNet::values`] without blocking: the readback WebGPU needs in a browser.
    pub async fn values_async(&self) -> Result<Vec<f32>, NetError> {
        let all = Tensor::cat(self.tensors(), 0);
        let data = all
            .into_data_async()
            .await
            .map_err(|e| NetError::Device(format!("{e:?}")))?;
        Ok(data.try_to_vec::<f32>()?)
    }
}
