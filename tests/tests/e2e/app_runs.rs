//! Runs in the app: sign in with a backup code, create a run with a colleague picked from the
//! users list, see both participants waiting; after both upload, round 2 and the chart.

use fantoccini::{Client, Locator};
use meshfed_e2e::browser::session;
use meshfed_e2e::identity::{MfaUser, PASSWORD};
use meshfed_e2e::runs::{current_model, participants, put_weights, values};
use meshfed_e2e::ui::{
    button, fill, heading_is, press, screenshot, sign_in_with_backup_code, texts, wait_for,
};
use meshfed_e2e::Ctx;
use meshfed_shared::meshnet::ModelConfig;

async fn sign_in(client: &Client, ctx: &Ctx, user: &MfaUser) {
    client.goto(&ctx.url("/login")).await.unwrap();
    sign_in_with_backup_code(client, &user.username, PASSWORD, &user.backup_codes[0]).await;
}

async fn cells(client: &Client, table: &str) -> Vec<String> {
    let css = format!("table[aria-label='{table}'] tbody td");
    wait_for(client, Locator::Css(&css)).await;
    texts(client.find_all(Locator::Css(&css)).await.unwrap()).await
}

pub fn create_a_run_see_participants_then_the_round_history(ctx: &Ctx) {
    ctx.block_on(async {
        let people = participants(ctx, "app_runs", 2).await;
        let (alice, bob) = (&people[0], &people[1]);
        let client = session(&ctx.webdriver).await;
        sign_in(&client, ctx, alice).await;

        wait_for(&client, Locator::XPath("//nav//a[.='Runs']"))
            .await
            .click()
            .await
            .unwrap();
        heading_is(&client, "Federated runs").await;
        wait_for(&client, Locator::XPath("//p[contains(., 'no run yet')]")).await;
        wait_for(&client, Locator::XPath("//a[.='New run']"))
            .await
            .click()
            .await
            .unwrap();
        heading_is(&client, "New run").await;
        let name = format!("Hippocampus study {}", alice.username);
        fill(&client, "Name", &name).await;
        fill(&client, "Find people", &bob.username).await;
        let bob_box = format!(
            "//label[contains(., '{}')]/input[@type='checkbox']",
            bob.username
        );
        wait_for(&client, Locator::XPath(&bob_box))
            .await
            .click()
            .await
            .unwrap();
        let alice_box = format!("//label[contains(., '{}')]/input", alice.username);
        assert!(
            client.find(Locator::XPath(&alice_box)).await.is_err(),
            "the creator is not offered as a participant"
        );
        let offered = client
            .find_all(Locator::Css("fieldset input[type=checkbox]"))
            .await
            .unwrap();
        assert_eq!(offered.len(), 1, "the search leaves one person");
        fill(&client, "Find people", "app_runs").await; // a wider search re-renders the list
        let checked = wait_for(&client, Locator::XPath(&bob_box)).await;
        assert_eq!(
            checked.prop("checked").await.unwrap().as_deref(),
            Some("true"),
            "kept while searching"
        );
        fill(&client, "Round timeout (minutes)", "30").await;
        // A fresh network gets BatchNorm by default (the lab's recipe); pretrained weights
        // have none, so the choice goes away with them.
        let bn = wait_for(&client, Locator::Id("run-batch-norm")).await;
        assert_eq!(bn.prop("checked").await.unwrap().as_deref(), Some("true"));
        // Start from brainchop's pretrained model5 (the form's first model).
        wait_for(
            &client,
            Locator::XPath("//select[@id='run-start']/option[@value='pretrained']"),
        )
        .await
        .click()
        .await
        .unwrap();
        screenshot(&client, "run-new.png").await;
        assert!(
            client.find(Locator::Id("run-batch-norm")).await.is_err(),
            "no BatchNorm choice for pretrained weights"
        );
        button(&client, "Create run").await.click().await.unwrap();

        // The run page: both participants, waiting in round 1.
        heading_is(&client, &name).await;
        let people_cells = cells(&client, "Participants").await;
        let row_of = |user: &str| {
            let at = people_cells
                .iter()
                .position(|c| c.starts_with(user))
                .unwrap_or_else(|| panic!("{user} in {people_cells:?}"));
            people_cells[at..at + 4].to_vec()
        };
        assert_eq!(row_of(&alice.username)[3], "waiting");
        assert_eq!(row_of(&bob.username)[3], "waiting");
        assert!(row_of(&alice.username)[0].ends_with("(creator)"));
        wait_for(&client, Locator::XPath("//p[.='No round has closed yet.']")).await;
        let url = client.current_url().await.unwrap();
        let run: i64 = url
            .path()
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .expect("run id in the URL");
        let (config, pretrained) = meshfed_shared::meshnet::brainchop::Preset::find("model5_gw_ae")
            .unwrap()
            .load()
            .unwrap();
        let global = current_model(ctx, &meshfed_e2e::runs::token(alice), run, &config).await;
        assert_eq!(
            global, pretrained,
            "the run starts from brainchop's weights"
        );

        // Both upload round 1 (as participants' apps do); the open page follows the round
        // by itself (no reload: that would sign out, as tokens live in memory only).
        let n = ModelConfig::model5(3).parameter_count();
        for (i, user) in [alice, bob].into_iter().enumerate() {
            let (status, body) =
                put_weights(ctx, user, run, 1, &values(i as u64 + 1, n), 100).await;
            assert!(status == 200 || status == 201, "{status} {body}");
        }
        wait_for(&client, Locator::XPath("//p[starts-with(., 'Round 2 ')]")).await;
        let history = cells(&client, "Round history").await;
        assert_eq!(
            &history[..6],
            ["1", "2", "v1", "0.5000", "0.2500", "—"],
            "no validation was reported: {history:?}"
        );
        let lines = client
            .find_all(Locator::Css(
                "svg[aria-label='Loss and Dice per round'] polyline",
            ))
            .await
            .unwrap();
        assert_eq!(lines.len(), 2, "a line for loss and one for Dice");
        let dots = client
            .find_all(Locator::Css(
                "svg[aria-label='Loss and Dice per round'] circle",
            ))
            .await
            .unwrap();
        assert_eq!(dots.len(), 2, "round 1's loss and Dice as dots");
        screenshot(&client, "run.png").await;

        // Pausing my participation shows at once in the participants table; then resume.
        press(&client, "Pause my participation").await;
        wait_for(
            &client,
            Locator::XPath("//button[.='Resume my participation']"),
        )
        .await;
        let paused = cells(&client, "Participants").await;
        let at = paused
            .iter()
            .position(|c| c.starts_with(&alice.username))
            .unwrap();
        assert_eq!(paused[at + 2], "no", "{paused:?}");
        press(&client, "Resume my participation").await;
        wait_for(
            &client,
            Locator::XPath("//button[.='Pause my participation']"),
        )
        .await;

        // The list links to it.
        wait_for(&client, Locator::XPath("//a[.='All runs']"))
            .await
            .click()
            .await
            .unwrap();
        let link = wait_for(
            &client,
            Locator::XPath(&format!("//table[@aria-label='Runs']//a[.='{name}']")),
        )
        .await;
        assert_eq!(
            link.attr("href").await.unwrap(),
            Some(format!("/runs/{run}"))
        );
        screenshot(&client, "runs.png").await;
        client.close().await.unwrap();
    });
}
