//! Known answers per rule of `pipelines/lists.toml`: an entity's event
//! history in, exactly the expected proposals, listings, removals,
//! withdrawals and warnings out, with their dates.

mod common;

use common::{d, eval, lines, rules, History};
use tidewatch_alerts::{evaluate, Context, FieldScore, Input, Status};
use tidewatch_model::{Class, Domain};

const AS_OF: &str = "2026-09-30";

#[test]
fn heavy_penalty_is_proposed_listed_by_decision_and_repaired_after_a_year() {
    let mut h = History::new("2018-05-01");
    let p = h.penalty("2024-03-01", "D-1", "consumer_harm", "heavy", "general");
    let l = h.credit(
        "2024-04-01",
        "serious_listed",
        r#"{"decision_no":"严失〔2024〕1号","authority":"某区局","reason":"较重行政处罚（D-1）"}"#,
    );
    // Too early: a repair within the first year does not remove.
    h.credit("2025-02-01", "credit_repaired", r#"{"document_no":"D-1"}"#);
    let r = h.credit("2025-05-01", "credit_repaired", r#"{"document_no":"D-1"}"#);
    // The authority's removal after the repair changes nothing more.
    h.credit("2025-05-10", "serious_removed", r#"{"reason":"信用修复"}"#);
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2024-03-01 proposed serious serious.heavy_penalty",
            "2024-04-01 listed serious serious.heavy_penalty",
            "2025-05-01 removed(repaired) serious serious.heavy_penalty",
        ]
    );
    let listed = &out.alerts[1];
    assert_eq!(listed.triggers, std::slice::from_ref(&p));
    assert_eq!(listed.cause_event.as_deref(), Some(l.as_str()));
    assert_eq!(listed.expires_on, Some(d("2027-04-01")));
    assert_eq!(listed.repair_from, Some(d("2025-04-01")));
    assert_eq!(listed.authority.as_deref(), Some("某区局"));
    assert_eq!(out.alerts[2].cause_event.as_deref(), Some(r.as_str()));
    assert_eq!(
        out.alerts.iter().map(|a| a.entity_seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

#[test]
fn a_new_heavier_penalty_blocks_the_repair_and_the_term_expires_at_a_later_as_of() {
    let mut h = History::new("2018-05-01");
    h.penalty("2024-03-01", "D-1", "quality_safety", "heavy", "general");
    h.credit(
        "2024-04-01",
        "serious_listed",
        r#"{"reason":"较重行政处罚（D-1）"}"#,
    );
    h.penalty("2024-09-01", "D-2", "other", "heavy", "general");
    h.credit("2025-06-01", "credit_repaired", r#"{"document_no":"D-1"}"#);
    let first = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&first.alerts),
        [
            "2024-03-01 proposed serious serious.heavy_penalty",
            "2024-04-01 listed serious serious.heavy_penalty",
        ]
    );
    // Time moves on: the three-year term ends on 2027-04-01.
    let later = eval(&h, "2027-06-30", first.state.as_ref());
    assert_eq!(
        lines(&later.alerts),
        ["2027-04-01 removed(expired) serious serious.heavy_penalty"]
    );
    assert_eq!(later.alerts[0].entity_seq, 3);
    // The same as-of again: nothing new.
    let again = eval(&h, "2027-06-30", later.state.as_ref());
    assert!(again.alerts.is_empty());
    assert_eq!(again.state, later.state);
}

#[test]
fn a_withdrawn_penalty_withdraws_its_proposal_and_flags_its_listing() {
    let mut h = History::new("2018-05-01");
    h.penalty("2024-03-01", "D-1", "false_advertising", "heavy", "general");
    let w = h.credit(
        "2024-03-20",
        "penalty_withdrawn",
        r#"{"document_no":"D-1"}"#,
    );
    h.penalty("2025-01-10", "D-2", "consumer_harm", "heavy", "general");
    h.credit("2025-02-01", "serious_listed", r#"{"reason":"D-2"}"#);
    h.credit(
        "2025-06-01",
        "penalty_withdrawn",
        r#"{"document_no":"D-2"}"#,
    );
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2024-03-01 proposed serious serious.heavy_penalty",
            "2024-03-20 withdrawn(penalty_withdrawn) serious serious.heavy_penalty",
            "2025-01-10 proposed serious serious.heavy_penalty",
            "2025-02-01 listed serious serious.heavy_penalty",
            "2025-06-01 warning(basis_withdrawn) serious serious.heavy_penalty",
        ]
    );
    assert_eq!(out.alerts[1].cause_event.as_deref(), Some(w.as_str()));
}

#[test]
fn same_violation_twice_in_three_years_warns_first_then_proposes() {
    let mut h = History::new("2018-05-01");
    let p1 = h.penalty_code(
        "2023-11-15",
        "D-1",
        "food_safety",
        "fine",
        "food",
        "食安法124",
    );
    h.penalty_code(
        "2024-02-01",
        "D-X",
        "food_safety",
        "fine",
        "food",
        "食安法125",
    );
    let early = eval(&h, "2024-06-30", None);
    assert_eq!(
        lines(&early.alerts),
        [
            "2023-11-15 warning(one_event_away) quality quality.repeat_violation",
            "2024-02-01 warning(one_event_away) quality quality.repeat_violation",
        ]
    );
    assert_eq!(early.alerts[0].triggers, std::slice::from_ref(&p1));
    assert_eq!(early.alerts[0].expires_on, Some(d("2026-11-15")));
    let p2 = h.penalty_code(
        "2025-03-01",
        "D-2",
        "food_safety",
        "fine",
        "food",
        "食安法124",
    );
    let later = eval(&h, "2025-06-30", early.state.as_ref());
    assert_eq!(
        lines(&later.alerts),
        ["2025-03-01 proposed quality quality.repeat_violation"]
    );
    assert_eq!(later.alerts[0].triggers, [p1, p2]);
    // Undecided for 180 days, the proposal lapses.
    let lapsed = eval(&h, AS_OF, later.state.as_ref());
    assert_eq!(
        lines(&lapsed.alerts),
        ["2025-08-28 withdrawn(lapsed) quality quality.repeat_violation"]
    );
}

#[test]
fn a_special_equipment_accident_is_proposed_and_listed_for_five_years() {
    let mut h = History::new("2015-01-01");
    let a = h.credit_in(
        "2025-08-19",
        "special_equipment",
        "accident",
        r#"{"severity":"general"}"#,
    );
    h.credit_in(
        "2025-09-10",
        "special_equipment",
        "quality_blacklisted",
        r#"{"decision_no":"质黑〔2025〕1号","reason":"发生特种设备事故"}"#,
    );
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2025-08-19 proposed quality quality.accident",
            "2025-09-10 listed quality quality.accident",
        ]
    );
    assert_eq!(out.alerts[0].triggers, [a]);
    assert_eq!(out.alerts[1].expires_on, Some(d("2030-09-10")));
    assert_eq!(out.alerts[1].repair_from, Some(d("2026-09-10")));
}

#[test]
fn a_revoked_licence_is_proposed_for_both_blacklists_and_each_decided_apart() {
    let mut h = History::new("2015-01-01");
    let p = h.credit_in(
        "2024-05-01",
        "food",
        "penalty",
        r#"{"document_no":"D-9","violation_category":"food_safety","violation_code":"食安法124","fine_cny":"300000.00","severity":"heavy","revoked_license":true,"criminal_referral":true}"#,
    );
    h.credit_in(
        "2024-06-01",
        "food",
        "serious_listed",
        r#"{"reason":"较重行政处罚（D-9）"}"#,
    );
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2024-05-01 proposed serious serious.heavy_penalty",
            "2024-05-01 proposed quality quality.licence_revoked",
            "2024-05-01 warning(one_event_away) quality quality.repeat_violation",
            "2024-06-01 listed serious serious.heavy_penalty",
            "2024-10-28 withdrawn(lapsed) quality quality.licence_revoked",
        ]
    );
    // One proposal per list for one penalty, whichever rules match it.
    assert!(out.alerts.iter().all(|a| a.triggers == [p.clone()]));
    // The serious listing makes the entity D by override: no class-D warning.
    let scores = [FieldScore {
        field: Domain::General,
        risk: 900,
        class: Class::D,
    }];
    let entity = h.entity();
    let with_scores = evaluate(
        &rules(),
        &Input {
            entity: &entity,
            scores: &scores,
            previous_scores: &[],
        },
        out.state.as_ref(),
        &Context {
            as_of: d(AS_OF),
            data_since: Some(d(common::DATA_SINCE)),
            previous_as_of: None,
        },
    );
    assert!(
        with_scores.alerts.is_empty(),
        "{:?}",
        lines(&with_scores.alerts)
    );
}

#[test]
fn licence_fraud_and_two_failed_samplings_are_proposed() {
    let mut h = History::new("2015-01-01");
    h.credit_in(
        "2024-02-01",
        "industrial_product",
        "penalty",
        r#"{"document_no":"D-5","violation_category":"quality_safety","violation_code":"产品质量法49","fine_cny":"50000.00","severity":"fine","licence_fraud":true}"#,
    );
    h.inspection("2025-01-10", "A", Some(("major", "industrial_product")));
    let s2 = h.inspection("2025-11-20", "A", Some(("critical", "industrial_product")));
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2024-02-01 proposed quality quality.licence_fraud",
            "2024-02-01 warning(one_event_away) quality quality.repeat_violation",
            "2024-07-30 withdrawn(lapsed) quality quality.licence_fraud",
            "2025-11-20 proposed quality quality.below_standard",
            "2026-05-19 withdrawn(lapsed) quality quality.below_standard",
        ]
    );
    assert_eq!(out.alerts[3].triggers.len(), 2);
    assert_eq!(out.alerts[3].triggers[1], s2);
}

#[test]
fn a_missing_annual_report_lists_automatically_and_filing_it_removes() {
    let mut h = History::without_reports("2022-03-01");
    h.credit(
        "2024-05-20",
        "annual_report_filed",
        r#"{"year":2023,"on_time":true}"#,
    );
    // The 2024 report is late: listed on 2025-07-14, removed when filed.
    let f = h.credit(
        "2025-09-01",
        "annual_report_filed",
        r#"{"year":2024,"on_time":false}"#,
    );
    // The listing decision record confirms the automatic listing.
    let rec = h.credit(
        "2025-07-20",
        "abnormal_listed",
        r#"{"reason":"annual_report_missing"}"#,
    );
    h.credit(
        "2025-09-05",
        "abnormal_removed",
        r#"{"reason":"补报年度报告"}"#,
    );
    h.credit(
        "2026-06-10",
        "annual_report_filed",
        r#"{"year":2025,"on_time":true}"#,
    );
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2025-07-14 listed abnormal abnormal.annual_report",
            "2025-09-01 removed(repaired) abnormal abnormal.annual_report",
        ]
    );
    assert_eq!(out.alerts[0].mode.map(|m| m.as_str()), Some("automatic"));
    assert!(out.alerts[0].triggers.is_empty());
    assert_eq!(out.alerts[1].cause_event.as_deref(), Some(f.as_str()));
    let st = out.state.expect("state");
    assert_eq!(st.entries[0].decision.as_deref(), Some(rec.as_str()));
    // The 2022 report was due before the data began: not judged.
    assert_eq!(st.entries.len(), 1);
}

#[test]
fn an_earlier_listing_decision_for_a_missing_report_is_the_listing() {
    let mut h = History::without_reports("2022-03-01");
    h.credit(
        "2024-05-20",
        "annual_report_filed",
        r#"{"year":2023,"on_time":true}"#,
    );
    h.credit(
        "2026-06-10",
        "annual_report_filed",
        r#"{"year":2025,"on_time":true}"#,
    );
    let rec = h.credit(
        "2025-07-03",
        "abnormal_listed",
        r#"{"reason":"annual_report_missing"}"#,
    );
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        ["2025-07-03 listed abnormal abnormal.annual_report"]
    );
    assert_eq!(out.alerts[0].mode.map(|m| m.as_str()), Some("decision"));
    assert_eq!(out.alerts[0].cause_event.as_deref(), Some(rec.as_str()));
}

#[test]
fn unreachable_is_proposed_listed_and_removed_as_repaired_after_a_new_address() {
    let mut h = History::new("2015-01-01");
    let i = h.inspection("2024-05-10", "6", None);
    h.credit(
        "2024-06-01",
        "abnormal_listed",
        r#"{"reason":"unreachable"}"#,
    );
    h.credit("2024-08-01", "changed", r#"{"what":"address"}"#);
    h.credit(
        "2024-08-10",
        "abnormal_removed",
        r#"{"reason":"恢复正常记载状态"}"#,
    );
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2024-05-10 proposed abnormal abnormal.unreachable",
            "2024-06-01 listed abnormal abnormal.unreachable",
            "2024-08-10 removed(repaired) abnormal abnormal.unreachable",
        ]
    );
    assert_eq!(out.alerts[1].triggers, [i]);
}

#[test]
fn ordered_disclosure_not_made_lapses_without_a_decision_and_false_disclosure_is_decided() {
    let mut h = History::new("2015-01-01");
    h.inspection("2024-05-10", "B", None);
    h.inspection("2025-03-01", "C", None);
    h.credit(
        "2025-03-20",
        "abnormal_listed",
        r#"{"reason":"false_disclosure"}"#,
    );
    h.credit("2025-12-01", "abnormal_removed", r#"{}"#);
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2024-05-10 proposed abnormal abnormal.disclosure_not_made",
            "2024-07-09 withdrawn(lapsed) abnormal abnormal.disclosure_not_made",
            "2025-03-01 proposed abnormal abnormal.false_disclosure",
            "2025-03-20 listed abnormal abnormal.false_disclosure",
            "2025-12-01 removed(decision) abnormal abnormal.false_disclosure",
        ]
    );
}

#[test]
fn three_years_on_the_abnormal_list_warns_ninety_days_before_then_proposes() {
    let mut h = History::new("2015-01-01");
    h.inspection("2022-12-20", "6", None);
    let rec = h.credit(
        "2023-01-10",
        "abnormal_listed",
        r#"{"reason":"unreachable"}"#,
    );
    h.reports_on_time(2021, 2021);
    let since = Some("2022-01-01");
    let early = common::eval_since(&h, "2025-11-01", None, since);
    assert_eq!(
        lines(&early.alerts),
        [
            "2022-12-20 proposed abnormal abnormal.unreachable",
            "2023-01-10 listed abnormal abnormal.unreachable",
            "2025-10-12 warning(approaching_term) serious serious.abnormal_3y",
        ]
    );
    assert_eq!(early.alerts[2].expires_on, Some(d("2026-01-10")));
    let late = common::eval_since(&h, "2026-02-01", early.state.as_ref(), since);
    assert_eq!(
        lines(&late.alerts),
        ["2026-01-10 proposed serious serious.abnormal_3y"]
    );
    assert!(late.alerts[0].triggers.contains(&rec));
}

#[test]
fn a_listing_no_rule_proposed_comes_from_another_authority_and_is_removed_by_decision() {
    let mut h = History::new("2015-01-01");
    let l = h.credit(
        "2024-08-28",
        "serious_listed",
        r#"{"decision_no":"严失〔2024〕2号","authority":"省局","reason":"另案"}"#,
    );
    h.credit("2025-01-15", "serious_removed", r#"{"authority":"省局"}"#);
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2024-08-28 listed serious serious.decision",
            "2025-01-15 removed(decision) serious serious.decision",
        ]
    );
    assert_eq!(out.alerts[0].cause_event.as_deref(), Some(l.as_str()));
    assert_eq!(out.alerts[0].authority.as_deref(), Some("省局"));
    assert_eq!(out.alerts[0].mode.map(|m| m.as_str()), Some("decision"));
}

#[test]
fn deregistration_withdraws_pending_proposals_and_stops_new_ones() {
    let mut h = History::new("2015-01-01");
    h.inspection("2025-05-01", "6", None);
    let dr = h.credit("2025-05-20", "deregistered", r#"{}"#);
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2025-05-01 proposed abnormal abnormal.unreachable",
            "2025-05-20 withdrawn(deregistered) abnormal abnormal.unreachable",
        ]
    );
    assert_eq!(out.alerts[1].cause_event.as_deref(), Some(dr.as_str()));
}

#[test]
fn class_d_warns_once_on_the_move_and_a_score_rise_names_the_new_events() {
    let mut h = History::new("2015-01-01");
    let first = common::eval_scores(&h, "2026-06-30", None, &[("food", 720, 'D')], &[], None);
    assert_eq!(lines(&first.alerts), ["2026-06-30 warning(class_d)"]);
    assert_eq!(first.alerts[0].rule, "warning.class_d.food");
    assert_eq!(first.alerts[0].field, Some(Domain::Food));
    // Still D at the next as-of: no second warning. The general score rose
    // by 200: a warning naming the events since the previous as-of date.
    let c = h.complaint("2026-08-01");
    let next = common::eval_scores(
        &h,
        AS_OF,
        first.state.as_ref(),
        &[("food", 760, 'D'), ("general", 500, 'C')],
        &[("food", 720, 'D'), ("general", 300, 'B')],
        Some("2026-06-30"),
    );
    assert_eq!(lines(&next.alerts), ["2026-09-30 warning(score_rise)"]);
    assert_eq!(next.alerts[0].rule, "warning.score_rise.general");
    assert_eq!(next.alerts[0].triggers, [c]);
    // A rise of exactly the threshold is not "more than" it.
    let flat = common::eval_scores(
        &h,
        AS_OF,
        None,
        &[("general", 450, 'C')],
        &[("general", 300, 'B')],
        Some("2026-06-30"),
    );
    assert!(flat.alerts.is_empty(), "{:?}", lines(&flat.alerts));
}

#[test]
fn a_late_withdrawal_dated_before_the_match_retracts_the_proposal() {
    let mut h = History::new("2015-01-01");
    h.penalty_code(
        "2024-01-10",
        "D-1",
        "quality_safety",
        "fine",
        "industrial_product",
        "质量法49",
    );
    h.penalty_code(
        "2025-01-10",
        "D-2",
        "quality_safety",
        "fine",
        "industrial_product",
        "质量法49",
    );
    let streamed = eval(&h, "2025-02-01", None);
    assert_eq!(
        lines(&streamed.alerts),
        ["2025-01-10 proposed quality quality.repeat_violation"]
    );
    // The withdrawal of D-1, dated before D-2, arrives only now.
    h.credit_in(
        "2024-12-01",
        "industrial_product",
        "penalty_withdrawn",
        r#"{"document_no":"D-1"}"#,
    );
    let after = eval(&h, "2025-02-01", streamed.state.as_ref());
    assert_eq!(
        lines(&after.alerts),
        [
            "2025-01-10 warning(one_event_away) quality quality.repeat_violation",
            "2025-02-01 withdrawn(retracted) quality quality.repeat_violation",
        ]
    );
    let st = after.state.expect("state");
    assert!(st.entries.iter().all(|e| e.status == Status::Withdrawn));
}

#[test]
fn streaming_one_event_at_a_time_ends_where_the_batch_does() {
    let mut full = History::new("2018-05-01");
    full.penalty("2024-03-01", "D-1", "food_safety", "heavy", "food");
    full.credit("2024-04-01", "serious_listed", r#"{"reason":"D-1"}"#);
    full.inspection("2024-06-01", "6", None);
    full.credit(
        "2024-07-01",
        "abnormal_listed",
        r#"{"reason":"unreachable"}"#,
    );
    full.penalty_code(
        "2024-09-01",
        "D-3",
        "food_safety",
        "fine",
        "food",
        "食安法124",
    );
    full.penalty_code(
        "2025-04-01",
        "D-4",
        "food_safety",
        "fine",
        "food",
        "食安法124",
    );
    full.credit("2025-05-01", "credit_repaired", r#"{"document_no":"D-1"}"#);
    full.inspection("2025-08-01", "B", None);
    let batch = eval(&full, AS_OF, None);

    // The same events arriving one by one, each evaluated at its own date.
    let mut events = full.events.clone();
    events.sort_by_key(|e| e.occurred_on());
    let mut part = History::empty(full.uscc);
    let mut state = None;
    let mut ids = Vec::new();
    for e in events {
        let day = e.occurred_on().to_string();
        part.events.push(e);
        let out = eval(&part, &day, state.as_ref());
        ids.extend(out.alerts.iter().map(|a| a.id.clone()));
        state = out.state;
    }
    let out = eval(&part, AS_OF, state.as_ref());
    ids.extend(out.alerts.iter().map(|a| a.id.clone()));
    let streamed = out.state.expect("state");
    let batch_state = batch.state.expect("state");
    assert_eq!(streamed.entries, batch_state.entries);
    // Same facts, same ids: the stream announced exactly the batch's
    // lifecycle alerts (its warnings were judged at more as-of dates).
    let lifecycle_ids = |ids: &mut Vec<String>, alerts: &[tidewatch_alerts::Alert]| {
        ids.retain(|id| {
            alerts
                .iter()
                .any(|a| &a.id == id && a.kind != tidewatch_alerts::AlertKind::Warning)
        });
    };
    let mut batch_ids: Vec<String> = batch.alerts.iter().map(|a| a.id.clone()).collect();
    lifecycle_ids(&mut batch_ids, &batch.alerts);
    let batch_set: std::collections::BTreeSet<_> = batch_ids.into_iter().collect();
    for id in &batch_set {
        assert!(ids.contains(id), "the stream never announced {id}");
    }
    assert!(batch_state.announced.is_subset(&streamed.announced));
    assert!(streamed.is_listed_on("abnormal"));
    assert!(!streamed.is_listed_on("serious"));
}

#[test]
fn rules_file_loads_with_every_list_and_rule() {
    let r = rules();
    assert_eq!(
        r.lists.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        ["abnormal", "quality", "serious"]
    );
    assert!(r.rules.len() >= 12);
    assert_eq!(d(AS_OF).to_string(), AS_OF);
}

#[test]
fn a_decision_names_its_penalty_even_after_the_proposal_lapsed() {
    let mut h = History::new("2015-01-01");
    let p1 = h.penalty("2024-01-10", "D-1", "consumer_harm", "heavy", "general");
    h.penalty(
        "2024-09-01",
        "D-2",
        "unfair_competition",
        "heavy",
        "general",
    );
    h.credit(
        "2024-10-01",
        "serious_listed",
        r#"{"reason":"较重行政处罚（D-1）"}"#,
    );
    // A heavier penalty no rule lists on, then a decision naming it.
    let p3 = h.penalty("2025-03-01", "D-3", "other", "heavy", "general");
    h.credit(
        "2025-04-01",
        "serious_listed",
        r#"{"reason":"另案（D-3）"}"#,
    );
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2024-01-10 proposed serious serious.heavy_penalty",
            "2024-07-08 withdrawn(lapsed) serious serious.heavy_penalty",
            "2024-09-01 proposed serious serious.heavy_penalty",
            "2024-10-01 listed serious serious.heavy_penalty",
            "2025-02-28 withdrawn(lapsed) serious serious.heavy_penalty",
            "2025-04-01 listed serious serious.decision",
        ]
    );
    assert_eq!(out.alerts[3].triggers, [p1]);
    assert_eq!(out.alerts[3].mode.map(|m| m.as_str()), Some("decision"));
    assert_eq!(out.alerts[5].triggers, [p3]);
}

#[test]
fn a_revoked_licence_without_an_aggravated_fine_and_a_criminal_referral_each_propose() {
    let mut h = History::new("2015-01-01");
    // Revoked with a plain fine: still a heavier penalty (Order No. 44).
    let p1 = h.credit_in(
        "2024-03-01",
        "general",
        "penalty",
        r#"{"document_no":"D-1","violation_category":"unfair_competition","violation_code":"反法20","fine_cny":"10000.00","severity":"fine","revoked_license":true}"#,
    );
    // Referred for criminal liability in a quality field.
    let p2 = h.credit_in(
        "2025-05-01",
        "construction",
        "penalty",
        r#"{"document_no":"D-2","violation_category":"other","violation_code":"建筑法64","fine_cny":"10000.00","severity":"fine","criminal_referral":true}"#,
    );
    h.credit_in(
        "2025-06-01",
        "construction",
        "quality_blacklisted",
        r#"{"reason":"涉嫌犯罪移送（D-2）"}"#,
    );
    let out = eval(&h, AS_OF, None);
    assert_eq!(
        lines(&out.alerts),
        [
            "2024-03-01 proposed serious serious.licence_revoked",
            "2024-08-28 withdrawn(lapsed) serious serious.licence_revoked",
            "2025-05-01 proposed quality quality.criminal_referral",
            "2025-06-01 listed quality quality.criminal_referral",
        ]
    );
    assert_eq!(out.alerts[0].triggers, [p1]);
    assert_eq!(out.alerts[3].triggers, [p2]);
    // Not food, drugs or special equipment: repair after six months.
    assert_eq!(out.alerts[3].repair_from, Some(d("2025-12-01")));
    assert_eq!(out.alerts[3].expires_on, Some(d("2030-06-01")));
}
