//! Finding things in the app as a person does: by label, by button text, by heading.

use std::future::Future;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, Locator};

use crate::browser::screenshot_dir;

/// Waits for `locator` to appear (the app renders after its wasm loads).
pub async fn wait_for(client: &Client, locator: Locator<'_>) -> Element {
    wait_within(client, locator, Duration::from_secs(30)).await
}

/// [`wait_for`] with a longer limit (training in the browser).
pub async fn wait_within(client: &Client, locator: Locator<'_>, limit: Duration) -> Element {
    match client.wait().at_most(limit).for_element(locator).await {
        Ok(element) => element,
        Err(e) => {
            // What the page showed instead, kept with the other screenshots.
            if let Ok(png) = client.screenshot().await {
                let _ = std::fs::write(screenshot_dir().join("failed-wait.png"), png);
            }
            let body = match client.find(Locator::Css("main")).await {
                Ok(main) => main.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("{locator:?} did not appear ({e}); the page says: {body}")
        }
    }
}

/// The input a `<label>` with exactly `text` points at.
pub async fn field(client: &Client, label: &str) -> Element {
    let xpath = format!("//input[@id=//label[normalize-space(.)='{label}']/@for]");
    wait_for(client, Locator::XPath(&xpath)).await
}

/// Types `text` into the field labelled `label`, replacing what it held. As in [`press`], a
/// field the app re-rendered meanwhile is found afresh and filled again from empty.
pub async fn fill(client: &Client, label: &str, text: &str) {
    let what = format!("the field {label:?}");
    retry_if_stale(&what, || async {
        let input = field(client, label).await;
        input.clear().await?;
        input.send_keys(text).await
    })
    .await;
}

/// Runs `attempt` (which finds its element afresh each time) until it does not fail on a
/// stale element: the app may re-render an element between finding and using it.
async fn retry_if_stale<F, Fut>(what: &str, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), CmdError>>,
{
    for _ in 0..4 {
        match attempt().await {
            Err(e) if e.is_stale_element_reference() => continue,
            done => return done.unwrap(),
        }
    }
    panic!("{what} went stale on every one of 4 tries");
}

pub async fn button(client: &Client, text: &str) -> Element {
    let xpath = format!("//button[normalize-space(.)='{text}']");
    wait_for(client, Locator::XPath(&xpath)).await
}

/// Clicks the button reading exactly `text` once it is enabled: a click on a disabled button
/// does nothing, and a test that clicked one too early would wait in vain for its effect
/// (how `app_training` once failed in CI). The app may re-render the button between finding
/// and clicking it (a reactive update); a stale element is found afresh and clicked.
pub async fn press(client: &Client, text: &str) {
    let what = format!("the button {text:?}");
    let enabled = format!("//button[normalize-space(.)='{text}' and not(@disabled)]");
    retry_if_stale(&what, || async {
        let limit = Duration::from_secs(120);
        let button = wait_within(client, Locator::XPath(&enabled), limit).await;
        button.click().await.map(|_| ())
    })
    .await;
}

/// The error shown beneath the field labelled `label` (empty when none).
pub async fn field_error(client: &Client, label: &str) -> String {
    let id = field(client, label)
        .await
        .attr("id")
        .await
        .unwrap()
        .unwrap();
    let error = client
        .find(Locator::Id(&format!("{id}-error")))
        .await
        .unwrap();
    error.text().await.unwrap()
}

pub async fn heading_is(client: &Client, text: &str) {
    let xpath = format!("//main//h1[normalize-space(.)='{text}']");
    wait_for(client, Locator::XPath(&xpath)).await;
}

pub async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(screenshot_dir().join(name), png).expect("write screenshot");
}

pub async fn texts(elements: Vec<Element>) -> Vec<String> {
    let mut out = vec![];
    for e in elements {
        out.push(e.text().await.unwrap());
    }
    out
}

/// Signs in from the sign-in page with a password and a backup code as the second factor
/// (a TOTP code might repeat a step the setup used), ending on the profile.
pub async fn sign_in_with_backup_code(client: &Client, user: &str, password: &str, code: &str) {
    heading_is(client, "Sign in").await;
    fill(client, "Username or email", user).await;
    fill(client, "Password", password).await;
    button(client, "Sign in").await.click().await.unwrap();
    heading_is(client, "Two-factor authentication").await;
    fill(client, "Authentication code", code).await;
    button(client, "Verify").await.click().await.unwrap();
    heading_is(client, "Your profile").await;
}
