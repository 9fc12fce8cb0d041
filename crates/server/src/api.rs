//! The router: every route with the role it needs, the handlers, and the
//! layers around them (authentication, body limit, timeout, metrics and
//! request logs).
//!
//! Routes are registered only through [`RouteTable`], which records each
//! method, path and role; `/openapi.json` is checked against that record by
//! the tests, and the role check is attached from the same entry, so the
//! documented role and the enforced one cannot drift apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tidewatch_metrics::Metrics;
use tidewatch_model::{Domain, RegionCode, Uscc};

use crate::audit::{self, action, AuditLog, AuditRecord};
use crate::config::{token_digest, Limits, ResolvedToken, Role, ServerConfig};
use crate::error::{ApiError, ErrorCode, ServiceError};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::view::{
    AlertLog, DistributionQuery, DrawRecord, DrawService, EngineView, GroupBy, PageRequest,
    Readiness, ReplaceRequest, RunRequest,
};

/// The OpenAPI 3 description served at `/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed: health, readiness, metrics, the API description.
    Open,
    /// A bearer token whose role allows this one.
    Role(Role),
}

/// One registered route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<dyn EngineView>,
    pub draws: Arc<dyn DrawService>,
    pub alerts: Arc<dyn AlertLog>,
    pub metrics: Metrics,
    pub audit: Arc<AuditLog>,
    tokens: Arc<Vec<ResolvedToken>>,
    limits: Limits,
    ready_max_lag: u64,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("tokens", &self.tokens)
            .field("limits", &self.limits)
            .field("ready_max_lag", &self.ready_max_lag)
            .finish_non_exhaustive()
    }
}

/// The services behind the API.
pub struct Services {
    pub engine: Arc<dyn EngineView>,
    pub draws: Arc<dyn DrawService>,
    pub alerts: Arc<dyn AlertLog>,
    pub metrics: Metrics,
    pub audit: Arc<AuditLog>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

impl AppState {
    /// `tokens` come from [`ServerConfig::resolve_tokens`].
    pub fn new(config: &ServerConfig, tokens: Vec<ResolvedToken>, services: Services) -> Self {
        services
            .metrics
            .audit_entries
            .set(i64::try_from(services.audit.head().entries).unwrap_or(i64::MAX));
        AppState {
            engine: services.engine,
            draws: services.draws,
            alerts: services.alerts,
            metrics: services.metrics,
            audit: services.audit,
            tokens: Arc::new(tokens),
            limits: config.limits,
            ready_max_lag: config.ready_max_lag,
        }
    }
}

/// Builds the router and the record of its routes.
struct RouteTable {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl RouteTable {
    fn add(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        let handler = match access {
            Access::Open => handler,
            Access::Role(role) => {
                handler.route_layer(middleware::from_fn_with_state(role, authorize))
            }
        };
        self.router = self.router.route(path, handler);
        self.specs.push(RouteSpec {
            method,
            path,
            access,
        });
        self
    }
}

fn table() -> RouteTable {
    use Access::{Open, Role as R};
    use Role::{Admin, Planner, Viewer};
    RouteTable {
        router: Router::new(),
        specs: Vec::new(),
    }
    .add(Method::GET, "/healthz", Open, get(healthz))
    .add(Method::GET, "/readyz", Open, get(readyz))
    .add(Method::GET, "/metrics", Open, get(metrics))
    .add(Method::GET, "/openapi.json", Open, get(openapi))
    .add(Method::GET, "/v1/whoami", R(Viewer), get(whoami))
    .add(Method::GET, "/v1/entities/{uscc}", R(Viewer), get(entity))
    .add(
        Method::GET,
        "/v1/distribution",
        R(Viewer),
        get(distribution),
    )
    .add(Method::GET, "/v1/lists", R(Viewer), get(lists))
    .add(Method::GET, "/v1/lists/{list}", R(Viewer), get(list))
    .add(Method::GET, "/v1/alerts", R(Viewer), get(alerts))
    .add(
        Method::POST,
        "/v1/draws/preview",
        R(Planner),
        post(draw_preview),
    )
    .add(Method::POST, "/v1/draws", R(Planner), post(draw_commit))
    .add(
        Method::GET,
        "/v1/draws/{plan_id}",
        R(Viewer),
        get(draw_status),
    )
    .add(
        Method::POST,
        "/v1/draws/{plan_id}/run",
        R(Planner),
        post(draw_run),
    )
    .add(
        Method::POST,
        "/v1/draws/{plan_id}/replace",
        R(Planner),
        post(draw_replace),
    )
    .add(
        Method::GET,
        "/v1/draws/{plan_id}/verify",
        R(Viewer),
        get(draw_verify),
    )
    .add(Method::GET, "/v1/audit", R(Admin), get(audit_entries))
    .add(Method::GET, "/v1/audit/head", R(Admin), get(audit_head))
    .add(Method::GET, "/v1/audit/verify", R(Admin), get(audit_verify))
}

/// Every route the API serves, with its method and role.
pub fn routes() -> Vec<RouteSpec> {
    table().specs
}

/// The configured tokens, put in each request's extensions by an outer
/// layer so the per-route role check needs no state of its own.
#[derive(Clone)]
struct Tokens(Arc<Vec<ResolvedToken>>);

/// The API as an axum router, ready for [`crate::serve`].
pub fn router(state: AppState) -> Router {
    let limits = state.limits;
    let metrics = state.metrics.clone();
    let tokens = Tokens(state.tokens.clone());
    table()
        .router
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this route does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::Extension(tokens))
        .layer(middleware::from_fn_with_state(
            Duration::from_secs(limits.request_timeout_secs),
            timeout,
        ))
        .layer(middleware::from_fn_with_state(metrics, observe))
        .with_state(state)
}

// --- middleware ---------------------------------------------------------

/// The authenticated caller, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

async fn authorize(State(needed): State<Role>, mut req: Request, next: Next) -> Response {
    let Some(Tokens(tokens)) = req.extensions().get::<Tokens>().cloned() else {
        return ApiError::new(ErrorCode::Internal, "authentication is not configured")
            .into_response();
    };
    let principal = match bearer(req.headers()) {
        None => {
            return ApiError::new(
                ErrorCode::Unauthorized,
                "missing bearer token (Authorization: Bearer <token>)",
            )
            .into_response()
        }
        Some(secret) => {
            let d = token_digest(secret);
            match tokens.iter().find(|t| t.digest == d) {
                None => {
                    return ApiError::new(ErrorCode::Unauthorized, "unknown bearer token")
                        .into_response()
                }
                Some(t) => Principal {
                    name: t.name.clone(),
                    role: t.role,
                },
            }
        }
    };
    if !principal.role.allows(needed) {
        return ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "role {} may not do this; it needs {}",
                principal.role.as_str(),
                needed.as_str()
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

fn bearer(h: &HeaderMap) -> Option<&str> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(ErrorCode::Unavailable, "request timed out").into_response(),
    }
}

/// Counts and logs each request by its route template. Only the template,
/// method, status and latency are logged: paths carry USCCs and queries
/// free text, which stay out of logs.
async fn observe(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().clone();
    let start = Instant::now();
    let resp = next.run(req).await;
    let took = start.elapsed();
    let status = resp.status().as_u16();
    metrics.http_request(&route, method.as_str(), status, took);
    tracing::info!(
        route = %route,
        method = %method,
        status,
        ms = took.as_secs_f64() * 1000.0,
        "http request"
    );
    resp
}

// --- handlers -------------------------------------------------------------

type ApiResult<T> = Result<T, ApiError>;

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Whether the engine is ready, as `/readyz` and `tidewatch_ready` say.
fn readiness(s: &AppState) -> (Readiness, bool) {
    let r = s.engine.readiness();
    let lag_ok = r.consumer_lag.is_none_or(|l| l <= s.ready_max_lag);
    let ready = r.state_restored && lag_ok;
    s.metrics.ready.set(i64::from(ready));
    (r, ready)
}

async fn readyz(State(s): State<AppState>) -> Response {
    let (r, ready) = readiness(&s);
    if ready {
        return Json(json!({
            "status": "ready",
            "state_restored": r.state_restored,
            "consumer_lag": r.consumer_lag,
            "ready_max_lag": s.ready_max_lag,
        }))
        .into_response();
    }
    let why = if !r.state_restored {
        "state is not restored yet".to_string()
    } else {
        format!(
            "consumer lag {} exceeds {}",
            r.consumer_lag.unwrap_or_default(),
            s.ready_max_lag
        )
    };
    ApiError::new(ErrorCode::NotReady, why).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    readiness(&s);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(tidewatch_metrics::CONTENT_TYPE),
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
        .into_response()
}

async fn whoami(axum::Extension(p): axum::Extension<Principal>) -> Json<Value> {
    Json(json!({"name": p.name, "role": p.role}))
}

fn parse_uscc(s: &str) -> ApiResult<Uscc> {
    Uscc::parse(s).map_err(|e| ApiError::new(ErrorCode::InvalidUscc, e.to_string()))
}

async fn entity(State(s): State<AppState>, ApiPath(uscc): ApiPath<String>) -> ApiResult<Response> {
    let u = parse_uscc(&uscc)?;
    match s.engine.entity(&u)? {
        Some(e) => Ok(Json(e).into_response()),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no entity {}", u.as_str()),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DistributionParams {
    field: Option<String>,
    region: Option<String>,
    industry: Option<String>,
    group_by: Option<String>,
}

async fn distribution(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<DistributionParams>,
) -> ApiResult<Response> {
    let bad = |m: String| ApiError::new(ErrorCode::InvalidParameter, m);
    let field = match p.field.as_deref() {
        None => Domain::General,
        Some(f) => Domain::from_code(f).ok_or_else(|| {
            bad(format!(
                "field {f:?} is not one of {}",
                Domain::ALL
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
    };
    let region = p
        .region
        .as_deref()
        .map(RegionCode::parse)
        .transpose()
        .map_err(bad)?;
    if let Some(i) = &p.industry {
        let ok = (1..=5).contains(&i.len())
            && i.starts_with(|c: char| c.is_ascii_uppercase())
            && i[1..].chars().all(|c| c.is_ascii_digit());
        if !ok {
            return Err(bad(format!(
                "industry {i:?} is not a GB/T 4754 code prefix (a section letter and up to four digits)"
            )));
        }
    }
    let group_by = match p.group_by.as_deref() {
        None => None,
        Some("region") => Some(GroupBy::Region),
        Some("industry_section") => Some(GroupBy::IndustrySection),
        Some("industry_division") => Some(GroupBy::IndustryDivision),
        Some(g) => {
            return Err(bad(format!(
                "group_by {g:?} is not one of region, industry_section, industry_division"
            )))
        }
    };
    let q = DistributionQuery {
        field,
        region,
        industry: p.industry,
        group_by,
    };
    Ok(Json(s.engine.distribution(&q)?).into_response())
}

async fn lists(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"lists": s.engine.lists()?})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageParams {
    cursor: Option<String>,
    limit: Option<usize>,
}

fn page_limit(limits: &Limits, limit: Option<usize>) -> ApiResult<usize> {
    match limit {
        None => Ok(limits.default_page_size),
        Some(n) if (1..=limits.max_page_size).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::new(
            ErrorCode::InvalidParameter,
            format!("limit {n} is out of range: 1 to {}", limits.max_page_size),
        )),
    }
}

async fn list(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Response> {
    let limit = page_limit(&s.limits, p.limit)?;
    let page = PageRequest {
        cursor: p.cursor,
        limit,
    };
    Ok(Json(s.engine.list(&name, &page)?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AfterParams {
    after: Option<u64>,
    limit: Option<usize>,
}

async fn alerts(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<AfterParams>,
) -> ApiResult<Response> {
    let limit = page_limit(&s.limits, p.limit)?;
    Ok(Json(s.alerts.after(p.after.unwrap_or(0), limit)?).into_response())
}

/// Runs a draw operation on the blocking pool (it may write files).
async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    F: FnOnce() -> Result<T, ServiceError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ServiceError::Internal(format!("draw task failed: {e}")).into()),
    }
}

fn plan_object(v: Value) -> ApiResult<Value> {
    if v.is_object() {
        Ok(v)
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidBody,
            "the plan must be a JSON object",
        ))
    }
}

/// Records a draw action in the audit log. The action has happened; if the
/// entry cannot be written the client is told, and the log says why.
async fn audit_draw(
    s: &AppState,
    who: &Principal,
    action: &'static str,
    r: &DrawRecord,
    extra: Value,
) -> ApiResult<()> {
    let rec = AuditRecord {
        actor: who.name.clone(),
        action: action.to_string(),
        subject: r.plan_id.clone(),
        detail: json!({
            "role": who.role,
            "field": r.field,
            "state": r.state,
            "plan_digest": r.plan_digest,
            "population_digest": r.population_digest,
            "population_rows": r.population_rows,
            "result_digest": r.result_digest,
            "chosen": r.chosen,
            "replacements": r.replacements,
            "request": extra,
        }),
    };
    let log = s.audit.clone();
    match tokio::task::spawn_blocking(move || log.append(rec)).await {
        Ok(Ok(e)) => {
            s.metrics
                .audit_entries
                .set(i64::try_from(e.seq).unwrap_or(i64::MAX));
            Ok(())
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, plan_id = %r.plan_id, action, "audit entry not written");
            Err(ApiError::new(
                ErrorCode::Internal,
                format!(
                    "{action} of {} was done but its audit entry could not be written",
                    r.plan_id
                ),
            ))
        }
        Err(e) => Err(ServiceError::Internal(format!("audit task failed: {e}")).into()),
    }
}

async fn draw_preview(
    State(s): State<AppState>,
    ApiJson(plan): ApiJson<Value>,
) -> ApiResult<Response> {
    let plan = plan_object(plan)?;
    let d = s.draws.clone();
    Ok(Json(blocking(move || d.preview(&plan)).await?).into_response())
}

async fn draw_commit(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiJson(plan): ApiJson<Value>,
) -> ApiResult<Response> {
    let plan = plan_object(plan)?;
    let d = s.draws.clone();
    let r = blocking(move || d.commit(&plan)).await?;
    audit_draw(&s, &who, action::DRAW_COMMIT, &r, Value::Null).await?;
    let loc = format!("/v1/draws/{}", r.plan_id);
    let mut resp = (StatusCode::CREATED, Json(r)).into_response();
    if let Ok(v) = HeaderValue::from_str(&loc) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn draw_status(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let d = s.draws.clone();
    Ok(Json(blocking(move || d.status(&id)).await?).into_response())
}

async fn draw_run(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<RunRequest>,
) -> ApiResult<Response> {
    let d = s.draws.clone();
    let extra = json!({"randomness": req.randomness});
    let r = blocking(move || d.run(&id, &req)).await?;
    s.metrics.draw_run(&r.field);
    audit_draw(&s, &who, action::DRAW_RUN, &r, extra).await?;
    Ok(Json(r).into_response())
}

async fn draw_replace(
    State(s): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ReplaceRequest>,
) -> ApiResult<Response> {
    let d = s.draws.clone();
    let extra = json!({"uscc": req.uscc, "reason": req.reason});
    let r = blocking(move || d.replace(&id, &req)).await?;
    audit_draw(&s, &who, action::DRAW_REPLACE, &r, extra).await?;
    Ok(Json(r).into_response())
}

async fn draw_verify(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let d = s.draws.clone();
    Ok(Json(blocking(move || d.verify(&id)).await?).into_response())
}

async fn audit_entries(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<AfterParams>,
) -> ApiResult<Response> {
    let limit = page_limit(&s.limits, p.limit)?;
    let path = s.audit.path().to_path_buf();
    let after = p.after.unwrap_or(0);
    let entries = blocking(move || {
        audit::read_after(&path, after, limit).map_err(|e| ServiceError::Internal(e.to_string()))
    })
    .await?;
    let head = s.audit.head();
    Ok(Json(json!({"items": entries, "last_seq": head.entries})).into_response())
}

async fn audit_head(State(s): State<AppState>) -> Json<Value> {
    Json(json!(s.audit.head()))
}

async fn audit_verify(State(s): State<AppState>) -> ApiResult<Response> {
    let path = s.audit.path().to_path_buf();
    let r = blocking(move || Ok(audit::verify(&path))).await?;
    Ok(Json(match r {
        Ok(head) => json!({"ok": true, "head": head}),
        Err(e) => json!({"ok": false, "problem": e.to_string()}),
    })
    .into_response())
}
