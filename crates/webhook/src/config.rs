//! Webhook targets as configuration: `[[webhooks]]` tables.
//!
//! [`WebhookTarget`] is the serde struct the main configuration file embeds;
//! [`load_targets`] reads a file of `[[webhooks]]` tables on its own (for
//! `tidewatch alerts deliver --webhooks FILE`). Secrets may be written as
//! `env:NAME` to read them from the environment, which keeps them out of
//! files under version control.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::WebhookError;

fn default_timeout_ms() -> u64 {
    5_000
}
fn default_max_attempts() -> u32 {
    5
}
fn default_backoff_initial_ms() -> u64 {
    500
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_retry_parked_ms() -> u64 {
    300_000
}

/// One receiver of alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    /// Names the target in logs and its delivery state directory: lower-case
    /// letters, digits, `-` and `_`.
    pub name: String,
    /// `http://` or `https://` URL the alerts are POSTed to.
    pub url: String,
    /// One secret, or two while rotating: each signs the body (one `v1=`
    /// per secret). `env:NAME` reads the secret from the environment.
    pub secrets: Vec<String>,
    /// Time allowed for one request, connection included.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts per alert before it is parked in the dead-letter store.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Back-off before the second attempt; doubled each time, with jitter.
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// Longest back-off between two attempts.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// How long parked alerts wait before they are tried again.
    #[serde(default = "default_retry_parked_ms")]
    pub retry_parked_ms: u64,
}

impl WebhookTarget {
    /// A target with the default timings.
    pub fn new(name: &str, url: &str, secrets: &[&str]) -> WebhookTarget {
        WebhookTarget {
            name: name.to_owned(),
            url: url.to_owned(),
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
            timeout_ms: default_timeout_ms(),
            max_attempts: default_max_attempts(),
            backoff_initial_ms: default_backoff_initial_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            retry_parked_ms: default_retry_parked_ms(),
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Checks the settings; the message names the target and the problem.
    pub fn validate(&self) -> Result<(), String> {
        let n = &self.name;
        let ok = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            return Err(format!(
                "webhook name {n:?} must be lower-case letters, digits, '-' and '_' (it names a directory)"
            ));
        }
        match reqwest::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => {
                return Err(format!(
                    "webhook {n:?}: url {:?} must be http:// or https:// with a host",
                    self.url
                ))
            }
            Err(e) => return Err(format!("webhook {n:?}: url {:?}: {e}", self.url)),
        }
        if !(1..=2).contains(&self.secrets.len()) {
            return Err(format!(
                "webhook {n:?}: give one secret, or two while rotating (got {})",
                self.secrets.len()
            ));
        }
        if self.secrets.iter().any(|s| s.is_empty() || s == "env:") {
            return Err(format!("webhook {n:?}: a secret is empty"));
        }
        if self.timeout_ms == 0 || self.max_attempts == 0 || self.retry_parked_ms == 0 {
            return Err(format!(
                "webhook {n:?}: timeout_ms, max_attempts and retry_parked_ms must be at least 1"
            ));
        }
        if self.backoff_initial_ms > self.backoff_max_ms {
            return Err(format!(
                "webhook {n:?}: backoff_initial_ms ({}) is above backoff_max_ms ({})",
                self.backoff_initial_ms, self.backoff_max_ms
            ));
        }
        Ok(())
    }

    /// The secrets in force, `env:NAME` read from the environment.
    pub fn resolve_secrets(&self) -> Result<Vec<Vec<u8>>, String> {
        self.secrets
            .iter()
            .map(|s| match s.strip_prefix("env:") {
                Some(var) => match std::env::var(var) {
                    Ok(v) if !v.is_empty() => Ok(v.into_bytes()),
                    _ => Err(format!(
                        "webhook {:?}: secret env:{var} is not set in the environment",
                        self.name
                    )),
                },
                None => Ok(s.clone().into_bytes()),
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
struct RawFile {
    #[serde(default)]
    webhooks: Vec<Spanned<WebhookTarget>>,
}

/// Reads `[[webhooks]]` tables from a TOML file (other tables are left to
/// whoever owns them) and checks each target.
pub fn load_targets(path: &Path) -> Result<Vec<WebhookTarget>, WebhookError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| WebhookError::Config {
        file: file.clone(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse_targets(&text, &file)
}

/// Parses `[[webhooks]]` tables; `file` names the text in errors.
pub fn parse_targets(text: &str, file: &str) -> Result<Vec<WebhookTarget>, WebhookError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let raw: RawFile = toml::from_str(text).map_err(|e| WebhookError::Config {
        file: file.to_owned(),
        line: e.span().map_or(0, |s| line_of(s.start)),
        message: e.message().trim().to_owned(),
    })?;
    let mut out: Vec<WebhookTarget> = Vec::new();
    for t in raw.webhooks {
        let line = line_of(t.span().start);
        let t = t.into_inner();
        let fail = |message: String| WebhookError::Config {
            file: file.to_owned(),
            line,
            message,
        };
        t.validate().map_err(fail)?;
        if out.iter().any(|o| o.name == t.name) {
            return Err(fail(format!("webhook {:?} is defined twice", t.name)));
        }
        out.push(t);
    }
    if out.is_empty() {
        return Err(WebhookError::Config {
            file: file.to_owned(),
            line: 0,
            message: "no [[webhooks]] target".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_load_with_defaults_and_errors_name_the_line() {
        let text = r#"
[[webhooks]]
name = "joint-punishment"
url = "https://example.org/hooks/tidewatch"
secrets = ["s1", "s2"]
timeout_ms = 2000

[[webhooks]]
name = "licensing"
url = "http://127.0.0.1:9000/in"
secrets = ["env:LICENSING_HOOK_SECRET"]
"#;
        let t = parse_targets(text, "w.toml").expect("valid");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].timeout_ms, 2000);
        assert_eq!(t[1].max_attempts, 5);
        let bad = text.replace(
            "secrets = [\"s1\", \"s2\"]",
            "secrets = [\"a\", \"b\", \"c\"]",
        );
        let e = parse_targets(&bad, "w.toml").expect_err("three secrets");
        assert!(e.to_string().starts_with("w.toml:2: "), "{e}");
        assert!(e.to_string().contains("two while rotating"), "{e}");
        let bad = text.replace("http://127", "ftp://127");
        let e = parse_targets(&bad, "w.toml").expect_err("scheme");
        assert!(e.to_string().starts_with("w.toml:8: "), "{e}");
        let bad = text.replace("timeout_ms", "timeout");
        let e = parse_targets(&bad, "w.toml").expect_err("unknown key");
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e = t[1].resolve_secrets().expect_err("unset");
        assert!(e.contains("LICENSING_HOOK_SECRET"), "{e}");
    }
}
