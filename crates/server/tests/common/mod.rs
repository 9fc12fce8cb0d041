//! A router over in-memory services with one token per role.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tidewatch_metrics::Metrics;
use tidewatch_model::{Class, Domain, RegionCode, Uscc};
use tidewatch_server::memory::{MemoryAlerts, MemoryDraws, MemoryEngine};
use tidewatch_server::{
    router, AppState, AuditLog, EntityScores, FieldScore, ListEntry, ListMembership, Role,
    ServerConfig, Services, TokenConfig,
};
use tower::ServiceExt;

pub const VIEWER: &str = "viewer-secret-0123456789";
pub const PLANNER: &str = "planner-secret-0123456789";
pub const ADMIN: &str = "admin-secret-0123456789";
pub const BAD: &str = "not-a-configured-token-000";

pub struct Fixture {
    pub router: Router,
    pub engine: Arc<MemoryEngine>,
    pub alerts: Arc<MemoryAlerts>,
    pub metrics: Metrics,
    pub audit_path: std::path::PathBuf,
    pub config: ServerConfig,
    _dir: tempfile::TempDir,
}

pub fn uscc(body: &str) -> Uscc {
    Uscc::from_body(body).expect("valid USCC body")
}

pub fn entity(
    u: &Uscc,
    region: &str,
    industry: &str,
    general: Class,
    food: Option<Class>,
) -> EntityScores {
    let mut fields = vec![FieldScore {
        field: Domain::General,
        risk_score: 100 + general.index() as u32 * 200,
        model_class: general,
        class: general,
        reasons: vec!["近12个月查实投诉举报：1（+30分）".into()],
        model_version: "sha256:decbc70fcb359758".into(),
    }];
    if let Some(c) = food {
        fields.push(FieldScore {
            field: Domain::Food,
            risk_score: 120,
            model_class: c,
            class: c,
            reasons: vec![],
            model_version: "sha256:18911bd698292b50".into(),
        });
    }
    EntityScores {
        uscc: *u,
        name: format!("测试企业{}", &u.as_str()[10..14]),
        region: RegionCode::parse(region).expect("region"),
        zone: None,
        industry: industry.into(),
        as_of: "2026-09-30".into(),
        fields,
        override_applied: None,
        lists: vec![],
    }
}

/// Three entities in two regions; one on the serious-violation list; two
/// alerts.
pub fn fixture() -> Fixture {
    fixture_with(|_| {})
}

pub fn fixture_with(tweak: impl FnOnce(&mut ServerConfig)) -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let mut config = ServerConfig {
        tokens: vec![
            TokenConfig {
                name: Some("dashboard".into()),
                token: Some(VIEWER.into()),
                token_env: None,
                role: Role::Viewer,
            },
            TokenConfig {
                name: Some("planning-desk".into()),
                token: None,
                token_env: Some("TEST_PLANNER_TOKEN".into()),
                role: Role::Planner,
            },
            TokenConfig {
                name: Some("ops".into()),
                token: Some(ADMIN.into()),
                token_env: None,
                role: Role::Admin,
            },
        ],
        audit_log: dir.path().join("audit.jsonl"),
        ..ServerConfig::default()
    };
    tweak(&mut config);
    let tokens = config
        .resolve_tokens(|k| (k == "TEST_PLANNER_TOKEN").then(|| PLANNER.to_string()))
        .expect("tokens");

    let engine = Arc::new(MemoryEngine::new("2026-09-30"));
    let (a, b, c) = ids();
    engine.upsert_entity(entity(&a, "330902", "F5224", Class::A, Some(Class::B)));
    let mut eb = entity(&b, "330903", "C1361", Class::D, None);
    eb.lists.push(ListMembership {
        list: "serious".into(),
        since: "2026-03-01".into(),
        until: Some("2029-03-01".into()),
        decision: Some("舟市监严〔2026〕1号".into()),
    });
    eb.override_applied = Some("列入严重违法失信名单".into());
    engine.upsert_entity(eb);
    engine.upsert_entity(entity(&c, "330903", "F5224", Class::B, Some(Class::A)));
    engine.declare_list("abnormal");
    engine.add_to_list(
        "serious",
        ListEntry {
            uscc: b,
            name: "测试企业B".into(),
            region: RegionCode::parse("330903").expect("region"),
            since: "2026-03-01".into(),
            until: Some("2029-03-01".into()),
            reason: Some("food_safety 较重行政处罚".into()),
            decision: Some("舟市监严〔2026〕1号".into()),
        },
    );

    let alerts = Arc::new(MemoryAlerts::new());
    alerts.push(json!({"id": "al-1", "kind": "listing", "list": "serious", "uscc": b}));
    alerts.push(json!({"id": "al-2", "kind": "early_warning", "list": "quality", "uscc": a}));

    let metrics = Metrics::new();
    let audit = Arc::new(AuditLog::open(&config.audit_log).expect("audit log"));
    let state = AppState::new(
        &config,
        tokens,
        Services {
            engine: engine.clone(),
            draws: Arc::new(MemoryDraws::new(3)),
            alerts: alerts.clone(),
            metrics: metrics.clone(),
            audit,
        },
    );
    Fixture {
        router: router(state),
        engine,
        alerts,
        metrics,
        audit_path: config.audit_log.clone(),
        config,
        _dir: dir,
    }
}

/// Three entities: A in 330902 (general A, food B), B in 330903 (general
/// D, on the serious-violation list), C in 330903 (general B, food A).
pub fn ids() -> (Uscc, Uscc, Uscc) {
    (
        uscc("91330902MA2A00010"),
        uscc("91330903MA2B00020"),
        uscc("92330903MA2C00030"),
    )
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts the documented error shape and returns the code.
    pub fn error_code(&self) -> String {
        let v = self.json();
        let obj = v.as_object().expect("object");
        assert_eq!(obj.len(), 1, "only `error` at the top: {v}");
        let e = obj["error"].as_object().expect("error object");
        assert_eq!(e.len(), 2, "error has code and message only: {v}");
        assert!(
            !e["message"].as_str().expect("message string").is_empty(),
            "{v}"
        );
        e["code"].as_str().expect("code string").to_string()
    }
}

pub async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string())),
        None => b.body(Body::empty()),
    }
    .expect("request");
    send(router, req).await
}

pub async fn send(router: &Router, req: Request<Body>) -> Answer {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}
