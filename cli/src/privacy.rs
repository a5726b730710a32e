//! `meshfed join`'s part of DP-FedAvg (the plan's `dp`): clip the round's update to C and add
//! Gaussian noise of σC, or in a secure round clip only and leave the noise to the masking,
//! where each input carries its share (`shared::privacy::noise`).

use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::privacy::noise::{clip, privatize, repair_variances};
use meshfed_shared::privacy::DifferentialPrivacy;
use meshfed_shared::secagg::participant::DistributedNoise;

use crate::error::{CliError, CliResult};

/// DP-FedAvg's part of this participant: the update clipped to C, and Gaussian noise of σC
/// added here; in a secure round the noise is shared among the round's inputs instead, and
/// the answer is what this input's share needs when it is masked.
pub fn privatize_update(
    config: &ModelConfig,
    values: &mut [f32],
    global: &[f32],
    dp: &DifferentialPrivacy,
    secure: bool,
    round: u32,
) -> CliResult<Option<DistributedNoise>> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| CliError::Usage(format!("no random numbers for the privacy noise: {e}")))?;
    let done = if secure {
        clip(values, global, dp.clip_norm)
    } else {
        let done = privatize(values, global, dp, seed);
        // Post-processing (free of privacy cost): noise must not leave a BatchNorm variance
        // at or below zero, which the server refuses and inference divides by.
        repair_variances(config, values);
        done
    };
    let clipped = if done.clipped { "clipped to" } else { "within" };
    let (norm, clip_norm, sd) = (done.norm, dp.clip_norm, dp.noise_sd());
    if secure {
        eprintln!(
            "round {round}: update of norm {norm:.4} {clipped} {clip_norm}; the round's sum \
             carries Gaussian noise of σ·C = {sd:.4} per value, this input's share added when \
             it is masked"
        );
    } else {
        eprintln!(
            "round {round}: update of norm {norm:.4} {clipped} {clip_norm}, Gaussian noise of \
             σ·C = {sd:.4} added to each value"
        );
    }
    Ok(secure.then_some(DistributedNoise { sd, seed }))
}
