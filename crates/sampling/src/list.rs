//! The inspection list a desk works from, and the publication (一公开),
//! rendered from a manifest and the roster. Pure: bytes out, no files.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;
use tidewatch_model::{Officer, RegionCode, Uscc};

use crate::class::Class;
use crate::draw::{Manifest, Shortfall};
use crate::population::{push_date, push_field};

/// One row of the inspection list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListEntry {
    /// 1-based position on the list.
    pub seq: u64,
    pub uscc: Uscc,
    pub name: String,
    pub region: RegionCode,
    pub region_name: String,
    pub class: Class,
    pub stratum: String,
    pub officer_ids: Vec<String>,
    pub officer_names: Vec<String>,
    pub replaces: Option<Uscc>,
    /// Why the entity has no team, or what it replaced; empty otherwise.
    pub note: String,
}

impl ListEntry {
    /// "徐勇（ZS-0001）、夏平鹏（ZS-0002）".
    pub fn officers_text(&self) -> String {
        self.officer_ids
            .iter()
            .zip(&self.officer_names)
            .map(|(id, name)| {
                if name.is_empty() {
                    id.clone()
                } else {
                    format!("{name}（{id}）")
                }
            })
            .collect::<Vec<_>>()
            .join("、")
    }

    /// "330902 定海区", or the bare code for a region this deployment does not name.
    pub fn region_text(&self) -> String {
        if self.region_name.is_empty() {
            self.region.as_str().to_string()
        } else {
            format!("{} {}", self.region.as_str(), self.region_name)
        }
    }
}

/// Column headers of the list as people read it (the spreadsheet).
pub const LIST_HEADERS_ZH: [&str; 8] = [
    "序号",
    "企业名称",
    "统一社会信用代码",
    "所属区域",
    "风险等级",
    "抽取层",
    "检查人员",
    "备注",
];

/// The list's cells in [`LIST_HEADERS_ZH`] order.
pub fn list_cells(e: &ListEntry) -> [String; 8] {
    [
        e.seq.to_string(),
        e.name.clone(),
        e.uscc.to_string(),
        e.region_text(),
        e.class.to_string(),
        e.stratum.clone(),
        if e.officer_ids.is_empty() {
            "（未配齐）".to_string()
        } else {
            e.officers_text()
        },
        e.note.clone(),
    ]
}

/// The list entries of a manifest, in list order.
pub fn list_entries(m: &Manifest, roster: &[Officer]) -> Vec<ListEntry> {
    let names: HashMap<&str, &str> = roster
        .iter()
        .map(|o| (o.officer_id.as_str(), o.name.as_str()))
        .collect();
    let shortfalls: HashMap<Uscc, &Shortfall> =
        m.unstaffed.iter().map(|u| (u.uscc, &u.shortfall)).collect();
    let reasons: HashMap<Uscc, &str> = m
        .replacements
        .iter()
        .map(|r| (r.replaced, r.reason.as_str()))
        .collect();
    m.chosen
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let note = match (shortfalls.get(&c.uscc), c.replaces) {
                (Some(s), _) => shortfall_text(s),
                (None, Some(r)) => format!(
                    "替换 {r}（{}）",
                    reasons.get(&r).copied().unwrap_or_default()
                ),
                (None, None) => String::new(),
            };
            ListEntry {
                seq: i as u64 + 1,
                uscc: c.uscc,
                name: c.name.clone(),
                region: c.region,
                region_name: c.region.name().unwrap_or_default().to_string(),
                class: c.class,
                stratum: c.stratum.clone(),
                officer_ids: c.officers.clone(),
                officer_names: c
                    .officers
                    .iter()
                    .map(|id| {
                        names
                            .get(id.as_str())
                            .copied()
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect(),
                replaces: c.replaces,
                note,
            }
        })
        .collect()
}

/// The shortfall in words, with every count, so a desk can see which rule
/// left the entity without a team.
pub fn shortfall_text(s: &Shortfall) -> String {
    format!(
        "未配齐检查人员：需要{}人，符合条件{}人（无此领域资格{}、非本单位{}、申报利害关系{}、近期检查过须回避{}、任务已满{}）",
        s.needed, s.eligible, s.not_qualified, s.other_unit, s.conflict, s.recused, s.at_capacity
    )
}

/// `list.csv`: UTF-8, `\n` line ends, a header of stable English names.
pub fn list_csv(entries: &[ListEntry]) -> Vec<u8> {
    let mut out = String::from(
        "seq,uscc,name,region,region_name,class,stratum,officer_ids,officer_names,replaces,note\n",
    );
    for e in entries {
        let fields = [
            e.seq.to_string(),
            e.uscc.to_string(),
            e.name.clone(),
            e.region.to_string(),
            e.region_name.clone(),
            e.class.to_string(),
            e.stratum.clone(),
            e.officer_ids.join(";"),
            e.officer_names.join(";"),
            e.replaces.map(|u| u.to_string()).unwrap_or_default(),
            e.note.clone(),
        ];
        push_record(&mut out, &fields);
    }
    out.into_bytes()
}

/// `list.json`: the plan's identity and digests, then the entries.
pub fn list_json(m: &Manifest, entries: &[ListEntry]) -> Vec<u8> {
    #[derive(Serialize)]
    struct List<'a> {
        plan_id: &'a str,
        field: &'a str,
        as_of: NaiveDate,
        algorithm: &'a str,
        result_digest: &'a str,
        chosen: usize,
        unstaffed: usize,
        entries: &'a [ListEntry],
    }
    let mut v = serde_json::to_vec_pretty(&List {
        plan_id: &m.plan.id,
        field: m.plan.field.as_str(),
        as_of: m.plan.as_of,
        algorithm: &m.algorithm,
        result_digest: &m.result_digest,
        chosen: entries.len(),
        unstaffed: m.unstaffed.len(),
        entries,
    })
    .expect("the list always serialises");
    v.push(b'\n');
    v
}

/// `publication.csv` for 一公开: plan, entity, officers and date. It carries
/// no risk class, stratum or score: the classification is internal.
pub fn publication_csv(m: &Manifest, entries: &[ListEntry], date: NaiveDate) -> Vec<u8> {
    let mut out = String::from("抽查计划,企业名称,统一社会信用代码,检查人员,日期\n");
    let mut day = String::new();
    push_date(&mut day, date);
    for e in entries {
        let officers = if e.officer_ids.is_empty() {
            "待确定".to_string()
        } else {
            e.officers_text()
        };
        push_record(
            &mut out,
            &[
                m.plan.id.clone(),
                e.name.clone(),
                e.uscc.to_string(),
                officers,
                day.clone(),
            ],
        );
    }
    out.into_bytes()
}

fn push_record(out: &mut String, fields: &[String]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, f);
    }
    out.push('\n');
}
