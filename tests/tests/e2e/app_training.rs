//! Training in the browser: two people, one in a Chromium offering WebGPU (SwiftShader) and
//! one without (CPU), pick a small volume cut from the sample T1 and its labels, see the
//! slices, train locally, join a run together with a third participant on `meshfed join`,
//! all three following the run's plan, and see round 2 with its chart; then both tabs, the
//! CLI and a fourth participant who leaves after sharing take a securely aggregated round;
//! then segment. Both tabs refuse a plan too big for them.

use std::time::Instant;

use fantoccini::Locator;
use meshfed_e2e::identity::MfaUser;
use meshfed_e2e::runs::{create_run, participants, run_detail, token};
use meshfed_e2e::secure::Dropout;
use meshfed_e2e::ui::{fill, press, screenshot, wait_for, wait_within};
use meshfed_e2e::volumes::small_t1_and_labels;
use meshfed_e2e::Ctx;
use meshfed_shared::auth::mnemonic;
use meshfed_shared::secagg::identity::fingerprint;
use serde_json::{json, Value};

use crate::training_page::{
    choose_run, cli_participant, open_training, pick_files, text_of, TRAINING,
};

pub fn two_browsers_train_and_join_a_run_on_webgpu_and_cpu(ctx: &Ctx) {
    ctx.block_on(async {
        let (volume, labels) = small_t1_and_labels(24);
        let (volume, labels) = (volume.to_str().unwrap(), labels.to_str().unwrap());
        let people = participants(ctx, "app_training", 4).await;
        let (alice, bob, carol, dave) = (&people[0], &people[1], &people[2], &people[3]);
        let plan = json!({"rounds": 10, "local_steps": 2, "patch": 16, "batch": 1,
            "fix_batch_norm_from": 1, "holdout": {"axis": "x", "fraction": 0.25}});
        let run = create_run(
            ctx,
            alice,
            &[bob, carol],
            json!({"name": "Browser training", "plan": plan}),
        )
        .await;
        // A batch of 32 patches of 128³ through 32 channels: no browser can train it.
        let wide = json!({"channels": 32, "dilations": [1, 2, 4, 8, 16, 8, 4, 2, 1], "classes": 3});
        let too_big = create_run(
            ctx,
            alice,
            &[bob],
            json!({"name": "Too big for a browser", "model": wide,
                "plan": {"local_steps": 1, "patch": 128, "batch": 32}}),
        )
        .await;
        let secure_run = create_run(
            ctx,
            alice,
            &[bob, carol, dave],
            json!({"name": "Secure", "plan": plan, "secure_aggregation": true}),
        )
        .await;
        let dave = Dropout::advertise(ctx, dave, secure_run).await;
        let gpu = open_training(ctx, alice, true).await;
        let cpu = open_training(ctx, bob, false).await;

        let gpu_device = text_of(&gpu, "Training device", TRAINING).await;
        let cpu_device = text_of(&cpu, "Training device", TRAINING).await;
        println!("devices: {gpu_device:?} / {cpu_device:?}");
        // The status starts as "Starting…": wait for the answer.
        // On SwiftShader the direct GPU kernels passed their start-up check against burn's
        // convolution (else the status names burn's); the CPU runs the SIMD128 kernels.
        for (client, want, kernels) in [
            (&gpu, "Training on WebGPU", "direct kernels"),
            (&cpu, "Training on CPU", "SIMD128 kernels"),
        ] {
            let xpath = format!(
                "//p[@aria-label='Training device' and starts-with(., '{want}') \
                 and contains(., '{kernels}')]"
            );
            wait_within(client, Locator::XPath(&xpath), TRAINING).await;
        }
        for client in [&gpu, &cpu] {
            pick_files(client, volume, labels).await;
        }
        let views = cpu
            .find_all(Locator::Css("canvas[role=img]"))
            .await
            .unwrap();
        assert_eq!(views.len(), 3, "sagittal, coronal and axial views");
        let slider = wait_for(&cpu, Locator::Css("input[aria-label='Axial slice']")).await;
        assert_eq!(
            slider.prop("value").await.unwrap().as_deref(),
            Some("12"),
            "starts mid-volume"
        );
        screenshot(&cpu, "train-data.png").await;

        // Local training on each device, same patch: the step times are the report's figures.
        for (client, name) in [(&cpu, "cpu"), (&gpu, "webgpu")] {
            fill(client, "Steps", "3").await;
            fill(client, "Patch edge (voxels)", "16").await;
            let started = Instant::now();
            press(client, "Train").await;
            let result = text_of(client, "Training result", TRAINING).await;
            println!(
                "local training on {name}: {result} ({:.1} s wall)",
                started.elapsed().as_secs_f64()
            );
            assert!(result.starts_with("Done after 3 steps"), "{result}");
            let progress = client
                .find(Locator::Css("progress[aria-label='Training progress']"))
                .await
                .unwrap();
            assert_eq!(progress.attr("value").await.unwrap().as_deref(), Some("3"));
            wait_for(
                client,
                Locator::Css("svg[aria-label='Training loss per step'] polyline"),
            )
            .await;
            screenshot(client, &format!("train-local-{name}.png")).await;
        }

        // Cancel stops a long training after its current step and keeps the model so far.
        fill(&cpu, "Steps", "100000").await;
        press(&cpu, "Train").await;
        let running = "//p[@aria-label='Training status' and contains(., 'of 100000')]";
        wait_within(&cpu, Locator::XPath(running), TRAINING).await;
        press(&cpu, "Cancel").await;
        wait_within(
            &cpu,
            Locator::XPath(
                "//p[@aria-label='Training result' and starts-with(., 'Cancelled after')]",
            ),
            TRAINING,
        )
        .await;
        let model = text_of(&cpu, "Current model", TRAINING).await;
        assert!(model.starts_with("Current model: trained here"), "{model}");

        // All three join the run for one round as its plan says (2 local steps of 16³): the
        // page shows the plan instead of asking, and a headless `meshfed join` takes part too.
        for client in [&gpu, &cpu] {
            choose_run(client, run).await;
            let plan = text_of(client, "Training plan", TRAINING).await;
            assert!(
                plan.starts_with("This run trains 2 local steps of 16³, batch 1"),
                "{plan}"
            );
            assert!(plan.contains("FixBN from round 1"), "{plan}");
            assert!(
                client.find(Locator::Id("join-steps")).await.is_err(),
                "the plan decides the local steps"
            );
            press(client, "Join").await;
        }
        let cli = cli_participant(ctx, carol, run, volume, labels);
        for client in [&gpu, &cpu] {
            let result = text_of(client, "Join result", TRAINING).await;
            assert!(result.starts_with("Took part in round 1"), "{result}");
            assert!(
                result.contains("held-out Dice of the global model"),
                "{result}"
            );
        }
        let reports = cli.join().unwrap().expect("meshfed join follows the plan");
        // The run list is refreshed after joining: it names the round now open.
        let refreshed =
            format!("//select[@id='join-run']/option[@value='{run}' and contains(., '(round 2)')]");
        wait_within(&gpu, Locator::XPath(&refreshed), TRAINING).await;
        assert_eq!(reports[0].plan_version, 1, "{reports:?}");
        assert!(reports[0].validation.is_some(), "{reports:?}");
        screenshot(&gpu, "train-joined.png").await;

        // A securely aggregated run: both tabs, `meshfed join` and a fourth participant who
        // sends its shares and then leaves. The round goes on with the three; the server
        // learns only their sum.
        // Its round keys are signed with each person's recovery-phrase key: without the
        // phrase, a tab refuses to join before training.
        choose_run(&cpu, secure_run).await;
        press(&cpu, "Join").await;
        let refusal =
            "//p[@aria-label='Join result' and contains(., 'enter your recovery phrase')]";
        wait_within(&cpu, Locator::XPath(refusal), TRAINING).await;
        let printed = |person: &MfaUser| {
            let key = mnemonic::signing_key(&person.recovery_phrase).expect("a phrase");
            fingerprint(key.verifying_key().as_bytes())
        };
        for (client, person) in [(&gpu, alice), (&cpu, bob)] {
            choose_run(client, secure_run).await;
            fill(client, "Recovery phrase", &person.recovery_phrase).await;
            // The key the others check, from the phrase just typed.
            let mine = text_of(client, "Your key", TRAINING).await;
            assert!(mine.ends_with(&printed(person)), "{mine}");
            press(client, "Join").await;
        }
        let cli = cli_participant(ctx, carol, secure_run, volume, labels);
        dave.share_then_leave(ctx).await;
        for client in [&gpu, &cpu] {
            let done = "//p[@aria-label='Join result' and contains(., 'securely aggregated')]";
            let result = wait_within(client, Locator::XPath(done), TRAINING).await;
            let result = result.text().await.unwrap();
            assert!(result.starts_with("Took part in round 1"), "{result}");
        }
        // Each tab names the three others, seen for the first time, with their fingerprints.
        for (client, person) in [(&gpu, alice), (&cpu, bob)] {
            let seen = text_of(client, "Keys seen for the first time", TRAINING).await;
            for other in [alice, bob, carol, &people[3]] {
                let line = format!("{}: {}", other.username, printed(other));
                let me = other.username == person.username;
                assert_eq!(seen.contains(&line), !me, "{line} in {seen}");
            }
        }
        // The tab pinned the four members' recovery-phrase keys as it first saw them.
        let pinned = gpu
            .execute(
                "return localStorage.getItem('meshfed.known_round_keys')",
                vec![],
            )
            .await
            .unwrap();
        let pinned: Value = serde_json::from_str(pinned.as_str().expect("keys pinned")).unwrap();
        for person in [alice, bob, carol, &people[3]] {
            let key = pinned[&person.username].as_str().unwrap_or_default();
            assert_eq!(key.len(), 64, "{} pinned: {pinned}", person.username);
        }
        cli.join()
            .unwrap()
            .expect("meshfed join takes part securely");
        let detail = run_detail(ctx, &token(alice), secure_run).await;
        assert_eq!(detail["current_round"], 2, "{detail}");
        assert_eq!(detail["history"][0]["metrics"]["uploads"], 3, "{detail}");

        // Neither tab follows a plan it cannot train: the one on CPU refuses it for its memory,
        // the one on WebGPU for the adapter's one-buffer limit, both in words, and nothing is
        // uploaded.
        for (client, why) in [
            (&cpu, "a browser tab training on its CPU has 3.0 GiB free"),
            (&gpu, "in one buffer"),
        ] {
            choose_run(client, too_big).await;
            press(client, "Join").await;
            let refusal =
                "//p[@aria-label='Join result' and contains(., 'This run trains batch 32')]";
            let refusal = wait_within(client, Locator::XPath(refusal), TRAINING)
                .await
                .text()
                .await
                .unwrap();
            println!("refused: {refusal}");
            assert!(refusal.contains("of 128³ patches"), "{refusal}");
            assert!(refusal.contains(why), "{refusal}");
            assert!(refusal.contains("Nothing was trained"), "{refusal}");
        }
        screenshot(&gpu, "train-refused.png").await;
        let detail = run_detail(ctx, &token(alice), too_big).await;
        assert_eq!(detail["round"]["uploads"], 0, "{detail}");

        // The run page shows round 2 and round 1's loss and Dice.
        gpu.find(Locator::XPath("//nav//a[.='Runs']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&gpu, Locator::XPath("//a[.='Browser training']"))
            .await
            .click()
            .await
            .unwrap();
        wait_for(&gpu, Locator::XPath("//p[starts-with(., 'Round 2 ')]")).await;
        wait_for(
            &gpu,
            Locator::Css("svg[aria-label='Loss and Dice per round'] circle"),
        )
        .await;
        let lines = gpu
            .find_all(Locator::Css(
                "svg[aria-label='Loss and Dice per round'] polyline",
            ))
            .await
            .unwrap();
        assert_eq!(
            lines.len(),
            3,
            "training loss, training Dice and validation Dice"
        );
        let legend = gpu
            .find(Locator::Css("figure.chart figcaption"))
            .await
            .unwrap();
        let legend = legend.text().await.unwrap();
        assert!(
            legend.contains("Validation Dice (held-out, federated)"),
            "{legend}"
        );
        let row = gpu
            .find(Locator::XPath(
                "//table[@aria-label='Round history']/tbody/tr[1]",
            ))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            row.starts_with("1 3 v1 "),
            "round 1: three uploads with plan v1: {row}"
        );
        let val: Vec<&str> = row.split_whitespace().collect();
        assert!(val[5].parse::<f64>().is_ok(), "a validation Dice: {row}");
        gpu.execute(
            "document.querySelector('figure.chart').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
        screenshot(&gpu, "train-run-round-2.png").await;

        // Segment with the joined model on the CPU and show it.
        press(&cpu, "Segment the volume").await;
        let segmented = text_of(&cpu, "Model result", TRAINING).await;
        assert!(segmented.starts_with("Segmented in"), "{segmented}");
        cpu.find(Locator::XPath("//label[.='Segmentation']/input"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        screenshot(&cpu, "train-segmented.png").await;
        gpu.close().await.unwrap();
        cpu.close().await.unwrap();
    });
}
