use meshfed_e2e::Ctx;
use serde_json::{json, Value};

pub fn reports_version_and_every_binding(ctx: &Ctx) {
    ctx.block_on(async {
        let resp = ctx.get("/api/health").send().await;
        assert_eq!(resp.status, 200);
        assert!(resp.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let body: Value = resp.json();
        assert_eq!(body["success"], json!(true));
        assert_eq!(body["message"], "Meshfed is healthy");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        let data = &body["data"];
        assert_eq!(data["status"], "ok");
        assert_eq!(data["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(data["environment"], "development");
        let names: Vec<&str> = data["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["d1", "r2", "durable_object"]);
        for check in data["checks"].as_array().unwrap() {
            assert_eq!(check["ok"], json!(true), "{check}");
        }
    });
}

pub fn probe_round_trips_through_d1_r2_and_do(ctx: &Ctx) {
    ctx.block_on(async {
        let url = "/api/_dev/probe/roundtrip";
        let before: Value = ctx.get(url).send().await.json();
        assert_eq!(
            before["data"],
            json!({"key": "roundtrip", "d1_note": null,
                                           "r2_bytes": null, "counter": 0})
        );
        for expected in 1..=2u64 {
            let resp = ctx.post(url).json(&json!({"note": "hello"})).send().await;
            assert_eq!(resp.status, 201);
            let body: Value = resp.json();
            assert_eq!(body["data"]["counter"], json!(expected));
        }
        let after: Value = ctx.get(url).send().await.json();
        assert_eq!(
            after["data"],
            json!({"key": "roundtrip", "d1_note": "hello",
                                          "r2_bytes": 5, "counter": 2})
        );
        let bad = ctx.get("/api/_dev/probe/no%20spaces").send().await;
        assert_eq!(bad.status, 400);
    });
}
