//! The feature catalogue: every feature the engine computes, defined once,
//! each with its dimension of the general indicator system and a one-line
//! meaning. Scorecards, the feature table, the Parquet output and the docs
//! all read this list; nothing else names a feature.

use serde::Serialize;

/// The five dimensions of the general indicator system (SAMR 2022 opinion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// 企业基础属性
    Basic,
    /// 企业动态
    Dynamic,
    /// 监管信息
    Supervision,
    /// 关联关系
    Relations,
    /// 社会评价
    Social,
}

/// How to read a feature's integer value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A number of events or entities.
    Count,
    /// A number of days.
    Days,
    /// 0 or 1.
    Flag,
    /// Money in fen (1/100 yuan), exact; shown as yuan with two decimals.
    Fen,
    /// A category code (see the feature's meaning).
    Code,
}

/// One feature of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FeatureDef {
    #[serde(skip)]
    pub feature: Feature,
    pub name: &'static str,
    pub dimension: Dimension,
    pub unit: Unit,
    /// Whether the value can be missing (no data rather than zero).
    pub nullable: bool,
    pub meaning: &'static str,
}

/// The missing value of a nullable feature.
pub const NULL: i64 = i64::MIN;

macro_rules! features {
    ($( $variant:ident = $name:literal, $dim:ident, $unit:ident, $nullable:literal, $meaning:literal; )+) => {
        /// A feature, by position in [`FEATURES`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum Feature { $($variant),+ }

        /// The catalogue, in column order.
        pub const FEATURES: &[FeatureDef] = &[
            $(FeatureDef {
                feature: Feature::$variant,
                name: $name,
                dimension: Dimension::$dim,
                unit: Unit::$unit,
                nullable: $nullable,
                meaning: $meaning,
            }),+
        ];
    };
}

// Windows are calendar months back from the as-of date: an event counts in
// "12m" if it happened after as_of minus 12 months and on or before as_of.
features! {
    // 企业基础属性
    AgeDays = "age_days", Basic, Days, false, "days from establishment to the as-of date";
    RegisteredCapital = "registered_capital_fen", Basic, Fen, false, "registered capital after any capital changes";
    EntityKindCode = "entity_kind", Basic, Code, false, "1 enterprise (91), 2 individual business (92), 3 farmers' cooperative (93)";
    LicenceCount = "licence_count", Basic, Count, false, "licences held at registration";
    // 企业动态
    KeyChanges12m = "key_changes_12m", Dynamic, Count, false, "changes of legal representative, address or capital in 12 months";
    LegalRepChanges12m = "legal_rep_changes_12m", Dynamic, Count, false, "changes of legal representative in 12 months";
    CapitalReduced12m = "capital_reduced_12m", Dynamic, Flag, false, "registered capital reduced in 12 months";
    AnnualReportOnTime = "annual_report_on_time", Dynamic, Flag, true, "the latest annual report that is due was filed by 30 June (missing if none due yet)";
    AnnualReportsMissing3y = "annual_reports_missing_3y", Dynamic, Count, false, "annual reports of the last three due years never filed";
    Deregistered = "deregistered", Dynamic, Flag, false, "the entity has been deregistered (注销)";
    Revoked = "revoked", Dynamic, Flag, false, "the business licence has been revoked (吊销)";
    // 监管信息
    Inspections24m = "inspections_24m", Supervision, Count, false, "inspections in 24 months";
    Problems24m = "problems_24m", Supervision, Count, false, "inspections in 24 months that found a problem (result A, B, C, D, E, 6 or 8)";
    Unreachable24m = "unreachable_24m", Supervision, Count, false, "inspections in 24 months that found the entity unreachable at its address (result 6)";
    Obstructed24m = "obstructed_24m", Supervision, Count, false, "inspections in 24 months the entity seriously obstructed (result 8)";
    FailedSamplingsMinor24m = "failed_samplings_minor_24m", Supervision, Count, false, "failed product samplings of minor hazard in 24 months";
    FailedSamplingsMajor24m = "failed_samplings_major_24m", Supervision, Count, false, "failed product samplings of major hazard in 24 months";
    FailedSamplingsCritical24m = "failed_samplings_critical_24m", Supervision, Count, false, "failed product samplings of critical hazard in 24 months";
    DaysSinceInspection = "days_since_inspection", Supervision, Days, true, "days since the latest inspection (missing if never inspected)";
    Penalties36m = "penalties_36m", Supervision, Count, false, "penalties in 36 months, withdrawn ones excluded";
    HeavyPenalties36m = "heavy_penalties_36m", Supervision, Count, false, "heavier penalties (较重行政处罚) in 36 months";
    MaxFine36m = "max_fine_36m_fen", Supervision, Fen, false, "largest fine of one penalty in 36 months";
    TotalFines36m = "total_fines_36m_fen", Supervision, Fen, false, "sum of fines in 36 months";
    RepeatViolations36m = "repeat_violations_36m", Supervision, Count, false, "violation codes penalised two or more times in 36 months";
    LicenceRevoked36m = "licence_revoked_36m", Supervision, Flag, false, "a penalty in 36 months revoked a licence";
    LicenceFraud36m = "licence_fraud_36m", Supervision, Flag, false, "a penalty in 36 months found a licence obtained by fraud";
    CriminalReferral36m = "criminal_referral_36m", Supervision, Flag, false, "a case in 36 months was referred for criminal liability";
    Accidents36m = "accidents_36m", Supervision, Count, false, "special-equipment or product-safety accidents in 36 months";
    AbnormalListed = "abnormal_listed", Supervision, Flag, false, "on the abnormal-operations list (经营异常名录)";
    AbnormalDays = "abnormal_days", Supervision, Days, false, "days on the current abnormal-operations listing (0 if not listed)";
    SeriousListed = "serious_listed", Supervision, Flag, false, "on the serious-violation list (严重违法失信名单)";
    QualityBlacklisted = "quality_blacklisted", Supervision, Flag, false, "on the quality-dishonesty blacklist (质量失信黑名单)";
    // 关联关系
    RelatedEntities = "related_entities", Relations, Count, false, "other entities with the same legal representative";
    RelatedInTrouble = "related_in_trouble", Relations, Count, false, "of those, entities listed, revoked or heavily penalised in 36 months";
    // 社会评价
    Complaints12m = "complaints_12m", Social, Count, false, "complaints in 12 months";
    SubstantiatedComplaints12m = "substantiated_complaints_12m", Social, Count, false, "substantiated complaints in 12 months";
    ComplaintAmount12m = "complaint_amount_12m_fen", Social, Fen, false, "amounts involved in substantiated complaints in 12 months";
    UnresolvedComplaints12m = "unresolved_complaints_12m", Social, Count, false, "complaints in 12 months not resolved";
    CourtDishonest = "court_dishonest", Social, Flag, false, "listed by a court as a dishonest judgment debtor (失信被执行人)";
    Certifications = "certifications", Social, Count, false, "distinct certification schemes held (e.g. 品字标浙江制造, HACCP)";
    Awards36m = "awards_36m", Social, Count, false, "quality awards in 36 months";
    CreditRepairs36m = "credit_repairs_36m", Social, Count, false, "completed credit repairs in 36 months";
    // Specialized fields: the same supervision signals restricted to events of one field.
    FoodInspections24m = "food_inspections_24m", Supervision, Count, false, "food inspections in 24 months";
    FoodProblems24m = "food_problems_24m", Supervision, Count, false, "food inspections in 24 months that found a problem";
    FoodFailedSamplings24m = "food_failed_samplings_24m", Supervision, Count, false, "failed food samplings in 24 months";
    FoodPenalties36m = "food_penalties_36m", Supervision, Count, false, "food penalties in 36 months";
    FoodComplaints12m = "food_complaints_12m", Social, Count, false, "food complaints in 12 months";
    SeInspections24m = "se_inspections_24m", Supervision, Count, false, "special-equipment inspections in 24 months";
    SeProblems24m = "se_problems_24m", Supervision, Count, false, "special-equipment inspections in 24 months that found a problem";
    SeFailedSamplings24m = "se_failed_samplings_24m", Supervision, Count, false, "failed special-equipment tests in 24 months";
    SePenalties36m = "se_penalties_36m", Supervision, Count, false, "special-equipment penalties in 36 months";
    SeComplaints12m = "se_complaints_12m", Social, Count, false, "special-equipment complaints in 12 months";
    IpInspections24m = "ip_inspections_24m", Supervision, Count, false, "industrial-product inspections in 24 months";
    IpProblems24m = "ip_problems_24m", Supervision, Count, false, "industrial-product inspections in 24 months that found a problem";
    IpFailedSamplings24m = "ip_failed_samplings_24m", Supervision, Count, false, "failed industrial-product samplings in 24 months";
    IpPenalties36m = "ip_penalties_36m", Supervision, Count, false, "industrial-product penalties in 36 months";
    IpComplaints12m = "ip_complaints_12m", Social, Count, false, "industrial-product complaints in 12 months";
    CnInspections24m = "cn_inspections_24m", Supervision, Count, false, "construction inspections in 24 months";
    CnProblems24m = "cn_problems_24m", Supervision, Count, false, "construction inspections in 24 months that found a problem";
    CnFailedSamplings24m = "cn_failed_samplings_24m", Supervision, Count, false, "failed construction-material samplings in 24 months";
    CnPenalties36m = "cn_penalties_36m", Supervision, Count, false, "construction penalties in 36 months";
    CnComplaints12m = "cn_complaints_12m", Social, Count, false, "construction complaints in 12 months";
}

/// Number of features (columns).
pub const N_FEATURES: usize = FEATURES.len();

impl Feature {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn def(self) -> &'static FeatureDef {
        &FEATURES[self.index()]
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// Looks a feature up by its name.
    pub fn by_name(name: &str) -> Option<Feature> {
        // Looked up per reason text and per value shown: hashed, not scanned.
        static BY_NAME: std::sync::LazyLock<std::collections::HashMap<&'static str, Feature>> =
            std::sync::LazyLock::new(|| FEATURES.iter().map(|d| (d.name, d.feature)).collect());
        BY_NAME.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        for (i, d) in FEATURES.iter().enumerate() {
            assert_eq!(d.feature.index(), i, "{} out of order", d.name);
            assert_eq!(Feature::by_name(d.name), Some(d.feature));
        }
        let mut names: Vec<_> = FEATURES.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), N_FEATURES, "duplicate feature name");
        for dim in [
            Dimension::Basic,
            Dimension::Dynamic,
            Dimension::Supervision,
            Dimension::Relations,
            Dimension::Social,
        ] {
            assert!(FEATURES.iter().any(|d| d.dimension == dim), "{dim:?} empty");
        }
    }
}
