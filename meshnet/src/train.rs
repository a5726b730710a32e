//! Training: random patches, per-voxel cross-entropy (plus optional soft Dice), Adam, all
//! seeded. Runs on any device with autodiff (`Device::flex().autodiff()`, wgpu, WebGPU).

use burn::module::Module;
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::{MeshNet, NetError};
use meshfed_shared::volume::{
    labelled_voxel, patch_around, patch_origins, same_grid, Labels, Rng, Volume,
};

/// How to train. Defaults: 32³ patches, one per step, Adam at 3e-3, cross-entropy plus soft
/// Dice at weight 1 (cross-entropy alone collapses to background for hundreds of steps on
/// brain volumes, where most voxels are background).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Patch edge in voxels (clamped to the volume); MeshNet sees 32³–64³ patches.
    pub patch: usize,
    /// Patches per step.
    pub batch: usize,
    pub learning_rate: f64,
    /// Weight of the soft Dice loss added to cross-entropy (0 = cross-entropy only).
    pub dice_weight: f32,
    /// Seeds patch sampling and burn's own random numbers.
    pub seed: u64,
    /// Share of patches centred on a labelled (non-background) voxel; the rest are uniform.
    /// Brain volumes are mostly background, so uniform patches alone teach it slowly.
    pub tissue_fraction: f32,
    /// Mirror half of the patches along x (left-right in brainchop's conformed volumes), with
    /// their labels. Brains are nearly symmetric, so this doubles the anatomy a model sees:
    /// trained on one hemisphere, it then segments the other one well.
    pub mirror_x: bool,
    pub optimizer: Optimizer,
}

/// The optimizer a [`Trainer`] steps with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// Adam (β₁ 0.9, β₂ 0.999): trains a fresh MeshNet at 3e-3.
    Adam,
    /// SGD with heavy-ball momentum (0 is plain SGD; no dampening, as PyTorch). In federated
    /// rounds the sites' SGD steps on different data cancel in the average to first order;
    /// Adam's per-parameter normalised steps do not.
    Sgd { momentum: f64 },
}

impl Optimizer {
    fn init(self) -> ModuleOptimizer {
        match self {
            Self::Adam => AdamConfig::new().init(),
            Self::Sgd { momentum } => SgdConfig::new()
                .with_momentum((momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0)
                }))
                .init(),
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            patch: 32,
            batch: 1,
            learning_rate: 3e-3,
            dice_weight: 1.0,
            seed: 0,
            tissue_fraction: 0.5,
            mirror_x: false,
            optimizer: Optimizer::Adam,
        }
    }
}

/// A model with its optimizer state on an autodiff device.
pub struct Trainer {
    model: MeshNet,
    optim: ModuleOptimizer,
    device: Device,
    rng: Rng,
    config: TrainConfig,
    classes: usize,
    proximal: Option<Proximal>,
}

/// FedProx's pull towards the round's global model: the loss gains `μ/2 · ‖w − anchor‖²` over
/// the trainable values (`weight` is μ/2 there and 0 on BatchNorm's running statistics).
struct Proximal {
    anchor: Tensor<1>,
    weight: Tensor<1>,
}

impl Trainer {
    /// `model` must live on `device`, and `device` must have autodiff enabled.
    pub fn new(model: MeshNet, classes: usize, config: TrainConfig, device: &Device) -> Self {
        let device = device.clone().autodiff();
        device.seed(config.seed);
        Self {
            model,
            optim: config.optimizer.init(),
            rng: Rng::new(config.seed),
            device,
            config,
            classes,
            proximal: None,
        }
    }

    pub fn model(&self) -> &MeshNet {
        &self.model
    }

    pub fn into_model(self) -> MeshNet {
        self.model
    }

    /// The model for inference (no autodiff, BatchNorm on running statistics).
    pub fn inference_model(&self) -> MeshNet {
        self.model.valid()
    }

    /// The model for inference with its BatchNorm statistics measured afresh on `patches`
    /// training patches (precise BatchNorm), instead of the running averages of the last
    /// few dozen steps. Training is not disturbed: the patch sampler's state is restored.
    pub fn precise_inference_model(
        &mut self,
        volume: &Volume,
        labels: &Labels,
        patches: usize,
    ) -> Result<MeshNet, NetError> {
        let saved = self.rng.clone();
        let samples = self.sample_patch_batches(volume, labels, patches);
        self.rng = saved;
        self.inference_model().recompute_batch_norm(&samples?)
    }

    /// `patches` patches drawn as [`Self::sample_patches`] draws them, in tensors of at most
    /// a batch each (the last one holds the rest): a sample for BatchNorm statistics.
    pub fn sample_patch_batches(
        &mut self,
        volume: &Volume,
        labels: &Labels,
        patches: usize,
    ) -> Result<Vec<Tensor<5>>, NetError> {
        let chunk = self.config.batch.max(1);
        (0..patches.div_ceil(chunk))
            .map(|i| self.sample_patches(volume, labels, chunk.min(patches - i * chunk)))
            .collect()
    }

    /// Swaps in `model` (the same architecture on this trainer's device: a federated round's
    /// new global model) and keeps the optimizer's state, so Adam's moments carry on from one
    /// round to the next instead of restarting.
    pub fn replace_model(&mut self, model: MeshNet) {
        self.model = model.with_ids_of(&self.model);
    }

    /// FedProx: from the next step on, the loss also pulls the values towards `anchor` (the
    /// round's global model, flat) with strength `mu`, on the values `trainable` marks
    /// ([`meshfed_shared::meshnet::ModelConfig::trainable_mask`]). `mu` 0 removes the pull.
    pub fn set_proximal(&mut self, anchor: &[f32], trainable: &[bool], mu: f32) {
        self.proximal = (mu > 0.0).then(|| {
            let weight: Vec<f32> = trainable
                .iter()
                .map(|&t| if t { mu / 2.0 } else { 0.0 })
                .collect();
            let flat = |v: Vec<f32>| {
                let n = v.len();
                Tensor::<1>::from_data(TensorData::new(v, [n]), &self.device)
            };
            Proximal {
                anchor: flat(anchor.to_vec()),
                weight: flat(weight),
            }
        });
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Follows `config` from the next step on (a new round's plan). The patch sampler and the
    /// optimizer's state carry on; an optimizer of another kind starts afresh.
    pub fn set_config(&mut self, config: TrainConfig) {
        if config.optimizer != self.config.optimizer {
            self.optim = config.optimizer.init();
        }
        self.config = TrainConfig {
            seed: self.config.seed,
            ..config
        };
    }

    /// Changes the learning rate from the next step on (a schedule's job).
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.config.learning_rate = learning_rate;
    }

    /// One step on `batch` random patches of `volume` (normalised) and its `labels`.
    /// Returns the loss before the update, read back from the device. A loss that is not
    /// finite is [`NetError::Diverged`] (lower the learning rate), and the step is undone:
    /// the model and the optimizer's state are those from before it (cheap handle clones).
    pub fn step(&mut self, volume: &Volume, labels: &Labels) -> Result<f32, NetError> {
        let before = (self.model.clone(), self.optim.clone());
        let loss = self.step_lazy(volume, labels)?;
        let loss = loss.into_data().try_to_vec::<f32>()?[0];
        self.keep_if_finite(before, loss)
    }

    /// [`Trainer::step`] with a non-blocking readback of the loss (WebGPU in a browser,
    /// where a blocking one is not allowed).
    pub async fn step_async(&mut self, volume: &Volume, labels: &Labels) -> Result<f32, NetError> {
        let before = (self.model.clone(), self.optim.clone());
        let loss = self.step_lazy(volume, labels)?;
        let data = loss
            .into_data_async()
            .await
            .map_err(|e| NetError::Device(format!("{e:?}")))?;
        self.keep_if_finite(before, data.try_to_vec::<f32>()?[0])
    }

    /// `loss` when finite; else the step is undone and the loss is [`NetError::Diverged`].
    fn keep_if_finite(
        &mut self,
        before: (MeshNet, ModuleOptimizer),
        loss: f32,
    ) -> Result<f32, NetError> {
        if loss.is_finite() {
            Ok(loss)
        } else {
            (self.model, self.optim) = before;
            Err(NetError::Diverged(loss))
        }
    }

    /// The step without the readback: the loss stays on the device.
    fn step_lazy(&mut self, volume: &Volume, labels: &Labels) -> Result<Tensor<1>, NetError> {
        same_grid(volume, labels)?;
        if let Some(&bad) = labels.data.iter().find(|&&l| l as usize >= self.classes) {
            return Err(NetError::Input(format!(
                "label {bad} is outside the model's {} classes",
                self.classes
            )));
        }
        let (input, ys) = self.batch(volume, labels, self.config.batch, &self.device.clone());
        let mut loss = self.loss(self.model.forward(input), ys)?;
        if let Some(p) = &self.proximal {
            let w = Tensor::cat(self.model.tensors(), 0);
            let gap = w - p.anchor.clone();
            loss = loss + (gap.clone() * gap * p.weight.clone()).sum();
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self
            .optim
            .step(self.config.learning_rate, self.model.clone(), grads);
        Ok(loss.detach())
    }

    /// Data-dependent initialisation on a few patches of `volume` (see
    /// [`MeshNet::calibrate`]); call it once, before the first step.
    pub fn calibrate(&mut self, volume: &Volume, labels: &Labels) -> Result<(), NetError> {
        let sample = self.sample_patches(volume, labels, 4)?;
        self.model = self.model.valid().calibrate(sample).train();
        Ok(())
    }

    /// `count` patches drawn as a step draws them, `[count, 1, p, p, p]` on the device
    /// without autodiff: a sample to measure a model on (calibration, BatchNorm statistics).
    pub fn sample_patches(
        &mut self,
        volume: &Volume,
        labels: &Labels,
        count: usize,
    ) -> Result<Tensor<5>, NetError> {
        same_grid(volume, labels)?;
        let plain = self.device.clone().without_autodiff();
        Ok(self.batch(volume, labels, count.max(1), &plain).0)
    }

    /// `count` patches as one input `[count, 1, p, p, p]` and their labels, flattened.
    fn batch(
        &mut self,
        volume: &Volume,
        labels: &Labels,
        count: usize,
        device: &Device,
    ) -> (Tensor<5>, Vec<i64>) {
        let size = self.config.patch;
        let patches: Vec<_> = (0..count)
            .map(|_| {
                let centred = self.rng.unit() < self.config.tissue_fraction;
                centred
                    .then(|| labelled_voxel(&mut self.rng, labels, 1000))
                    .flatten()
                    .map(|centre| patch_around(centre, volume.dims, size))
                    .unwrap_or_else(|| patch_origins(&mut self.rng, volume.dims, size, 1)[0])
            })
            .collect();
        let dims = patches[0].dims;
        let (mut xs, mut ys) = (vec![], vec![]);
        for p in &patches {
            let (mut v, mut l) = p.cut_pair(volume, labels);
            if self.config.mirror_x && self.rng.unit() < 0.5 {
                (v, l) = (v.mirror_x(), l.mirror_x());
            }
            xs.extend(v.data);
            ys.extend(l.data.iter().map(|&c| c as i64));
        }
        let input = Tensor::from_data(
            TensorData::new(xs, [count, 1, dims[0], dims[1], dims[2]]),
            device,
        );
        (input, ys)
    }

    /// Cross-entropy over every voxel, plus `dice_weight` × soft Dice over the foreground.
    fn loss(&self, logits: Tensor<5>, targets: Vec<i64>) -> Result<Tensor<1>, NetError> {
        let c = self.classes;
        let n = targets.len();
        let flat: Tensor<2> = logits.clone().permute([0, 2, 3, 4, 1]).reshape([n, c]);
        let onehot = (self.config.dice_weight > 0.0).then(|| {
            let mut hot = vec![0f32; n * c];
            for (i, &t) in targets.iter().enumerate() {
                hot[i * c + t as usize] = 1.0;
            }
            Tensor::<2>::from_data(TensorData::new(hot, [n, c]), &self.device)
        });
        let targets: Tensor<1, Int> =
            Tensor::from_data(TensorData::new(targets, [n]), &self.device);
        let mut loss = CrossEntropyLoss::new(None, &self.device).forward(flat.clone(), targets);
        if let Some(hot) = onehot {
            let p = softmax(flat, 1);
            let inter = (p.clone() * hot.clone()).sum_dim(0);
            let total = p.sum_dim(0) + hot.sum_dim(0);
            let dice = (inter * 2.0 + 1.0) / (total + 1.0); // [1, c]
            let fg = dice.slice([0..1, 1..c]).mean();
            loss = loss + (fg.neg() + 1.0) * self.config.dice_weight;
        }
        Ok(loss)
    }
}
