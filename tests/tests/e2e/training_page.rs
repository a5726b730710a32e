//! The training page as the e2e tests drive it: signing in and opening it, picking files
//! and a run to join, reading a labelled result, and a `meshfed join` beside the browsers.

use std::time::Duration;

use fantoccini::{Client, Locator};
use meshfed_e2e::browser::session_with;
use meshfed_e2e::identity::{MfaUser, PASSWORD};
use meshfed_e2e::participant::join_args;
use meshfed_e2e::ui::{field, heading_is, sign_in_with_backup_code, wait_for, wait_within};
use meshfed_e2e::Ctx;

/// Browser training is CPU-emulated here (SwiftShader or wasm): generous limits.
pub const TRAINING: Duration = Duration::from_secs(600);

pub async fn open_training(ctx: &Ctx, user: &MfaUser, webgpu: bool) -> Client {
    let flags: &[&str] = if webgpu {
        &["--enable-unsafe-webgpu"]
    } else {
        &[]
    };
    let client = session_with(&ctx.webdriver, flags).await;
    client.goto(&ctx.url("/login")).await.unwrap();
    heading_is(&client, "Sign in").await;
    let interactive = client
        .execute(
            "const m = performance.getEntriesByName('meshfed-interactive'); \
             return m.length ? m[0].startTime : null;",
            vec![],
        )
        .await
        .unwrap();
    println!("page load to interactive: {interactive} ms (app .wasm, fresh browser)");
    assert!(
        interactive.as_f64().is_some(),
        "the app marks when it is interactive"
    );
    sign_in_with_backup_code(&client, &user.username, PASSWORD, &user.backup_codes[0]).await;
    wait_for(&client, Locator::XPath("//nav//a[.='Runs']")).await;
    // In-app navigation keeps the in-memory session.
    wait_for(&client, Locator::XPath("//nav//a[.='Train']"))
        .await
        .click()
        .await
        .unwrap();
    client
}

pub async fn text_of(client: &Client, label: &str, limit: Duration) -> String {
    let css = format!("[aria-label='{label}']");
    wait_within(client, Locator::Css(&css), limit)
        .await
        .text()
        .await
        .unwrap()
}

/// Picks run `run` in the page's list of runs to join, and waits until the list holds it:
/// the list may be re-rendered (refreshed after a join) just as the option is clicked.
pub async fn choose_run(client: &Client, run: i64) {
    let option = format!("//select[@id='join-run']/option[@value='{run}']");
    let chosen = "return document.getElementById('join-run').value";
    for _ in 0..20 {
        match wait_for(client, Locator::XPath(&option))
            .await
            .click()
            .await
        {
            Err(e) if !e.is_stale_element_reference() => panic!("choosing run {run}: {e}"),
            _ => {}
        }
        let value = client.execute(chosen, vec![]).await.unwrap();
        if value.as_str() == Some(run.to_string().as_str()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the run list never held run {run}");
}

pub async fn pick_files(client: &Client, volume: &str, labels: &str) {
    field(client, "T1 volume (NIfTI, .nii or .nii.gz)")
        .await
        .send_keys(volume)
        .await
        .unwrap();
    field(client, "Label map (NIfTI, same grid)")
        .await
        .send_keys(labels)
        .await
        .unwrap();
    wait_within(
        client,
        Locator::XPath("//p[starts-with(., 'Ready to train: 3 classes')]"),
        TRAINING,
    )
    .await;
}

/// `meshfed join` for one round on the same small volume, in its own thread.
pub fn cli_participant(
    ctx: &Ctx,
    user: &MfaUser,
    run: i64,
    volume: &str,
    labels: &str,
) -> std::thread::JoinHandle<meshfed_cli::error::CliResult<Vec<meshfed_cli::join::RoundReport>>> {
    let files = (volume.into(), labels.into());
    let args = join_args(ctx, user, run, files, 1, 3, TRAINING.as_secs());
    std::thread::spawn(move || meshfed_cli::join::run(args))
}
