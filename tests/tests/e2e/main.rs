//! Meshfed's end-to-end suite. One harness process starts a fresh `wrangler dev` (own port,
//! own state) and a chromedriver, runs every trial against them, then stops both process
//! groups and fails if anything is left running.

mod access;
mod account;
mod account_guessing;
mod admin;
mod app;
mod app_admin;
mod app_identity;
mod app_runs;
mod app_training;
mod backup;
mod deploy;
mod errors;
mod fault;
mod health;
mod join;
mod login;
mod login_timing;
mod mfa_guessing;
mod mfa_reenrol;
mod openapi;
mod persistence;
mod plan;
mod privacy;
mod rate_limits;
mod register;
mod runs;
mod runs_gradients;
mod runs_parts;
mod runs_poisoning;
mod runs_refusals;
mod runs_restart;
mod runs_sizes;
mod secure;
mod secure_rounds;
mod seed_datapod;
mod seed_immunetworks;
mod seed_runs;
mod short_timers;
mod sweep;
mod tokens;
mod training_page;

use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use meshfed_e2e::browser::Chromedriver;
use meshfed_e2e::{server, Ctx};
use xtask::process::group_alive;
use xtask::wrangler::health_status;

type TestFn = fn(&Ctx);

/// `module::test` paths to `("module::test", fn)` pairs: names cannot drift from functions.
macro_rules! tests {
    ($($module:ident :: $test:ident),* $(,)?) => {
        &[$((concat!(stringify!($module), "::", stringify!($test)), $module::$test as TestFn)),*]
    };
}

const TESTS: &[(&str, TestFn)] = tests![
    health::reports_version_and_every_binding,
    health::probe_round_trips_through_d1_r2_and_do,
    errors::unknown_api_route_is_404_envelope,
    errors::wrong_method_is_405_with_allow,
    errors::malformed_json_is_400_validation_error,
    errors::mistyped_json_is_400_without_echo,
    errors::oversized_body_is_413,
    errors::a_chunked_body_over_the_limit_is_refused_while_it_streams,
    errors::internal_error_is_500_without_detail,
    errors::form_posts_to_json_routes_are_415,
    deploy::the_committed_configuration_bundles_as_production,
    deploy::production_serves_nothing_until_configured_and_mails_through_the_provider,
    access::every_operation_behind_a_token_refuses_a_request_without_one,
    openapi::document_is_openapi_3_1_with_routes,
    openapi::real_responses_match_the_document,
    openapi::auth_responses_match_the_document,
    openapi::schemathesis_finds_no_server_error_or_schema_break,
    register::register_then_confirm_issues_a_mnemonic_once,
    register::register_validates_every_field,
    register::duplicate_username_or_email_is_409,
    register::resend_replaces_the_code_and_reveals_nothing,
    login::mfa_setup_in_sign_in_flow_gives_tokens_and_sessions_are_single_use,
    login::access_token_verifies_with_the_published_jwks,
    login::totp_challenge_refuses_replay_and_backup_codes_work_once,
    tokens::refresh_rotates_and_reuse_revokes_the_family,
    tokens::logout_kills_the_access_token_and_refresh_family,
    tokens::forged_and_misused_tokens_are_refused,
    login::wrong_passwords_lock_the_account,
    mfa_guessing::wrong_codes_lock_the_second_factor_across_sessions,
    mfa_reenrol::replacing_mfa_needs_the_password_and_a_code,
    login::unconfirmed_users_cannot_sign_in_and_unknown_users_look_alike,
    account::change_password_revokes_other_sessions,
    account::forgot_and_reset_password_keeps_mfa_and_revokes_sessions,
    account_guessing::reset_answers_alike_for_unknown_accounts_and_resends_keep_the_count,
    login_timing::a_real_account_and_an_unknown_name_answer_alike_in_time,
    account::profile_update_and_confirmed_email_change,
    account::mnemonic_check_compares_the_sha3_digest,
    rate_limits::seed_003_limits_on_a_server_with_production_settings,
    sweep::the_hourly_sweep_deletes_only_what_expired,
    admin::admins_manage_users_and_read_the_audit_log,
    seed_datapod::every_route_with_the_documents_examples,
    seed_immunetworks::identityadd_then_login_and_refresh,
    backup::capability_reaches_only_its_own_prefix,
    short_timers::optional_mfa_expired_sessions_and_lockout_end,
    persistence::state_survives_a_restart,
    runs::three_participants_through_three_rounds,
    runs::concurrent_uploads_from_32_users_match_the_reference,
    runs::a_replacement_upload_counts_once,
    runs::a_huge_upload_then_replaced_leaves_the_honest_average,
    runs_poisoning::a_huge_example_count_weighs_at_most_its_cap,
    runs_poisoning::an_update_longer_than_the_plans_norm_is_clipped,
    runs::a_deadline_closes_a_round_with_k_of_n,
    runs_refusals::outsiders_get_403_missing_runs_404_and_only_the_creator_edits,
    runs_refusals::bad_uploads_are_refused_and_nothing_counts,
    runs_refusals::a_negative_batch_norm_variance_is_refused,
    runs_refusals::an_upload_of_the_other_kind_cannot_take_the_round,
    runs_sizes::every_preset_uploads_in_both_formats,
    runs::deactivating_the_last_missing_participant_closes_the_round,
    runs::one_upload_never_becomes_the_global_model,
    runs_gradients::gradients_long_poll_until_the_round_is_complete,
    runs_restart::a_round_carries_on_after_a_restart,
    fault::killed_mid_upload_and_mid_close_rounds_lose_and_repeat_nothing,
    runs_parts::an_upload_larger_than_a_request_counts_in_parts_and_attacks_fail,
    seed_runs::every_run_route_with_the_documents_examples,
    join::two_headless_participants_train_a_round,
    join::a_participant_renews_its_sign_in_before_it_expires,
    privacy::participants_noise_their_updates_and_the_budget_ends_the_run,
    secure::a_dropout_after_sharing_leaves_the_fedavg_of_the_rest,
    secure_rounds::three_cli_participants_take_a_secure_round,
    secure_rounds::a_round_short_of_its_threshold_starts_over_with_fresh_keys,
    secure_rounds::a_changed_member_key_is_refused_before_any_share,
    plan::participants_follow_the_plan_and_a_patch_starts_next_round,
    plan::the_server_step_keeps_its_momentum_across_rounds,
    plan::a_run_given_no_model_trains_the_labs_recipe,
    plan::a_run_starts_from_a_brainchop_preset,
    plan::join_refuses_a_plan_too_big_for_the_machine,
    app::spa_fallback_serves_the_app_for_app_routes,
    app::login_page_renders_form_and_online_status,
    app::unknown_page_shows_not_found,
    app::app_and_api_send_the_security_headers_and_inline_scripts_are_blocked,
    app_admin::an_admin_disables_enables_and_resets_mfa_and_sees_the_audit_log,
    app_identity::sign_up_confirm_set_up_mfa_sign_out_and_in_again,
    app_identity::forgot_password_then_change_it_on_the_profile,
    app_runs::create_a_run_see_participants_then_the_round_history,
    app_training::two_browsers_train_and_join_a_run_on_webgpu_and_cpu,
];

fn main() {
    xtask::process::stop_groups_on_signal();
    let args = Arguments::from_args();
    let state = server::fresh_state_dir("shared");
    let mut server = server::start_with(&state, None, server::SHARED_VARS).unwrap_or_else(|e| {
        eprintln!("cannot start the Worker for the end-to-end tests: {e}");
        std::process::exit(1);
    });
    let mut driver = Chromedriver::start().unwrap_or_else(|e| {
        server.stop();
        eprintln!("cannot start chromedriver: {e}");
        std::process::exit(1);
    });
    let rt = Arc::new(tokio::runtime::Runtime::new().expect("tokio runtime"));
    let ctx = Arc::new(Ctx {
        base: server.base_url(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            // A fresh connection per request: workerd may close an idle keep-alive connection
            // just as a pooled request goes out on it (hyper's IncompleteMessage, seen once in
            // `runs::a_deadline_closes_a_round_with_k_of_n`).
            .pool_max_idle_per_host(0)
            .retry(dev_server_restarts())
            .build()
            .expect("http client"),
        rt,
        webdriver: driver.url.clone(),
    });
    println!("end-to-end server {} (state {})", ctx.base, state.display());

    let trials = TESTS
        .iter()
        .map(|&(name, test)| {
            let ctx = Arc::clone(&ctx);
            Trial::test(name, move || run_trial(name, test, &ctx))
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);

    let (pgid, port) = (server.pgid(), server.port);
    let server_stopped = server.stop() && !group_alive(pgid) && health_status(port).is_none();
    let driver_stopped = driver.stop();
    if !server_stopped || !driver_stopped {
        eprintln!(
            "FAILED: processes left running (server stopped: {server_stopped}, \
             chromedriver stopped: {driver_stopped})"
        );
        std::process::exit(101);
    }
    println!("stopped the Worker (process group {pgid}) and chromedriver cleanly");
    if conclusion.has_failed() {
        println!(
            "kept the server state and log for diagnosis: {}",
            state.display()
        );
    } else {
        server::remove_run_dirs();
    }
    conclusion.exit();
}

/// Sends a request again (once) when `wrangler dev` answers 503: its proxy says "Your worker
/// restarted mid-request. Please try sending the request again" when the local runtime
/// swaps the Worker under a request, a development-server event that is rare (about one
/// request in a few thousand) and no part of Meshfed. A 503 of Meshfed's own (the production
/// configuration's refusals) is the same again on the second try, so those tests still see it.
fn dev_server_restarts() -> reqwest::retry::Builder {
    reqwest::retry::for_host("127.0.0.1")
        .no_budget()
        .max_retries_per_request(1)
        .classify_fn(|attempt| {
            if attempt.status() == Some(reqwest::StatusCode::SERVICE_UNAVAILABLE) {
                attempt.retryable()
            } else {
                attempt.success()
            }
        })
}

/// Runs one trial, turning a panic into its failure message; a slow trial says how long it
/// took, so the suite's time can be read off its output.
fn run_trial(name: &str, test: TestFn, ctx: &Ctx) -> Result<(), Failed> {
    let start = std::time::Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(ctx)));
    let secs = start.elapsed().as_secs_f64();
    if secs >= 10.0 {
        println!("[e2e] {name} took {secs:.1}s");
    }
    outcome.map_err(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "test panicked".into());
        Failed::from(msg)
    })
}
