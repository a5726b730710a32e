//! brainchop parity: brainchop's model5_gw_ae run by @tensorflow/tfjs (tests/brainchop/
//! reference.mjs, brainchop's preprocessing) against `meshfed segment`, on a 48³ box of
//! white and grey matter in the sample T1 (the whole volume takes tfjs about three minutes; the note has
//! that figure).

mod common;

use std::process::Command;

use common::*;
use meshfed_cli::volume_io;
use meshfed_shared::volume::dice_per_class;

#[test]
fn meshfed_segments_like_brainchops_tfjs() {
    let dir = scratch("parity");
    let (theirs, ours) = (dir.join("tfjs.nii.gz"), dir.join("meshfed.nii.gz"));
    let b = "136,112,64,184,160,112";
    let script = repo().join("tests/brainchop/reference.mjs");
    let out = Command::new("node")
        .current_dir(repo())
        .args([
            s(&script),
            s(&model5_dir()),
            s(&t1()),
            s(&theirs),
            "--box",
            b,
        ])
        .output()
        .expect("node is needed (cargo xtask test installs @tensorflow/tfjs with npm ci)");
    assert!(
        out.status.success(),
        "reference.mjs failed (run `npm ci` for @tensorflow/tfjs):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&[
        "segment",
        "--model",
        s(&model5_dir()),
        "--input",
        s(&t1()),
        "--output",
        s(&ours),
        "--box",
        b,
    ]);
    let theirs = volume_io::read_labels(&theirs).unwrap();
    let ours = volume_io::read_labels(&ours).unwrap();
    assert_eq!(ours.dims, theirs.dims);
    let tissue: Vec<(u8, u8)> = ours
        .data
        .iter()
        .zip(&theirs.data)
        .filter(|(a, b)| **a != 0 || **b != 0)
        .map(|(a, b)| (*a, *b))
        .collect();
    assert!(
        tissue.len() > 20_000,
        "the box holds brain: {} tissue voxels",
        tissue.len()
    );
    let same = tissue.iter().filter(|(a, b)| a == b).count();
    let agreement = same as f64 / tissue.len() as f64;
    assert!(agreement >= 0.999, "agreement on tissue voxels {agreement}");
    let dice = dice_per_class(&ours.data, &theirs.data, 3);
    assert!(
        dice[1].unwrap() > 0.99 && dice[2].unwrap() > 0.99,
        "{dice:?}"
    );
}
