//! Code lists the events refer to: regions, functional zones, industries,
//! supervision fields, licences and the published inspection result codes.
//!
//! Each list is a closed enum or a validated newtype, so a record that names
//! a value outside the list fails to decode (`unknown_enum`) instead of being
//! carried along as a string nobody checks.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a closed, string-coded enum with serde, `as_str`, `ALL` and a
/// Chinese label, so each code list is written exactly once.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $code:literal / $label:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $variant ),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The Chinese term, for lists and reports people read.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Parses the wire code.
            pub fn from_code(s: &str) -> Option<Self> {
                match s { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum! {
    /// Supervision fields: the general model plus the specialized ones.
    Domain {
        General = "general" / "通用",
        Food = "food" / "食品",
        SpecialEquipment = "special_equipment" / "特种设备",
        IndustrialProduct = "industrial_product" / "工业产品",
        Construction = "construction" / "建设工程",
    }
}

impl Domain {
    /// The specialized fields, i.e. every domain but `general`.
    pub const SPECIALIZED: [Domain; 4] = [
        Domain::Food,
        Domain::SpecialEquipment,
        Domain::IndustrialProduct,
        Domain::Construction,
    ];
}

code_enum! {
    /// Published inspection result codes (抽查结果).
    ResultCode {
        NoProblem = "1" / "未发现问题",
        ProblemPending = "A" / "发现问题待后续处理",
        NotDisclosed = "B" / "未按规定公示应当公示的信息",
        FalseDisclosure = "C" / "公示信息隐瞒真实情况弄虚作假",
        OtherViolation = "D" / "违反其他规定",
        Corrected = "E" / "发现问题经责令已改正",
        NoActivity = "F" / "未发现开展本次抽查涉及的经营活动",
        Unreachable = "6" / "通过登记的住所(经营场所)无法联系",
        Closed = "7" / "已关闭停业或正在组织清算",
        Obstructed = "8" / "不配合检查情节严重",
        Deregistered = "9" / "注销",
        Revoked = "10" / "吊销",
        Cancelled = "11" / "撤销",
        MovedOut = "12" / "迁出",
    }
}

impl ResultCode {
    /// Whether the inspection found a problem with the entity's conduct.
    /// `E` counts: the problem was found, even though it was then corrected.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Self::ProblemPending
                | Self::NotDisclosed
                | Self::FalseDisclosure
                | Self::OtherViolation
                | Self::Corrected
                | Self::Unreachable
                | Self::Obstructed
        )
    }
}

code_enum! {
    /// How an inspection came about.
    InspectionType {
        DoubleRandom = "double_random" / "双随机抽查",
        Targeted = "targeted" / "重点检查",
        Routine = "routine" / "日常检查",
        Complaint = "complaint" / "投诉举报核查",
        ProductSampling = "product_sampling" / "产品质量抽检",
    }
}

code_enum! {
    /// Hazard of a product that failed sampling.
    Hazard {
        Minor = "minor" / "轻微",
        Major = "major" / "较重",
        Critical = "critical" / "严重",
    }
}

code_enum! {
    /// Licences that put an entity into a specialized field.
    Licence {
        FoodProduction = "food_production" / "食品生产许可",
        FoodBusiness = "food_business" / "食品经营许可",
        SpecialEquipmentUse = "special_equipment_use" / "特种设备使用登记",
        SpecialEquipmentManufacture = "special_equipment_manufacture" / "特种设备生产许可",
        IndustrialProduct = "industrial_product" / "工业产品生产许可",
        ConstructionQualification = "construction_qualification" / "建筑业企业资质",
        HazardousChemicals = "hazardous_chemicals" / "危险化学品经营许可",
    }
}

code_enum! {
    /// Legal form of a registered entity.
    EntityType {
        LimitedCompany = "limited_company" / "有限责任公司",
        JointStockCompany = "joint_stock_company" / "股份有限公司",
        SoleProprietorship = "sole_proprietorship" / "个人独资企业",
        Partnership = "partnership" / "合伙企业",
        Branch = "branch" / "分公司",
        StateOwned = "state_owned" / "全民所有制企业",
        ForeignInvested = "foreign_invested" / "外商投资企业",
        IndividualBusiness = "individual_business" / "个体工商户",
        FarmersCooperative = "farmers_cooperative" / "农民专业合作社",
    }
}

code_enum! {
    /// Channel a complaint came in on.
    Channel {
        Hotline12315 = "12315" / "12315平台",
        Hotline = "hotline" / "12345热线",
        Online = "online" / "网络",
        Letter = "letter" / "信件",
        Visit = "visit" / "来访",
        Referral = "referral" / "部门移送",
    }
}

code_enum! {
    /// Category of law a penalty was imposed under.
    ViolationCategory {
        FoodSafety = "food_safety" / "食品安全",
        DrugsCosmetics = "drugs_cosmetics" / "药品化妆品",
        QualitySafety = "quality_safety" / "产品质量安全",
        SpecialEquipment = "special_equipment" / "特种设备",
        ConsumerHarm = "consumer_harm" / "侵害消费者权益",
        UnfairCompetition = "unfair_competition" / "不正当竞争",
        FalseAdvertising = "false_advertising" / "虚假广告",
        Obstruction = "obstruction" / "拒绝阻碍检查",
        Disclosure = "disclosure" / "信息公示",
        Other = "other" / "其他",
    }
}

code_enum! {
    /// Weight of a penalty. `heavy` is 较重行政处罚 in the listing rules.
    Severity {
        Warning = "warning" / "警告",
        Fine = "fine" / "罚款",
        Heavy = "heavy" / "较重行政处罚",
    }
}

code_enum! {
    /// Grade of a special-equipment or product-safety accident (事故等级).
    AccidentSeverity {
        General = "general" / "一般事故",
        Larger = "larger" / "较大事故",
        Major = "major" / "重大事故",
        ExtraMajor = "extra_major" / "特别重大事故",
    }
}

code_enum! {
    /// What a `changed` record changed.
    ChangeKind {
        LegalRep = "legal_rep" / "法定代表人变更",
        Address = "address" / "住所变更",
        Scope = "scope" / "经营范围变更",
        Capital = "capital" / "注册资本变更",
    }
}

code_enum! {
    /// Why an entity was put on the abnormal-operations list.
    AbnormalReason {
        AnnualReportMissing = "annual_report_missing" / "未按规定报送年度报告",
        DisclosureNotMade = "disclosure_not_made" / "未在责令期限内公示信息",
        FalseDisclosure = "false_disclosure" / "公示信息隐瞒真实情况弄虚作假",
        Unreachable = "unreachable" / "通过登记的住所或者经营场所无法联系",
    }
}

/// A GB/T 2260 county-level region code (six digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode([u8; 6]);

/// Zhoushan's four county-level divisions.
pub const ZHOUSHAN_REGIONS: [(&str, &str); 4] = [
    ("330902", "定海区"),
    ("330903", "普陀区"),
    ("330921", "岱山县"),
    ("330922", "嵊泗县"),
];

/// Functional zones of the provincial platform. Not GB/T 2260 codes, so they
/// never appear inside a USCC; an entity carries one as a separate attribute.
pub const ZHOUSHAN_ZONES: [(&str, &str); 3] = [
    ("330950", "高新区"),
    ("330951", "普陀山-朱家尖"),
    ("330952", "新城"),
];

impl RegionCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
            return Err(format!("region code {s:?} is not six digits (GB/T 2260)"));
        }
        if &b[..2] == b"00" {
            return Err(format!("region code {s:?} has no province (GB/T 2260)"));
        }
        let mut out = [0u8; 6];
        out.copy_from_slice(b);
        Ok(RegionCode(out))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The Chinese name, for the regions this deployment knows.
    pub fn name(&self) -> Option<&'static str> {
        ZHOUSHAN_REGIONS
            .iter()
            .find(|(c, _)| *c == self.as_str())
            .map(|(_, n)| *n)
    }
}

/// A functional zone code (see [`ZHOUSHAN_ZONES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneCode([u8; 6]);

impl ZoneCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        match ZHOUSHAN_ZONES.iter().find(|(c, _)| *c == s) {
            Some((c, _)) => {
                let mut out = [0u8; 6];
                out.copy_from_slice(c.as_bytes());
                Ok(ZoneCode(out))
            }
            None => Err(format!(
                "zone {s:?} is not a known functional zone (one of {})",
                ZHOUSHAN_ZONES
                    .iter()
                    .map(|(c, n)| format!("{c} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn name(&self) -> &'static str {
        ZHOUSHAN_ZONES
            .iter()
            .find(|(c, _)| *c == self.as_str())
            .map(|(_, n)| *n)
            .unwrap_or("")
    }
}

/// A GB/T 4754-2017 industry class: the section letter (A–T) followed by the
/// two-digit division and optionally the group and class digits, e.g. `C1361`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndustryCode {
    bytes: [u8; 5],
    len: u8,
}

impl IndustryCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let ok = matches!(b.len(), 3..=5)
            && (b'A'..=b'T').contains(&b[0])
            && b[1..].iter().all(u8::is_ascii_digit);
        if !ok {
            return Err(format!(
                "industry code {s:?} is not a GB/T 4754 code (section letter A-T, then 2 to 4 digits, e.g. C1361)"
            ));
        }
        let mut bytes = [0u8; 5];
        bytes[..b.len()].copy_from_slice(b);
        Ok(IndustryCode {
            bytes,
            len: b.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }

    /// The section letter (门类), e.g. `C` for manufacturing.
    pub fn section(&self) -> char {
        self.bytes[0] as char
    }

    /// The two-digit division (大类), e.g. `13`.
    pub fn division(&self) -> &str {
        std::str::from_utf8(&self.bytes[1..3]).unwrap_or_default()
    }

    /// Whether this code is `prefix` or lies under it (`C13` covers `C1361`).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.as_str().starts_with(prefix)
    }
}

/// Serde for the string-coded newtypes above, whose `parse` gives the message.
macro_rules! string_newtype_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
string_newtype_serde!(RegionCode);
string_newtype_serde!(ZoneCode);
string_newtype_serde!(IndustryCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_round_trip_as_published() {
        for c in ResultCode::ALL {
            let j = serde_json::to_string(c).expect("serialise");
            assert_eq!(j, format!("\"{}\"", c.as_str()));
            let back: ResultCode = serde_json::from_str(&j).expect("deserialise");
            assert_eq!(back, *c);
        }
        assert_eq!(ResultCode::ALL.len(), 14);
        assert!(serde_json::from_str::<ResultCode>("\"5\"").is_err());
    }

    #[test]
    fn industry_codes() {
        let c = IndustryCode::parse("C1361").expect("valid");
        assert_eq!(c.section(), 'C');
        assert_eq!(c.division(), "13");
        assert!(c.starts_with("C13"));
        assert!(IndustryCode::parse("Z1234").is_err());
        assert!(IndustryCode::parse("C1").is_err());
        assert!(IndustryCode::parse("c1361").is_err());
    }

    #[test]
    fn regions_and_zones() {
        assert_eq!(
            RegionCode::parse("330902").expect("valid").name(),
            Some("定海区")
        );
        assert!(RegionCode::parse("33090").is_err());
        assert_eq!(
            ZoneCode::parse("330951").expect("known").name(),
            "普陀山-朱家尖"
        );
        assert!(ZoneCode::parse("330902").is_err());
    }
}
