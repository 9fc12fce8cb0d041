//! The tidewatch HTTP API.
//!
//! - [`ServerConfig`]: the `[server]` section (listen address, tokens and
//!   roles, readiness lag, audit log path, limits).
//! - [`EngineView`], [`DrawService`], [`AlertLog`]: what the API reads and
//!   drives; the engine implements them, [`memory`] has in-memory ones.
//! - [`router`] builds the axum router from an [`AppState`]; [`serve`] runs
//!   it on a listener.
//! - [`audit`]: the hash-chained audit log of draw runs and list changes.
//!
//! Every answer is JSON; every error has the shape
//! `{"error":{"code":"…","message":"…"}}` ([`ErrorCode`]). The routes, roles
//! and error codes are described in `docs/api.md` and in the OpenAPI
//! document served at `/openapi.json`.

pub mod api;
pub mod audit;
pub mod config;
pub mod error;
pub mod extract;
pub mod memory;
pub mod view;

pub use api::{router, routes, Access, AppState, Principal, RouteSpec, Services, OPENAPI_JSON};
pub use audit::{AuditEntry, AuditError, AuditLog, AuditRecord, Head};
pub use config::{ConfigError, Limits, ResolvedToken, Role, ServerConfig, TokenConfig};
pub use error::{ApiError, ErrorBody, ErrorCode, ServiceError};
pub use view::{
    AlertLog, AlertPage, AlertRecord, ClassCounts, Distribution, DistributionGroup,
    DistributionQuery, DrawRecord, DrawService, DrawState, DrawVerification, EngineView,
    EntityScores, FieldScore, GroupBy, ListEntry, ListMembership, ListPage, ListSummary,
    PageRequest, Readiness, ReplaceRequest, RunRequest,
};

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

/// Serves the API until the process ends.
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    serve_with_shutdown(listener, router, std::future::pending()).await
}

/// Serves the API until `shutdown` completes, then finishes the requests in
/// flight.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "HTTP API listening");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
