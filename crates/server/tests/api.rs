//! The HTTP API as a client sees it: roles, error shape, limits, the
//! OpenAPI document, readiness, data routes and the audit trail of draws.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use tidewatch_server::{routes, Access, Readiness, Role, OPENAPI_JSON};

const CREDENTIALS: [(Option<&str>, Option<Role>); 5] = [
    (None, None),
    (Some(BAD), None),
    (Some(VIEWER), Some(Role::Viewer)),
    (Some(PLANNER), Some(Role::Planner)),
    (Some(ADMIN), Some(Role::Admin)),
];

/// A concrete URI and body for each route template.
fn example(path: &str, method: &Method, n: usize) -> (String, Option<Value>) {
    let (_, b, _) = ids();
    let uri = path
        .replace("{uscc}", b.as_str())
        .replace("{list}", "serious")
        .replace("{plan_id}", "plan-existing");
    let body = match (method.as_str(), path) {
        ("POST", "/v1/draws/preview") => Some(json!({"id": "p", "field": "food"})),
        ("POST", "/v1/draws") => Some(json!({"id": format!("plan-new-{n}"), "field": "food"})),
        ("POST", p) if p.ends_with("/run") => {
            Some(json!({"randomness": "lottery 2026-10-01: 03 17 22"}))
        }
        ("POST", p) if p.ends_with("/replace") => {
            Some(json!({"uscc": b, "reason": "7 已关闭停业"}))
        }
        _ => None,
    };
    (uri, body)
}

#[tokio::test]
async fn each_role_can_do_what_it_should_and_nothing_more() {
    let f = fixture();
    // A drawn draw for the routes that name one.
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws",
        Some(PLANNER),
        Some(json!({"id": "plan-existing", "field": "food"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut n = 0;
    for spec in routes() {
        for (token, role) in CREDENTIALS {
            n += 1;
            let (uri, body) = example(spec.path, &spec.method, n);
            let r = call(&f.router, spec.method.clone(), &uri, token, body).await;
            let what = format!(
                "{} {} as {:?}: {} {}",
                spec.method, spec.path, role, r.status, r.text
            );
            match (spec.access, role) {
                (Access::Open, _) => assert!(r.status.is_success(), "{what}"),
                (Access::Role(_), None) => {
                    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(r.error_code(), "unauthorized", "{what}");
                    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE), "{what}");
                }
                (Access::Role(needed), Some(have)) if !have.allows(needed) => {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
                    assert_eq!(r.error_code(), "forbidden", "{what}");
                }
                (Access::Role(_), Some(_)) => {
                    // Reached the handler: success, or a domain answer
                    // about the draw's state (a second run is a conflict).
                    assert!(
                        r.status.is_success() || r.status == StatusCode::CONFLICT,
                        "{what}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn specific_permissions() {
    let f = fixture();
    let (a, _, _) = ids();
    let uri = format!("/v1/entities/{a}");
    assert_eq!(
        call(&f.router, Method::GET, &uri, Some(VIEWER), None)
            .await
            .status,
        StatusCode::OK
    );
    let plan = json!({"id": "q4-food", "field": "food"});
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws",
        Some(VIEWER),
        Some(plan.clone()),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws",
        Some(PLANNER),
        Some(plan),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers[header::LOCATION], "/v1/draws/q4-food");
    let r = call(&f.router, Method::GET, "/v1/audit", Some(PLANNER), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(&f.router, Method::GET, "/v1/audit", Some(ADMIN), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(&f.router, Method::GET, "/v1/whoami", Some(PLANNER), None).await;
    assert_eq!(
        r.json(),
        json!({"name": "planning-desk", "role": "planner"})
    );
    // The scheme is case-insensitive; a token under another scheme is not a bearer token.
    let req = Request::get("/v1/whoami")
        .header(header::AUTHORIZATION, format!("bearer {VIEWER}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&f.router, req).await.status, StatusCode::OK);
    let req = Request::get("/v1/whoami")
        .header(header::AUTHORIZATION, format!("Basic {VIEWER}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&f.router, req).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_tokens_configured_means_every_protected_route_is_closed() {
    let f = fixture_with(|c| c.tokens.clear());
    let r = call(&f.router, Method::GET, "/v1/lists", Some(ADMIN), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&f.router, Method::GET, "/healthz", None, None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn malformed_requests_get_the_documented_error_shape() {
    let f = fixture_with(|c| c.limits.max_body_bytes = 1024);
    let (a, _, _) = ids();
    let lower = a.as_str().to_lowercase();
    let cases: Vec<(Method, String, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::GET,
            "/v1/entities/9133".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_uscc",
        ),
        (
            Method::GET,
            format!("/v1/entities/{lower}"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_uscc",
        ),
        (
            Method::GET,
            "/v1/entities/91330902MA2A00019".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_uscc",
        ),
        (
            Method::GET,
            format!(
                "/v1/entities/{}",
                ids().0.as_str().replace("MA2A0001", "MA2A0009")
            ),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_uscc",
        ),
        (
            Method::GET,
            "/v1/distribution?field=fish".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/distribution?region=33".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/distribution?industry=c13".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/distribution?group_by=legal_rep".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/distribution?bogus=1".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/alerts?after=-1".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/alerts?limit=abc".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/alerts?limit=0".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/lists/serious?limit=1001".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            Method::GET,
            "/v1/lists/no_such_list".into(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/entities/91330902MA2A00028"
                .replace("28", "2X")
                .as_str()
                .into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_uscc",
        ),
        (
            Method::GET,
            "/v1/nothing-here".into(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::DELETE,
            "/v1/lists".into(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::POST,
            "/v1/draws".into(),
            Some(json!(["not", "an", "object"])),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/draws".into(),
            Some(json!({"field": "food"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        ),
        (
            Method::POST,
            "/v1/draws/preview".into(),
            Some(json!({"id": "x", "field": "fish"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        ),
        (
            Method::POST,
            "/v1/draws/none/run".into(),
            Some(json!({"randomness": "1"})),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/draws/none/run".into(),
            Some(json!({"seed": "1"})),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/draws/none/replace".into(),
            Some(json!({"uscc": "bad", "reason": "7"})),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/draws".into(),
            Some(json!({"id": "big", "field": "food", "pad": "x".repeat(2000)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let r = call(&f.router, method.clone(), &uri, Some(ADMIN), body).await;
        assert_eq!(r.status, status, "{method} {uri}: {}", r.text);
        assert_eq!(r.error_code(), code, "{method} {uri}");
    }

    // The lower-case code's message gives the upper-case form.
    let r = call(
        &f.router,
        Method::GET,
        &format!("/v1/entities/{lower}"),
        Some(VIEWER),
        None,
    )
    .await;
    assert!(r.text.contains(a.as_str()), "{}", r.text);

    // Syntax errors and a missing content type.
    let req = Request::post("/v1/draws")
        .header(header::AUTHORIZATION, format!("Bearer {PLANNER}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"id\": "))
        .expect("request");
    let r = send(&f.router, req).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );
    let req = Request::post("/v1/draws")
        .header(header::AUTHORIZATION, format!("Bearer {PLANNER}"))
        .body(Body::from("{\"id\":\"x\",\"field\":\"food\"}"))
        .expect("request");
    let r = send(&f.router, req).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );

    // An entity the engine does not know.
    let r = call(
        &f.router,
        Method::GET,
        "/v1/entities/9144030071526726XG",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn authentication_comes_before_body_checks() {
    let f = fixture();
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws",
        None,
        Some(json!("garbage")),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws",
        Some(VIEWER),
        Some(json!("garbage")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let f = fixture();
    let r = call(&f.router, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, OPENAPI_JSON);
    let doc = r.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));

    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            documented.insert((method.to_uppercase(), path.clone()));
            let spec = routes()
                .into_iter()
                .find(|s| s.path == path && s.method.as_str().eq_ignore_ascii_case(method));
            let Some(spec) = spec else { continue };
            let role = op["x-required-role"].as_str().expect("x-required-role");
            let responses = op["responses"].as_object().expect("responses");
            match spec.access {
                Access::Open => {
                    assert_eq!(role, "open", "{method} {path}");
                    assert_eq!(op["security"], json!([]), "{method} {path}");
                }
                Access::Role(r) => {
                    assert_eq!(role, r.as_str(), "{method} {path}");
                    assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
                    for code in ["401", "403"] {
                        assert!(responses.contains_key(code), "{method} {path} lacks {code}");
                    }
                }
            }
            // Path parameters are declared.
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                let declared = op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path"));
                assert!(declared, "{method} {path}: path parameter {name}");
            }
        }
    }
    let served: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|s| (s.method.as_str().to_string(), s.path.to_string()))
        .collect();
    assert_eq!(documented, served);

    // Every error code the server can answer is in the Error schema.
    let codes: BTreeSet<String> = doc["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let ours: BTreeSet<String> = tidewatch_server::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(codes, ours);

    // Every $ref resolves.
    let text = OPENAPI_JSON;
    for part in text.split("\"$ref\": \"#/").skip(1) {
        let target = part.split('"').next().expect("ref");
        let ptr = format!("/{target}");
        assert!(doc.pointer(&ptr).is_some(), "dangling $ref {target}");
    }
}

#[tokio::test]
async fn readiness_follows_restore_and_lag() {
    let f = fixture_with(|c| c.ready_max_lag = 100);
    let r = call(&f.router, Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "file input counts as caught up");
    f.engine.set_readiness(Readiness {
        state_restored: false,
        consumer_lag: Some(0),
    });
    let r = call(&f.router, Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    );
    assert!(f.metrics.render().contains("tidewatch_ready 0"));
    f.engine.set_readiness(Readiness {
        state_restored: true,
        consumer_lag: Some(101),
    });
    let r = call(&f.router, Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text.contains("101"), "{}", r.text);
    f.engine.set_readiness(Readiness {
        state_restored: true,
        consumer_lag: Some(100),
    });
    let r = call(&f.router, Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["consumer_lag"], 100);
    assert!(f.metrics.render().contains("tidewatch_ready 1"));
    // Liveness does not depend on readiness.
    f.engine.set_readiness(Readiness {
        state_restored: false,
        consumer_lag: None,
    });
    assert_eq!(
        call(&f.router, Method::GET, "/healthz", None, None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_are_open_and_label_requests_by_route_template() {
    let f = fixture();
    let (_, b, _) = ids();
    call(
        &f.router,
        Method::GET,
        &format!("/v1/entities/{b}"),
        Some(VIEWER),
        None,
    )
    .await;
    let r = call(&f.router, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .is_ok_and(|v| v.starts_with("text/plain; version=0.0.4")));
    assert!(r.text.contains(
        r#"tidewatch_http_requests_total{method="GET",route="/v1/entities/{uscc}",status="200"} 1"#
    ), "{}", r.text);
    assert!(!r.text.contains(b.as_str()), "a USCC leaked into metrics");
}

#[tokio::test]
async fn entity_distribution_lists_and_alerts() {
    let f = fixture();
    let (a, b, _) = ids();
    let e = call(
        &f.router,
        Method::GET,
        &format!("/v1/entities/{b}"),
        Some(VIEWER),
        None,
    )
    .await
    .json();
    assert_eq!(e["fields"][0]["class"], "D");
    assert_eq!(e["lists"][0]["list"], "serious");
    assert_eq!(e["override_applied"], "列入严重违法失信名单");
    assert!(e.get("legal_rep_key").is_none());

    let d = call(
        &f.router,
        Method::GET,
        "/v1/distribution?group_by=region",
        Some(VIEWER),
        None,
    )
    .await
    .json();
    assert_eq!(d["field"], "general");
    assert_eq!(
        d["groups"][0],
        json!({"key": "330902", "classes": {"A": 1, "B": 0, "C": 0, "D": 0}, "total": 1})
    );
    assert_eq!(
        d["groups"][1]["classes"],
        json!({"A": 0, "B": 1, "C": 0, "D": 1})
    );
    let d = call(
        &f.router,
        Method::GET,
        "/v1/distribution?field=food&region=330903&industry=F52",
        Some(VIEWER),
        None,
    )
    .await
    .json();
    assert_eq!(
        d["groups"],
        json!([{"key": null, "classes": {"A": 1, "B": 0, "C": 0, "D": 0}, "total": 1}])
    );
    let d = call(
        &f.router,
        Method::GET,
        "/v1/distribution?field=food&group_by=industry_section",
        Some(VIEWER),
        None,
    )
    .await
    .json();
    assert_eq!(d["groups"][0]["key"], "F");
    assert_eq!(d["groups"][0]["total"], 2);

    let l = call(&f.router, Method::GET, "/v1/lists", Some(VIEWER), None)
        .await
        .json();
    assert_eq!(
        l["lists"],
        json!([
            {"list": "abnormal", "entities": 0},
            {"list": "serious", "entities": 1}
        ])
    );

    // Paging through a list with a cursor.
    for (i, u) in [a, ids().2].iter().enumerate() {
        f.engine.add_to_list(
            "abnormal",
            tidewatch_server::ListEntry {
                uscc: *u,
                name: format!("e{i}"),
                region: tidewatch_model::RegionCode::parse("330902").expect("region"),
                since: "2026-07-01".into(),
                until: None,
                reason: Some("annual report not filed".into()),
                decision: None,
            },
        );
    }
    let p1 = call(
        &f.router,
        Method::GET,
        "/v1/lists/abnormal?limit=1",
        Some(VIEWER),
        None,
    )
    .await
    .json();
    assert_eq!(p1["total"], 2);
    assert_eq!(p1["items"].as_array().map(Vec::len), Some(1));
    let cursor = p1["next_cursor"].as_str().expect("cursor").to_string();
    let p2 = call(
        &f.router,
        Method::GET,
        &format!("/v1/lists/abnormal?limit=1&cursor={cursor}"),
        Some(VIEWER),
        None,
    )
    .await
    .json();
    assert_eq!(p2["items"].as_array().map(Vec::len), Some(1));
    assert_ne!(p2["items"][0]["uscc"], p1["items"][0]["uscc"]);
    assert_eq!(p2["next_cursor"], Value::Null);

    // Alert catch-up from a sequence number.
    let all = call(&f.router, Method::GET, "/v1/alerts", Some(VIEWER), None)
        .await
        .json();
    assert_eq!(all["last_seq"], 2);
    assert_eq!(all["items"][0]["seq"], 1);
    f.alerts.push(json!({"id": "al-3", "kind": "removal"}));
    let more = call(
        &f.router,
        Method::GET,
        "/v1/alerts?after=2",
        Some(VIEWER),
        None,
    )
    .await
    .json();
    assert_eq!(
        more["items"],
        json!([{"seq": 3, "alert": {"id": "al-3", "kind": "removal"}}])
    );
    let none = call(
        &f.router,
        Method::GET,
        "/v1/alerts?after=3",
        Some(VIEWER),
        None,
    )
    .await
    .json();
    assert_eq!(none["items"], json!([]));
    assert_eq!(none["last_seq"], 3);
}

#[tokio::test]
async fn draw_workflow_is_audited_and_the_chain_verifies() {
    let f = fixture();
    let (_, b, _) = ids();
    let plan = json!({"id": "2026Q4-food-dinghai", "field": "food", "legal_rep_key": "LR-secret"});
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws/preview",
        Some(PLANNER),
        Some(plan.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws",
        Some(PLANNER),
        Some(plan.clone()),
    )
    .await;
    assert_eq!(r.json()["state"], "committed");
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws",
        Some(PLANNER),
        Some(plan),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (StatusCode::CONFLICT, "conflict")
    );
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws/2026Q4-food-dinghai/run",
        Some(PLANNER),
        Some(json!({"randomness": "beacon round 123: ab12"})),
    )
    .await;
    assert_eq!(r.json()["state"], "drawn");
    let r = call(
        &f.router,
        Method::POST,
        "/v1/draws/2026Q4-food-dinghai/replace",
        Some(ADMIN),
        Some(json!({"uscc": b, "reason": "7"})),
    )
    .await;
    assert_eq!(r.json()["replacements"], 1);
    let r = call(
        &f.router,
        Method::GET,
        "/v1/draws/2026Q4-food-dinghai/verify",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(r.json()["ok"], true);
    let r = call(
        &f.router,
        Method::GET,
        "/v1/draws/2026Q4-food-dinghai",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(r.json()["state"], "drawn");

    let log = call(&f.router, Method::GET, "/v1/audit", Some(ADMIN), None)
        .await
        .json();
    let actions: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["draw.commit", "draw.run", "draw.replace"]);
    assert_eq!(log["items"][0]["actor"], "planning-desk");
    assert_eq!(log["items"][2]["actor"], "ops");
    let v = call(
        &f.router,
        Method::GET,
        "/v1/audit/verify",
        Some(ADMIN),
        None,
    )
    .await
    .json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["head"]["entries"], 3);
    let head = call(&f.router, Method::GET, "/v1/audit/head", Some(ADMIN), None)
        .await
        .json();
    assert_eq!(head, v["head"]);
    assert!(f.metrics.render().contains("tidewatch_audit_entries 3"));
    assert!(f
        .metrics
        .render()
        .contains(r#"tidewatch_draws_total{field="food"} 1"#));

    let text = std::fs::read_to_string(&f.audit_path).expect("audit file");
    assert!(
        !text.contains("LR-secret"),
        "personal data in the audit log"
    );
    assert!(!text.contains(PLANNER), "a token in the audit log");

    // Tampering with the file is reported by the verify route.
    std::fs::write(
        &f.audit_path,
        text.replacen("beacon round 123", "beacon round 124", 1),
    )
    .expect("write");
    let v = call(
        &f.router,
        Method::GET,
        "/v1/audit/verify",
        Some(ADMIN),
        None,
    )
    .await
    .json();
    assert_eq!(v["ok"], false);
    assert!(
        v["problem"].as_str().is_some_and(|p| p.contains("line 2")),
        "{v}"
    );
}
