//! The `meshfed` binary end to end on files: conversion round trips, training and
//! segmenting a phantom, and the errors a user meets.

mod common;

use common::*;
use meshfed_cli::{model_io, volume_io};
use meshfed_shared::meshnet::{initial_weights, ModelConfig};

#[test]
fn convert_round_trips_brainchop_through_safetensors() {
    let dir = scratch("convert");
    let st = dir.join("m5.safetensors");
    let back = dir.join("m5-again");
    let text = ok(&["convert", s(&model5_dir()), s(&st)]);
    assert!(text.contains("5598 parameters"), "{text}");
    ok(&["convert", s(&st), s(&back)]);
    // The shard brainchop would load is the original, byte for byte.
    assert_eq!(
        std::fs::read(back.join("group1-shard1of1.bin")).unwrap(),
        std::fs::read(model5_dir().join("group1-shard1of1.bin")).unwrap()
    );
    let (config, values) = model_io::load(&back, None).unwrap();
    assert_eq!(
        (config.clone(), values),
        model_io::load(&model5_dir(), None).unwrap()
    );
    assert_eq!(config, ModelConfig::model5_gw_ae());
}

#[test]
fn trains_on_a_phantom_and_segments_on_the_inputs_grid() {
    let dir = scratch("phantom");
    let (vol, lab) = (dir.join("t1.nii.gz"), dir.join("labels.nii"));
    ok(&[
        "phantom",
        "--volume",
        s(&vol),
        "--labels",
        s(&lab),
        "--size",
        "28",
        "--seed",
        "3",
    ]);
    let model = dir.join("model.safetensors");
    let config = r#"{"channels":4,"dilations":[1,2,1],"classes":3}"#;
    let text = ok(&[
        "train",
        "--volume",
        s(&vol),
        "--labels",
        s(&lab),
        "--config",
        config,
        "--steps",
        "4",
        "--patch",
        "16",
        "--out",
        s(&model),
    ]);
    assert!(text.contains("after 4 steps"), "{text}");
    let (trained, values) = model_io::load(&model, None).unwrap();
    assert_eq!(trained.dilations, vec![1, 2, 1]);
    assert_ne!(
        values,
        initial_weights(&trained, 0),
        "training changed the weights"
    );

    let out = dir.join("seg.nii.gz");
    let text = ok(&[
        "segment",
        "--model",
        s(&model),
        "--input",
        s(&vol),
        "--output",
        s(&out),
        "--compare",
        s(&lab),
    ]);
    assert!(text.contains("dice class 1"), "{text}");
    let input = volume_io::read_volume(&vol).unwrap();
    let seg = volume_io::read_volume(&out).unwrap();
    assert_eq!(seg.volume.dims, [28, 28, 28]);
    assert_eq!(seg.header.datatype, 2, "uint8 labels");
    assert_eq!(
        seg.header.srow_x, input.header.srow_x,
        "the input's geometry"
    );
    assert!(seg
        .volume
        .data
        .iter()
        .all(|&l| l == l.round() && (0.0..3.0).contains(&l)));
}

#[test]
fn clear_errors_for_missing_files_wrong_grids_and_bad_arguments() {
    let dir = scratch("errors");
    let (vol, lab) = (dir.join("t1.nii"), dir.join("labels.nii"));
    ok(&[
        "phantom",
        "--volume",
        s(&vol),
        "--labels",
        s(&lab),
        "--size",
        "16",
    ]);
    let missing = dir.join("nope.nii.gz");
    let e = fails(&[
        "segment",
        "--model",
        s(&model5_dir()),
        "--input",
        s(&missing),
        "--output",
        "x.nii",
    ]);
    assert!(
        e.contains("nope.nii.gz") && e.contains("no such file"),
        "{e}"
    );

    let (small, small_lab) = (dir.join("small.nii"), dir.join("small_labels.nii"));
    ok(&[
        "phantom",
        "--volume",
        s(&small),
        "--labels",
        s(&small_lab),
        "--size",
        "12",
    ]);
    let e = fails(&[
        "train",
        "--volume",
        s(&vol),
        "--labels",
        s(&small_lab),
        "--steps",
        "1",
        "--out",
        s(&dir.join("m.safetensors")),
    ]);
    assert!(
        e.contains("[12, 12, 12]") && e.contains("[16, 16, 16]"),
        "{e}"
    );

    let e = fails(&[
        "segment",
        "--model",
        s(&model5_dir()),
        "--input",
        s(&vol),
        "--output",
        s(&dir.join("o.nii")),
        "--box",
        "0,0,0,20,8,8",
    ]);
    assert!(e.contains("outside the volume"), "{e}");
    let e = fails(&[
        "convert",
        s(&dir.join("weights.bin")),
        s(&dir.join("x.safetensors")),
    ]);
    assert!(e.contains("brainchop directory"), "{e}");
    // A safetensors file without metadata needs --config; with a wrong one, a shape error.
    let bare = dir.join("bare.safetensors");
    let config = ModelConfig::model5_gw_ae();
    std::fs::write(
        &bare,
        meshfed_shared::tensor::safetensors::write(
            &config.unflatten(&initial_weights(&config, 1)),
            meshfed_shared::tensor::DType::F32,
            &Default::default(),
        ),
    )
    .unwrap();
    let e = fails(&["convert", s(&bare), s(&dir.join("out"))]);
    assert!(e.contains("meshfed.model"), "{e}");
    ok(&[
        "convert",
        s(&bare),
        s(&dir.join("out")),
        "--config",
        "model5_gw_ae",
    ]);
    let e = fails(&[
        "convert",
        s(&bare),
        s(&dir.join("out2")),
        "--config",
        "model11_gw_ae",
    ]);
    assert!(e.contains("is not a parameter of this model"), "{e}");
    assert!(!dir.join("out2").exists(), "nothing half-written");
}
