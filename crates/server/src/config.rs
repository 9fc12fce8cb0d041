//! The `[server]` section of the main configuration file.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8080"
//! ready_max_lag = 1000
//! audit_log = "out/audit.jsonl"
//!
//! [[server.tokens]]
//! name = "planning-desk"
//! token_env = "TIDEWATCH_TOKEN_PLANNER"
//! role = "planner"
//!
//! [server.limits]
//! max_body_bytes = 262144
//! max_page_size = 1000
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read scores, distributions, lists, alerts and draw status.
    Viewer,
    /// Everything a viewer can, plus preview, commit, run and replace draws.
    Planner,
    /// Everything, plus reading and verifying the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Planner, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Planner => "planner",
            Role::Admin => "admin",
        }
    }

    /// Whether a holder of `self` may use something that needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

/// The HTTP server's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default: exposing the API is a
    /// deliberate choice (`0.0.0.0:8080` in a container).
    pub listen: SocketAddr,
    /// Bearer tokens and their roles. With none, every protected route
    /// answers 401; health, readiness, metrics and the API description stay
    /// open.
    pub tokens: Vec<TokenConfig>,
    /// `/readyz` answers ready only while the largest consumer lag, in
    /// messages, is at most this.
    pub ready_max_lag: u64,
    /// The append-only audit log (JSON lines) of draw runs and list changes.
    pub audit_log: PathBuf,
    pub limits: Limits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            tokens: Vec::new(),
            ready_max_lag: 1000,
            audit_log: PathBuf::from("out/audit.jsonl"),
            limits: Limits::default(),
        }
    }
}

/// Request limits. Anything over them is refused with the error shape
/// (413 for bodies, 400 for page sizes), never truncated silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted (draw plans are the biggest, a few KiB).
    pub max_body_bytes: usize,
    /// Largest `limit` a paged query may ask for.
    pub max_page_size: usize,
    /// Page size when a query gives no `limit`.
    pub default_page_size: usize,
    /// A request still running after this many seconds is answered 503.
    pub request_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 256 * 1024,
            max_page_size: 1000,
            default_page_size: 100,
            request_timeout_secs: 30,
        }
    }
}

/// One configured token. Give the secret through `token_env` (the name of
/// an environment variable, as a Kubernetes Secret or compose file sets
/// it) rather than `token` in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it; written to the audit log as the actor. Defaults to
    /// `<role>-<position>`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub token_env: Option<String>,
    pub role: Role,
}

/// A token ready to check requests against: only its SHA-256 is kept, so
/// comparing does not leak the secret through timing.
#[derive(Clone, PartialEq, Eq)]
pub struct ResolvedToken {
    pub name: String,
    pub role: Role,
    pub(crate) digest: [u8; 32],
}

impl std::fmt::Debug for ResolvedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the digest: it identifies the secret.
        f.debug_struct("ResolvedToken")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish()
    }
}

impl ResolvedToken {
    pub fn new(name: impl Into<String>, role: Role, secret: &str) -> Self {
        ResolvedToken {
            name: name.into(),
            role,
            digest: token_digest(secret),
        }
    }
}

pub(crate) fn token_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Tokens shorter than this are refused: a bearer token is the only thing
/// between the network and the draw controls.
pub const MIN_TOKEN_LEN: usize = 16;

/// A configuration the server cannot start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("server.tokens[{0}]: give exactly one of `token` and `token_env`")]
    TokenSource(usize),
    #[error("server.tokens[{index}]: environment variable {var} is not set")]
    MissingEnv { index: usize, var: String },
    #[error("server.tokens[{0}]: token is shorter than {MIN_TOKEN_LEN} characters")]
    TooShort(usize),
    #[error("server.tokens[{0}]: the same token is configured twice")]
    Duplicate(usize),
    #[error("server.limits: {0}")]
    Limits(&'static str),
}

impl ServerConfig {
    /// Resolves every token, reading `token_env` variables through `env`
    /// (pass `|k| std::env::var(k).ok()`).
    pub fn resolve_tokens(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<ResolvedToken>, ConfigError> {
        let mut out: Vec<ResolvedToken> = Vec::with_capacity(self.tokens.len());
        for (i, t) in self.tokens.iter().enumerate() {
            let secret = match (&t.token, &t.token_env) {
                (Some(s), None) => s.clone(),
                (None, Some(var)) => env(var).ok_or_else(|| ConfigError::MissingEnv {
                    index: i,
                    var: var.clone(),
                })?,
                _ => return Err(ConfigError::TokenSource(i)),
            };
            let secret = secret.trim();
            if secret.chars().count() < MIN_TOKEN_LEN {
                return Err(ConfigError::TooShort(i));
            }
            let name = t
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-{}", t.role.as_str(), i + 1));
            let r = ResolvedToken::new(name, t.role, secret);
            if out.iter().any(|o| o.digest == r.digest) {
                return Err(ConfigError::Duplicate(i));
            }
            out.push(r);
        }
        Ok(out)
    }

    /// Checks the limits make sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        if l.max_body_bytes == 0 {
            return Err(ConfigError::Limits("max_body_bytes must be positive"));
        }
        if l.default_page_size == 0 || l.default_page_size > l.max_page_size {
            return Err(ConfigError::Limits(
                "default_page_size must be between 1 and max_page_size",
            ));
        }
        if l.request_timeout_secs == 0 {
            return Err(ConfigError::Limits("request_timeout_secs must be positive"));
        }
        Ok(())
    }

    /// The config keys this section accepts, for checks of deployment
    /// files against the struct.
    pub const KEYS: &'static [&'static str] =
        &["listen", "tokens", "ready_max_lag", "audit_log", "limits"];
    pub const TOKEN_KEYS: &'static [&'static str] = &["name", "token", "token_env", "role"];
    pub const LIMIT_KEYS: &'static [&'static str] = &[
        "max_body_bytes",
        "max_page_size",
        "default_page_size",
        "request_timeout_secs",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback() {
        let c: ServerConfig = toml::from_str("").expect("empty section");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn tokens_from_env_and_errors() {
        let c: ServerConfig = toml::from_str(
            r#"
            [[tokens]]
            token_env = "PLANNER"
            role = "planner"
            [[tokens]]
            name = "ops"
            token = "0123456789abcdef-admin"
            role = "admin"
            "#,
        )
        .expect("parses");
        let env = |k: &str| (k == "PLANNER").then(|| "0123456789abcdef-plan".to_string());
        let t = c.resolve_tokens(env).expect("resolves");
        assert_eq!(t[0].name, "planner-1");
        assert_eq!(t[1].role, Role::Admin);
        assert!(!format!("{t:?}").contains("admin\""));
        assert_eq!(
            c.resolve_tokens(|_| None),
            Err(ConfigError::MissingEnv {
                index: 0,
                var: "PLANNER".into()
            })
        );
        let short: ServerConfig =
            toml::from_str("[[tokens]]\ntoken = \"abc\"\nrole = \"viewer\"").expect("parses");
        assert_eq!(
            short.resolve_tokens(|_| None),
            Err(ConfigError::TooShort(0))
        );
        assert!(toml::from_str::<ServerConfig>("bogus = 1").is_err());
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.allows(Role::Planner));
        assert!(Role::Planner.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Planner));
        assert!(!Role::Planner.allows(Role::Admin));
    }
}
