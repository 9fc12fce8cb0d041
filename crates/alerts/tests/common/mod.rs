//! Helpers for the rule tests: event histories written tersely, the
//! committed rules, and alerts summarised as one line each.

#![allow(dead_code)]

use std::path::PathBuf;

use chrono::NaiveDate;
use tidewatch_alerts::{
    evaluate, evaluate_changed, Alert, Context, EntityLists, Evaluated, FieldScore, Input, Rules,
};
use tidewatch_model::event::{Complaint, CreditRecord, Inspection};
use tidewatch_model::{Class, Domain, Event, Uscc};
use tidewatch_state::Entity;

pub mod schema;

/// The first day of the tests' event data.
pub const DATA_SINCE: &str = "2023-10-01";

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn rules() -> Rules {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/lists.toml");
    Rules::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// One entity's history.
#[derive(Debug, Clone)]
pub struct History {
    pub uscc: Uscc,
    pub events: Vec<Event>,
    n: usize,
}

impl History {
    /// A registered entity established on `established`, which filed every
    /// annual report from 2022 on by 20 May.
    pub fn new(established: &str) -> History {
        let mut h = History::without_reports(established);
        let first = d(established).format("%Y").to_string();
        let first: i32 = first.parse().unwrap_or(2022);
        h.reports_on_time(first.max(2022), 2025);
        h
    }

    /// A registered entity that filed no annual report.
    pub fn without_reports(established: &str) -> History {
        let mut h =
            History::empty(Uscc::parse("91330921X6KYML9C3L").unwrap_or_else(|e| panic!("{e}")));
        h.credit(
            established,
            "registered",
            &format!(
                r#"{{"name":"舟山测试有限公司","region_code":"330921","industry_code":"C1361","entity_type":"limited_company","registered_capital_cny":"1000000.00","established_on":"{established}","legal_rep_key":"LR-1","licences":["food_production"]}}"#
            ),
        );
        h
    }

    pub fn empty(uscc: Uscc) -> History {
        History {
            uscc,
            events: Vec::new(),
            n: 0,
        }
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("{prefix}-{:04}", self.n)
    }

    pub fn credit_in(&mut self, date: &str, domain: &str, kind: &str, payload: &str) -> String {
        let id = self.next_id("cred");
        let json = format!(
            r#"{{"event_id":"{id}","uscc":"{}","occurred_on":"{date}","domain":"{domain}","kind":"{kind}","payload":{payload}}}"#,
            self.uscc.as_str()
        );
        let c: CreditRecord = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        self.events.push(Event::Credit(c));
        id
    }

    pub fn credit(&mut self, date: &str, kind: &str, payload: &str) -> String {
        self.credit_in(date, "general", kind, payload)
    }

    pub fn penalty(
        &mut self,
        date: &str,
        doc: &str,
        category: &str,
        severity: &str,
        domain: &str,
    ) -> String {
        let code = format!("provision-{doc}");
        self.penalty_code(date, doc, category, severity, domain, &code)
    }

    pub fn penalty_code(
        &mut self,
        date: &str,
        doc: &str,
        category: &str,
        severity: &str,
        domain: &str,
        code: &str,
    ) -> String {
        let fine = if severity == "warning" {
            "0.00"
        } else {
            "20000.00"
        };
        self.credit_in(
            date,
            domain,
            "penalty",
            &format!(
                r#"{{"document_no":"{doc}","violation_category":"{category}","violation_code":"{code}","fine_cny":"{fine}","severity":"{severity}"}}"#
            ),
        )
    }

    /// An inspection with a result code; with `(hazard, domain)` a failed
    /// product sampling.
    pub fn inspection(&mut self, date: &str, result: &str, failed: Option<(&str, &str)>) -> String {
        let id = self.next_id("insp");
        let (domain, sampling, itype) = match failed {
            Some((hazard, domain)) => (
                domain,
                format!(r#","sampling":{{"product":"样品","passed":false,"hazard":"{hazard}"}}"#),
                "product_sampling",
            ),
            None => ("general", String::new(), "double_random"),
        };
        let json = format!(
            r#"{{"event_id":"{id}","uscc":"{}","occurred_on":"{date}","domain":"{domain}","inspection_type":"{itype}","result":"{result}"{sampling}}}"#,
            self.uscc.as_str()
        );
        let i: Inspection = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        self.events.push(Event::Inspection(i));
        id
    }

    pub fn complaint(&mut self, date: &str) -> String {
        let id = self.next_id("cmp");
        let json = format!(
            r#"{{"event_id":"{id}","uscc":"{}","occurred_on":"{date}","domain":"general","channel":"12315","category":"quality","substantiated":true,"resolved":false}}"#,
            self.uscc.as_str()
        );
        let c: Complaint = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        self.events.push(Event::Complaint(c));
        id
    }

    /// Annual reports on years `from..=to`, each filed on 20 May of the next year.
    pub fn reports_on_time(&mut self, from: i32, to: i32) {
        for y in from..=to {
            self.credit(
                &format!("{}-05-20", y + 1),
                "annual_report_filed",
                &format!(r#"{{"year":{y},"on_time":true}}"#),
            );
        }
    }

    pub fn entity(&self) -> Entity {
        Entity::new(self.uscc, self.events.clone())
    }
}

pub fn eval(h: &History, as_of: &str, prev: Option<&EntityLists>) -> Evaluated {
    eval_since(h, as_of, prev, Some(DATA_SINCE))
}

pub fn eval_since(
    h: &History,
    as_of: &str,
    prev: Option<&EntityLists>,
    since: Option<&str>,
) -> Evaluated {
    without_scores(h, as_of, since, |r, i, c| evaluate(r, i, prev, c))
}

/// [`evaluate_changed`] as [`eval`] calls `evaluate`.
pub fn eval_changed(h: &History, as_of: &str, prev: Option<&EntityLists>) -> Option<Evaluated> {
    without_scores(h, as_of, Some(DATA_SINCE), |r, i, c| {
        evaluate_changed(r, i, prev, c)
    })
}

/// Calls `f` with the committed rules, the history as an input without
/// scores, and a first evaluation's context at `as_of`.
fn without_scores<T>(
    h: &History,
    as_of: &str,
    since: Option<&str>,
    f: impl FnOnce(&Rules, &Input<'_>, &Context) -> T,
) -> T {
    let e = h.entity();
    f(
        &rules(),
        &Input {
            entity: &e,
            scores: &[],
            previous_scores: &[],
        },
        &Context {
            as_of: d(as_of),
            data_since: since.map(d),
            previous_as_of: None,
        },
    )
}

fn scores(s: &[(&str, i64, char)]) -> Vec<FieldScore> {
    s.iter()
        .map(|(f, risk, c)| FieldScore {
            field: Domain::from_code(f).unwrap_or_else(|| panic!("field {f}")),
            risk: *risk,
            class: Class::parse(&c.to_string()).unwrap_or_else(|e| panic!("{e}")),
        })
        .collect()
}

pub fn eval_scores(
    h: &History,
    as_of: &str,
    prev: Option<&EntityLists>,
    now: &[(&str, i64, char)],
    before: &[(&str, i64, char)],
    previous_as_of: Option<&str>,
) -> Evaluated {
    let e = h.entity();
    let now = scores(now);
    let before = scores(before);
    evaluate(
        &rules(),
        &Input {
            entity: &e,
            scores: &now,
            previous_scores: &before,
        },
        prev,
        &Context {
            as_of: d(as_of),
            data_since: Some(d(DATA_SINCE)),
            previous_as_of: previous_as_of.map(d),
        },
    )
}

/// `2024-03-01 proposed serious serious.heavy_penalty`, or
/// `2026-06-30 warning(class_d)` for a warning about no list.
pub fn lines(alerts: &[Alert]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            let kind = match a.cause {
                Some(c) => format!("{}({c})", a.kind),
                None => a.kind.to_string(),
            };
            match &a.list {
                Some(l) => format!("{} {kind} {l} {}", a.effective_on, a.rule),
                None => format!("{} {kind}", a.effective_on),
            }
        })
        .collect()
}
