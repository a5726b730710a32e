//! Whether a participant can follow a plan: a floor for the memory of one local step, and the
//! largest single buffer a GPU must hold. A participant refuses a plan it cannot follow, in
//! words, instead of training otherwise (or crashing its tab).

use super::TrainingPlan;
use crate::meshnet::ModelConfig;

impl TrainingPlan {
    /// Bytes one local step needs at least on the device for `channels`-wide `layers` of
    /// activations with their gradients (f32), a floor for a participant's memory check.
    pub fn step_bytes(&self, channels: usize, layers: usize) -> u64 {
        // Forward activations kept for backward (conv, BatchNorm, ReLU per block) and the
        // gradients of one block at a time, in f32.
        self.voxels() * channels as u64 * (3 * layers as u64 + 4) * 4
    }

    /// Bytes of the largest activation of one step: a batch of patches at the model's widest
    /// (f32). A GPU holds each tensor in one buffer, so this must fit its buffer limit.
    pub fn largest_buffer_bytes(&self, model: &ModelConfig) -> u64 {
        let widest = model.channels.max(model.classes).max(model.in_channels);
        self.voxels() * widest as u64 * 4
    }

    /// Refuses a plan whose local step needs more than `available` bytes on this participant
    /// (`machine` says what has that much: "this machine", "a browser tab"), with a message
    /// that says what the run asks and what to do.
    pub fn fits_in(
        &self,
        model: &ModelConfig,
        available: u64,
        machine: &str,
    ) -> Result<(), String> {
        let needed = self.step_bytes(model.channels, model.dilations.len());
        if needed <= available {
            return Ok(());
        }
        Err(format!(
            "This run trains batch {} of {}³ patches, which needs about {}; {machine} has {} \
             free. {}",
            self.batch,
            self.patch,
            gib(needed),
            gib(available),
            WHAT_TO_DO
        ))
    }

    /// Refuses a plan whose largest tensor exceeds `max_buffer` bytes, the most a GPU (its
    /// WebGPU adapter's `maxStorageBufferBindingSize` and `maxBufferSize`) holds in one buffer.
    pub fn fits_gpu_buffers(
        &self,
        model: &ModelConfig,
        max_buffer: u64,
        gpu: &str,
    ) -> Result<(), String> {
        let needed = self.largest_buffer_bytes(model);
        if needed <= max_buffer {
            return Ok(());
        }
        Err(format!(
            "This run trains batch {} of {}³ patches, whose largest tensor is {}; {gpu} holds \
             at most {} in one buffer. {}",
            self.batch,
            self.patch,
            mib(needed),
            mib(max_buffer),
            WHAT_TO_DO
        ))
    }

    /// Refuses a plan whose rounds collect gradients: Meshfed's participants train locally and
    /// upload weights.
    pub fn takes_weights(&self) -> Result<(), String> {
        match self.uploads {
            super::Uploads::Gradients => Err("This run collects gradients, and this participant \
                trains and uploads weights. Nothing was trained: ask the run's creator for a \
                plan with uploads \"weights\"."
                .to_string()),
            super::Uploads::Weights | super::Uploads::FirstUpload => Ok(()),
        }
    }

    fn voxels(&self) -> u64 {
        (self.patch as u64).pow(3) * self.batch as u64
    }
}

const WHAT_TO_DO: &str = "Nothing was trained: ask the run's creator for a smaller batch or \
                          patch, or train where there is more memory.";

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn huge() -> TrainingPlan {
        TrainingPlan {
            batch: 32,
            patch: 128,
            ..TrainingPlan::default()
        }
    }

    #[test]
    fn a_plan_too_big_for_the_memory_is_refused_in_words() {
        let model = ModelConfig::model5(3);
        let err = huge()
            .fits_in(&model, 1 << 30, "a browser tab")
            .unwrap_err();
        assert!(
            err.starts_with("This run trains batch 32 of 128³ patches, which needs about"),
            "{err}"
        );
        assert!(err.contains("a browser tab has 1.0 GiB free"), "{err}");
        assert!(err.contains("Nothing was trained"), "{err}");
        assert!(TrainingPlan::default()
            .fits_in(&model, 1 << 30, "x")
            .is_ok());
    }

    #[test]
    fn participants_refuse_a_run_of_gradients() {
        assert!(TrainingPlan::default().takes_weights().is_ok());
        let gradients = TrainingPlan {
            uploads: super::super::Uploads::Gradients,
            ..TrainingPlan::default()
        };
        let err = gradients.takes_weights().unwrap_err();
        assert!(err.starts_with("This run collects gradients"), "{err}");
        let seeds = TrainingPlan {
            uploads: super::super::Uploads::FirstUpload,
            ..TrainingPlan::default()
        };
        assert!(seeds.takes_weights().is_ok());
    }

    #[test]
    fn memory_floor_grows_with_batch_and_patch() {
        let p = TrainingPlan::default();
        let bigger = TrainingPlan {
            batch: 4,
            ..p.clone()
        };
        assert_eq!(bigger.step_bytes(5, 10), 2 * p.step_bytes(5, 10));
        // 48³ × 2 × 5 channels × (30 + 4) × 4 bytes.
        assert_eq!(p.step_bytes(5, 10), 48u64.pow(3) * 2 * 5 * 34 * 4);
    }

    #[test]
    fn the_largest_buffer_is_a_batch_at_the_widest_layer() {
        let model = ModelConfig::model5(3);
        let wide = ModelConfig {
            classes: 40,
            ..model.clone()
        };
        let p = TrainingPlan::default();
        // 48³ × batch 2 × the widest of channels, classes and inputs × 4 bytes.
        assert_eq!(
            p.largest_buffer_bytes(&model),
            48u64.pow(3) * 2 * model.channels.max(3) as u64 * 4
        );
        assert_eq!(p.largest_buffer_bytes(&wide), 48u64.pow(3) * 2 * 40 * 4);
    }

    #[test]
    fn a_plan_whose_tensor_exceeds_the_gpu_buffer_limit_is_refused_in_words() {
        let model = ModelConfig::model5(3);
        // WebGPU's default maxStorageBufferBindingSize: 128 MiB.
        let limit = 128 << 20;
        assert!(TrainingPlan::default()
            .fits_gpu_buffers(&model, limit, "this GPU")
            .is_ok());
        let err = huge()
            .fits_gpu_buffers(&model, limit, "this GPU (SwiftShader)")
            .unwrap_err();
        assert!(
            err.starts_with("This run trains batch 32 of 128³ patches, whose largest tensor is"),
            "{err}"
        );
        assert!(
            err.contains("this GPU (SwiftShader) holds at most 128 MiB in one buffer"),
            "{err}"
        );
        let exact = huge().largest_buffer_bytes(&model);
        assert!(huge().fits_gpu_buffers(&model, exact, "x").is_ok());
        assert!(huge().fits_gpu_buffers(&model, exact - 1, "x").is_err());
    }
}
