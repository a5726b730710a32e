//! Component tests, run in headless Chromium by wasm-bindgen-test
//! (`cargo test -p meshfed-app --target wasm32-unknown-unknown`, driven by `cargo xtask test`).
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use leptos_router::components::Router;
use meshfed_app::components::server_status::ServerStatus;
use meshfed_app::pages::{login::LoginPage, not_found::NotFoundPage, signup::SignupPage};
use meshfed_app::session::Session;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

fn container() -> HtmlElement {
    let doc = document();
    let div = doc
        .create_element("div")
        .unwrap()
        .unchecked_into::<HtmlElement>();
    doc.body().unwrap().append_child(&div).unwrap();
    div
}

fn input_labelled(root: &Element, label_text: &str) -> HtmlInputElement {
    let labels = root.query_selector_all("label").unwrap();
    for i in 0..labels.length() {
        let label = labels.item(i).unwrap().unchecked_into::<Element>();
        if label.text_content().as_deref() == Some(label_text) {
            let id = label
                .get_attribute("for")
                .expect("label has a for attribute");
            return root
                .query_selector(&format!("#{id}"))
                .unwrap()
                .unwrap_or_else(|| panic!("no input #{id} for label {label_text:?}"))
                .unchecked_into();
        }
    }
    panic!("no label {label_text:?}");
}

#[wasm_bindgen_test]
fn login_form_has_labelled_fields_and_submit() {
    let root = container();
    let _handle = leptos::mount::mount_to(root.clone(), || {
        Session::provide();
        view! { <Router><LoginPage/></Router> }
    });
    let user = input_labelled(&root, "Username or email");
    assert_eq!(user.type_(), "text");
    assert_eq!(user.autocomplete(), "username");
    let password = input_labelled(&root, "Password");
    assert_eq!(password.type_(), "password");
    let button = root
        .query_selector("button[type=submit]")
        .unwrap()
        .expect("submit button");
    assert_eq!(button.text_content().unwrap(), "Sign in");
    let form = root.query_selector("form").unwrap().unwrap();
    assert_eq!(form.get_attribute("aria-label").as_deref(), Some("Sign in"));
}

#[wasm_bindgen_test]
fn not_found_page_says_so_and_links_home() {
    let root = container();
    let _handle = leptos::mount::mount_to(root.clone(), NotFoundPage);
    assert_eq!(
        root.query_selector("h1")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "Page not found"
    );
    let link = root.query_selector("a").unwrap().unwrap();
    assert_eq!(link.get_attribute("href").as_deref(), Some("/"));
}

/// The test runner's server has no `/api/health`, so the line must end in an error state
/// that says so, not stay on "Checking".
#[wasm_bindgen_test]
async fn server_status_reports_a_missing_server() {
    let root = container();
    let _handle = leptos::mount::mount_to(root.clone(), ServerStatus);
    let status = root
        .query_selector("[role=status]")
        .unwrap()
        .expect("status line");
    assert!(status.text_content().unwrap().contains("Checking"));
    let mut text = String::new();
    for _ in 0..100 {
        sleep_ms(50).await;
        text = status.text_content().unwrap();
        if !text.contains("Checking") {
            break;
        }
    }
    assert!(
        text.starts_with("Server offline"),
        "status line says {text:?}"
    );
    assert!(status.class_name().contains("offline"));
}

/// Sign-up checks the server's rules (from shared/) as the person types, beside the field.
#[wasm_bindgen_test]
async fn signup_shows_the_servers_rules_while_typing() {
    let root = container();
    let _handle = leptos::mount::mount_to(root.clone(), || {
        Session::provide();
        view! { <Router><SignupPage/></Router> }
    });
    let username = input_labelled(&root, "Username");
    let error = || {
        root.query_selector(&format!("#{}-error", username.id()))
            .unwrap()
            .expect("an error slot beside the field")
            .text_content()
            .unwrap_or_default()
    };
    assert_eq!(error(), "", "nothing is said before typing");
    username.set_value("x");
    let input = web_sys::Event::new("input").unwrap();
    username.dispatch_event(&input).unwrap();
    sleep_ms(50).await;
    assert!(error().contains("3-50 characters"), "said {:?}", error());
    assert_eq!(
        username.get_attribute("aria-invalid").as_deref(),
        Some("true")
    );
    username.set_value("ada_lovelace");
    username.dispatch_event(&input).unwrap();
    sleep_ms(50).await;
    assert_eq!(error(), "");
}

async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// The chart's scaling: the points span the drawing box, higher values sit higher.
#[wasm_bindgen_test]
fn chart_points_span_the_box() {
    use meshfed_app::components::chart::{polyline, scale};
    let pts = [(1.0, 0.0), (2.0, 1.0)];
    let px = scale(&pts, &pts).unwrap();
    assert_eq!(polyline(&px), "32.0,168.0 448.0,32.0");
    assert_eq!(scale(&[], &pts), None);
    // One round: a single point still lands inside the box (drawn as a dot).
    let one = scale(&[(1.0, 0.5)], &[(1.0, 0.5)]).unwrap();
    assert!(one[0].0 >= 32.0 && one[0].1 <= 168.0, "{one:?}");
}

#[wasm_bindgen_test]
async fn slice_viewer_draws_three_planes_with_the_overlay_and_moves_with_its_slider() {
    use meshfed_app::components::slices::SliceViewer;
    use meshfed_shared::volume::{Labels, Volume};
    use std::sync::Arc;
    use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

    let root = container();
    // dims [4, 6, 8], intensity = z; class 1 everywhere on the plane x = 0.
    let volume = Volume::new([4, 6, 8], (0..192).map(|i| (i % 8) as f32).collect()).unwrap();
    let labels = Labels::new([4, 6, 8], (0..192).map(|i| (i < 48) as u8).collect()).unwrap();
    let v = Signal::derive(move || Some(Arc::new(volume.clone())));
    let l = Signal::derive(move || Some(Arc::new(labels.clone())));
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        view! { <SliceViewer volume=v overlay=l/> }
    });
    let next_frame = || {
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::new(&mut |resolve, _| {
            let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 50);
        }))
    };
    next_frame().await.unwrap();
    let canvases = root.query_selector_all("canvas").unwrap();
    assert_eq!(canvases.length(), 3);
    let canvas = |label: &str| -> HtmlCanvasElement {
        root.query_selector(&format!("canvas[aria-label='{label}']"))
            .unwrap()
            .unwrap()
            .unchecked_into()
    };
    let sagittal = canvas("Sagittal view");
    assert_eq!(
        (sagittal.width(), sagittal.height()),
        (6, 8),
        "y across, z up"
    );
    let pixel = |c: &HtmlCanvasElement, x: f64, y: f64| -> Vec<u8> {
        let ctx: CanvasRenderingContext2d = c.get_context("2d").unwrap().unwrap().unchecked_into();
        ctx.get_image_data(x, y, 1.0, 1.0).unwrap().data().to_vec()
    };
    // The axial view at x = 0 (left column) is tinted; elsewhere grey.
    let axial = canvas("Axial view");
    let tinted = pixel(&axial, 0.0, 0.0);
    let grey = pixel(&axial, 3.0, 0.0);
    assert_eq!(grey[0], grey[1], "untinted pixels are grey");
    assert_ne!(tinted[0], tinted[1], "labelled pixels are tinted");
    // The slider moves the axial plane: brighter higher up in z.
    let slider: HtmlInputElement = root
        .query_selector("input[aria-label='Axial slice']")
        .unwrap()
        .expect("a labelled slider")
        .unchecked_into();
    assert_eq!(slider.value(), "4", "starts mid-volume");
    let before = pixel(&axial, 3.0, 0.0)[0];
    slider.set_value("7");
    slider
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    next_frame().await.unwrap();
    assert!(
        pixel(&axial, 3.0, 0.0)[0] > before,
        "the top plane is brighter"
    );
}
