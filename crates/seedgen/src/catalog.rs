//! Static reference tables: the Zhoushan industry mix with GB/T 4754-2017
//! class codes, name parts, towns, products, complaint categories and the
//! provisions penalties cite.

use tidewatch_model::codes::{Licence, ViolationCategory};
use tidewatch_model::Domain;

/// Which certifications and awards an industry's good firms collect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CertProfile {
    None,
    SeafoodProcessing,
    ColdChain,
    Manufacturing,
    Construction,
    Catering,
}

/// One industry as it appears in Zhoushan.
#[derive(Debug)]
pub(crate) struct Sector {
    /// GB/T 4754-2017 class code.
    pub code: &'static str,
    /// Relative weight among enterprises, individual businesses, cooperatives.
    pub w: [f64; 3],
    /// Multiplier per region (定海, 普陀, 岱山, 嵊泗).
    pub rw: [f64; 4],
    /// Business words for enterprise names (…水产品有限公司).
    pub ent: &'static [&'static str],
    /// Shop words for individual businesses (…海鲜排档).
    pub ib: &'static [&'static str],
    /// Words for cooperatives (…海水养殖专业合作社).
    pub coop: &'static [&'static str],
    /// Licences and the share of the industry's entities holding each.
    pub lic: &'static [(Licence, f64)],
    /// The field the industry belongs to even without a licence.
    pub primary: Domain,
    /// Complaints per year for an average entity.
    pub complaints: f64,
    /// Complaint categories with weights.
    pub cats: &'static [(&'static str, f64)],
    /// Tourist trade: seasonal complaints, more in 普陀山-朱家尖.
    pub tourism: bool,
    /// Products taken in product sampling, with the sampling rate per year.
    pub products: &'static [&'static str],
    pub sampling: f64,
    pub sampling_domain: Domain,
    /// Shift of log10 registered capital against an average enterprise.
    pub cap: f64,
    pub cert: CertProfile,
}

use Licence::*;

const NO_LIC: &[(Licence, f64)] = &[];

pub(crate) const CATS_FOOD_SERVICE: &[(&str, f64)] = &[
    ("food_safety", 0.35),
    ("price", 0.2),
    ("service", 0.3),
    ("quality", 0.1),
    ("advertising", 0.05),
];
pub(crate) const CATS_RETAIL: &[(&str, f64)] = &[
    ("quality", 0.35),
    ("price", 0.25),
    ("food_safety", 0.2),
    ("service", 0.1),
    ("advertising", 0.1),
];
const CATS_GENERAL_RETAIL: &[(&str, f64)] = &[
    ("quality", 0.45),
    ("price", 0.2),
    ("service", 0.15),
    ("contract", 0.05),
    ("advertising", 0.15),
];
const CATS_LODGING: &[(&str, f64)] = &[
    ("service", 0.4),
    ("price", 0.25),
    ("contract", 0.2),
    ("food_safety", 0.05),
    ("advertising", 0.1),
];
const CATS_TRAVEL: &[(&str, f64)] = &[
    ("contract", 0.45),
    ("service", 0.25),
    ("price", 0.15),
    ("advertising", 0.15),
];
const CATS_CONSTRUCTION: &[(&str, f64)] = &[("contract", 0.5), ("quality", 0.4), ("service", 0.1)];
const CATS_FUEL: &[(&str, f64)] = &[("quality", 0.4), ("price", 0.3), ("service", 0.3)];
const CATS_GENERAL: &[(&str, f64)] = &[
    ("quality", 0.4),
    ("contract", 0.3),
    ("service", 0.2),
    ("price", 0.1),
];

const SEAFOOD_FROZEN: &[&str] = &[
    "冷冻带鱼",
    "冷冻小黄鱼",
    "冷冻鱿鱼",
    "冷冻梭子蟹",
    "冻虾仁",
    "冷冻鲳鱼",
    "冷冻马鲛鱼",
    "冷冻鱼糜",
];
const SEAFOOD_DRIED: &[&str] = &[
    "鱼丸",
    "烤鱼片",
    "鱿鱼丝",
    "虾皮",
    "淡菜干",
    "黄鱼鲞",
    "鳗鲞",
    "墨鱼干",
    "即食海蜇",
    "紫菜",
];
const SEAFOOD_FRESH: &[&str] = &[
    "鲜活对虾",
    "梭子蟹",
    "带鱼",
    "贻贝",
    "花蛤",
    "虾皮",
    "鱿鱼丝",
];
const RETAIL_FOOD: &[&str] = &[
    "大米",
    "食用植物油",
    "酱油",
    "挂面",
    "饼干",
    "饮料",
    "白酒",
    "黄酒",
    "糕点",
    "鸡蛋",
    "猪肉",
    "蔬菜",
];
const CATERING: &[&str] = &["复用餐饮具", "油炸用油", "自制饮品", "凉拌菜", "醉蟹"];
const CLOTHING: &[&str] = &["针织服装", "儿童服装", "羽绒服装", "休闲鞋"];
const COSMETICS: &[&str] = &["面霜", "洗发水", "防晒霜", "染发剂"];
const SHIP_PARTS: &[&str] = &["船用电缆", "钢丝绳", "船用涂料", "救生衣", "船用阀门"];
const PETRO: &[&str] = &["车用柴油", "车用汽油", "船用燃料油", "普通柴油", "溶剂油"];
const CHEM: &[&str] = &["对二甲苯", "甲醇", "纯苯", "工业用乙二醇"];
const FUEL: &[&str] = &["车用汽油", "车用柴油"];
const LPG: &[&str] = &["液化石油气", "液化石油气钢瓶"];
const NONE: &[&str] = &[];

macro_rules! sector {
    ($code:literal, $w:expr, $rw:expr, $ent:expr, $ib:expr, $coop:expr, $lic:expr, $primary:expr,
     $compl:expr, $cats:expr, $tour:expr, $prod:expr, $samp:expr, $sdom:expr, $cap:expr, $cert:expr) => {
        Sector {
            code: $code,
            w: $w,
            rw: $rw,
            ent: $ent,
            ib: $ib,
            coop: $coop,
            lic: $lic,
            primary: $primary,
            complaints: $compl,
            cats: $cats,
            tourism: $tour,
            products: $prod,
            sampling: $samp,
            sampling_domain: $sdom,
            cap: $cap,
            cert: $cert,
        }
    };
}

use CertProfile as CP;
use Domain as D;

const FLAT: [f64; 4] = [1.0, 1.0, 1.0, 1.0];

/// The industry mix. Class codes are GB/T 4754-2017.
#[rustfmt::skip]
pub(crate) static SECTORS: &[Sector] = &[
    // Seafood processing: the backbone of Zhoushan's manufacturing.
    sector!("C1361", [6.0, 0.3, 0.0], [1.0, 1.3, 1.2, 0.8],
        &["水产品", "水产食品", "海洋食品", "冷冻食品", "水产"], &["水产品加工厂", "冷冻加工厂"], &[],
        &[(FoodProduction, 0.95), (SpecialEquipmentUse, 0.6)], D::Food,
        0.04, CATS_RETAIL, false, SEAFOOD_FROZEN, 0.35, D::Food, 0.2, CP::SeafoodProcessing),
    sector!("C1362", [4.0, 2.0, 0.0], [1.0, 1.3, 1.2, 1.2],
        &["海产品", "食品", "水产品", "鱼制品"], &["海产品加工坊", "鱼鲞加工场", "海味坊"], &[],
        &[(FoodProduction, 0.85)], D::Food,
        0.05, CATS_RETAIL, false, SEAFOOD_DRIED, 0.4, D::Food, 0.0, CP::SeafoodProcessing),
    sector!("C1369", [2.0, 0.5, 0.0], FLAT,
        &["海洋生物", "海藻", "水产"], &["海产品加工坊"], &[],
        &[(FoodProduction, 0.8)], D::Food,
        0.03, CATS_RETAIL, false, SEAFOOD_DRIED, 0.3, D::Food, 0.1, CP::SeafoodProcessing),
    // Fishing and aquaculture: many cooperatives.
    sector!("A0411", [2.0, 1.5, 35.0], [1.0, 1.1, 1.0, 1.6],
        &["海水养殖", "水产养殖", "海洋牧场"], &["养殖场"], &["海水养殖专业合作社", "贻贝养殖专业合作社", "水产专业合作社"],
        NO_LIC, D::General, 0.01, CATS_GENERAL, false, NONE, 0.0, D::General, 0.0, CP::None),
    sector!("A0421", [4.0, 3.0, 25.0], [0.9, 1.4, 1.1, 1.2],
        &["远洋渔业", "海洋渔业", "渔业"], &["捕捞渔船", "渔业捕捞"], &["渔业专业合作社", "捕捞专业合作社"],
        NO_LIC, D::General, 0.01, CATS_GENERAL, false, NONE, 0.0, D::General, 0.4, CP::None),
    sector!("A0141", [0.3, 0.5, 15.0], [1.5, 1.0, 1.0, 0.5],
        &["农业开发"], &["蔬菜种植场"], &["蔬菜专业合作社", "果蔬专业合作社"],
        NO_LIC, D::General, 0.01, CATS_GENERAL, false, NONE, 0.0, D::General, 0.0, CP::None),
    sector!("A0164", [0.3, 0.3, 8.0], [0.8, 2.5, 0.5, 0.3],
        &["茶业"], &["茶园"], &["佛茶专业合作社", "茶叶专业合作社"],
        NO_LIC, D::General, 0.01, CATS_GENERAL, false, NONE, 0.0, D::General, 0.0, CP::None),
    // Seafood trade.
    sector!("F5124", [6.0, 6.0, 0.0], FLAT,
        &["水产", "海产品贸易", "水产品贸易"], &["水产品批发部", "海鲜批发行"], &[],
        &[(FoodBusiness, 0.7)], D::Food,
        0.06, CATS_RETAIL, false, SEAFOOD_FRESH, 0.15, D::Food, -0.2, CP::None),
    sector!("F5224", [1.0, 10.0, 0.0], [1.0, 1.5, 1.0, 1.2],
        &["海产品商贸"], &["海鲜店", "水产品店", "海产干货店", "海鲜摊"], &[],
        &[(FoodBusiness, 0.6)], D::Food,
        0.3, CATS_RETAIL, true, SEAFOOD_FRESH, 0.15, D::Food, -0.5, CP::None),
    // Retail.
    sector!("F5212", [2.0, 4.0, 0.0], FLAT,
        &["商贸", "超市", "百货"], &["超市", "生活超市"], &[],
        &[(FoodBusiness, 0.98), (SpecialEquipmentUse, 0.1)], D::Food,
        0.5, CATS_RETAIL, false, RETAIL_FOOD, 0.25, D::Food, -0.2, CP::None),
    sector!("F5213", [1.0, 8.0, 0.0], FLAT,
        &["便利店连锁", "商业连锁"], &["便利店", "小卖部"], &[],
        &[(FoodBusiness, 0.95)], D::Food,
        0.12, CATS_RETAIL, false, RETAIL_FOOD, 0.1, D::Food, -0.5, CP::None),
    sector!("F5232", [1.0, 5.0, 0.0], FLAT,
        &["服饰"], &["服装店", "服饰店"], &[],
        NO_LIC, D::General, 0.12, CATS_GENERAL_RETAIL, false, CLOTHING, 0.05, D::General, -0.5, CP::None),
    sector!("F5234", [0.5, 3.0, 0.0], FLAT,
        &["化妆品"], &["化妆品店", "美妆店"], &[],
        NO_LIC, D::General, 0.15, CATS_GENERAL_RETAIL, false, COSMETICS, 0.05, D::General, -0.5, CP::None),
    // Catering.
    sector!("H6210", [4.0, 8.0, 0.0], [1.0, 1.4, 0.9, 1.1],
        &["餐饮管理", "海鲜酒家", "餐饮"], &["海鲜排档", "饭店", "酒家", "海鲜楼", "渔家菜馆", "农家菜馆"], &[],
        &[(FoodBusiness, 0.98)], D::Food,
        0.35, CATS_FOOD_SERVICE, true, CATERING, 0.08, D::Food, -0.3, CP::Catering),
    sector!("H6220", [1.0, 5.0, 0.0], FLAT,
        &["餐饮"], &["快餐店", "面馆", "盒饭店"], &[],
        &[(FoodBusiness, 0.97)], D::Food,
        0.2, CATS_FOOD_SERVICE, false, CATERING, 0.05, D::Food, -0.5, CP::Catering),
    sector!("H6291", [0.0, 7.0, 0.0], [1.0, 1.3, 1.0, 1.0],
        &["餐饮"], &["小吃店", "馄饨店", "包子铺", "海鲜面馆", "鱼面店"], &[],
        &[(FoodBusiness, 0.95)], D::Food,
        0.12, CATS_FOOD_SERVICE, true, CATERING, 0.05, D::Food, -0.5, CP::None),
    // Tourism and lodging.
    sector!("H6110", [1.5, 0.0, 0.0], [1.2, 1.8, 0.6, 1.0],
        &["大酒店", "酒店管理", "度假酒店", "海景酒店"], &[], &[],
        &[(SpecialEquipmentUse, 0.9), (FoodBusiness, 0.8)], D::General,
        0.8, CATS_LODGING, true, CATERING, 0.05, D::Food, 0.5, CP::Catering),
    sector!("H6121", [1.0, 0.3, 0.0], FLAT,
        &["酒店", "宾馆"], &["快捷酒店"], &[],
        &[(SpecialEquipmentUse, 0.7)], D::General,
        0.35, CATS_LODGING, true, NONE, 0.0, D::General, 0.0, CP::None),
    sector!("H6129", [0.5, 2.5, 0.0], [1.0, 1.3, 1.0, 1.2],
        &["宾馆"], &["旅馆", "宾馆", "客栈"], &[],
        &[(SpecialEquipmentUse, 0.15)], D::General,
        0.15, CATS_LODGING, true, NONE, 0.0, D::General, -0.3, CP::None),
    sector!("H6130", [0.6, 6.0, 0.0], [0.5, 2.2, 0.8, 3.0],
        &["民宿管理", "旅游开发"], &["民宿", "渔家乐", "海景民宿", "客栈"], &[],
        &[(FoodBusiness, 0.45)], D::General,
        0.25, CATS_LODGING, true, NONE, 0.0, D::General, -0.3, CP::None),
    sector!("L7291", [2.0, 0.0, 0.0], [1.2, 1.6, 0.5, 0.8],
        &["国际旅行社", "旅行社", "旅游"], &[], &[],
        NO_LIC, D::General, 0.6, CATS_TRAVEL, true, NONE, 0.0, D::General, -0.2, CP::None),
    // Cold chain, ports and shipping.
    sector!("G5930", [3.0, 0.2, 0.0], [1.0, 1.5, 1.2, 0.6],
        &["冷链物流", "冷藏", "冷链", "冷库"], &["冷库"], &[],
        &[(SpecialEquipmentUse, 0.9), (FoodBusiness, 0.3)], D::General,
        0.02, CATS_GENERAL, false, NONE, 0.0, D::General, 0.3, CP::ColdChain),
    sector!("G5532", [1.0, 0.0, 0.0], [1.0, 1.0, 1.4, 0.8],
        &["港务", "码头", "港口"], &[], &[],
        &[(SpecialEquipmentUse, 0.95)], D::General,
        0.01, CATS_GENERAL, false, NONE, 0.0, D::General, 0.8, CP::None),
    sector!("G5522", [3.0, 0.3, 0.0], FLAT,
        &["海运", "航运", "船务"], &["货运船"], &[],
        NO_LIC, D::General, 0.01, CATS_GENERAL, false, NONE, 0.0, D::General, 0.4, CP::None),
    // Ship building and repair.
    sector!("C3731", [2.0, 0.0, 0.0], [1.2, 1.4, 1.2, 0.2],
        &["船舶", "船业", "造船", "船舶修造"], &[], &[],
        &[(SpecialEquipmentUse, 0.95), (SpecialEquipmentManufacture, 0.05)], D::General,
        0.01, CATS_GENERAL, false, NONE, 0.0, D::General, 0.8, CP::Manufacturing),
    sector!("C3734", [2.0, 0.3, 0.0], [1.3, 1.1, 1.0, 0.3],
        &["船舶配件", "船用设备", "海洋装备", "船舶机械"], &["船舶配件厂"], &[],
        &[(SpecialEquipmentUse, 0.6), (IndustrialProduct, 0.25), (SpecialEquipmentManufacture, 0.05)], D::General,
        0.02, CATS_GENERAL, false, SHIP_PARTS, 0.2, D::IndustrialProduct, 0.2, CP::Manufacturing),
    sector!("C3735", [0.7, 0.0, 0.0], [1.0, 1.3, 1.2, 0.2],
        &["船舶工程", "船舶改装"], &[], &[],
        &[(SpecialEquipmentUse, 0.9)], D::General,
        0.01, CATS_GENERAL, false, NONE, 0.0, D::General, 0.3, CP::Manufacturing),
    sector!("C4342", [3.0, 1.0, 0.0], [1.2, 1.6, 1.0, 0.5],
        &["船舶修造", "船舶修理", "修船"], &["船舶修理厂", "修船厂"], &[],
        &[(SpecialEquipmentUse, 0.8)], D::General,
        0.02, CATS_GENERAL, false, NONE, 0.0, D::General, 0.2, CP::Manufacturing),
    // Petrochemicals and oil storage (鱼山 in 岱山, the oil storage bases).
    sector!("C2511", [0.4, 0.0, 0.0], [0.8, 0.2, 3.0, 0.2],
        &["石化", "石油化工", "炼化"], &[], &[],
        &[(IndustrialProduct, 0.9), (SpecialEquipmentUse, 1.0), (HazardousChemicals, 0.5)], D::IndustrialProduct,
        0.01, CATS_GENERAL, false, PETRO, 0.3, D::IndustrialProduct, 1.8, CP::Manufacturing),
    sector!("C2614", [0.4, 0.0, 0.0], [0.8, 0.3, 2.5, 0.2],
        &["化工", "新材料", "化学"], &[], &[],
        &[(IndustrialProduct, 0.6), (SpecialEquipmentUse, 0.95), (HazardousChemicals, 0.4)], D::IndustrialProduct,
        0.01, CATS_GENERAL, false, CHEM, 0.2, D::IndustrialProduct, 1.2, CP::Manufacturing),
    sector!("G5941", [1.0, 0.0, 0.0], [1.0, 0.6, 2.0, 0.8],
        &["石油储运", "油品储运", "能源", "油库"], &[], &[],
        &[(SpecialEquipmentUse, 1.0), (HazardousChemicals, 0.9)], D::General,
        0.01, CATS_GENERAL, false, NONE, 0.0, D::General, 1.2, CP::None),
    sector!("F5162", [5.0, 0.0, 0.0], [1.3, 0.8, 1.2, 1.0],
        &["石油化工", "能源", "石化贸易", "燃料油"], &[], &[],
        &[(HazardousChemicals, 0.6)], D::General,
        0.01, CATS_GENERAL, false, PETRO, 0.08, D::IndustrialProduct, 0.6, CP::None),
    sector!("F5265", [0.8, 0.0, 0.0], FLAT,
        &["加油站", "石油销售", "能源"], &[], &[],
        &[(HazardousChemicals, 1.0), (SpecialEquipmentUse, 0.3)], D::General,
        0.1, CATS_FUEL, false, FUEL, 0.3, D::IndustrialProduct, 0.0, CP::None),
    sector!("D4512", [0.3, 0.0, 0.0], FLAT,
        &["燃气", "液化气"], &[], &[],
        &[(HazardousChemicals, 1.0), (SpecialEquipmentManufacture, 0.6), (SpecialEquipmentUse, 1.0)], D::General,
        0.1, CATS_FUEL, false, LPG, 0.2, D::IndustrialProduct, 0.3, CP::None),
    // Construction.
    sector!("E4710", [2.0, 0.0, 0.0], FLAT,
        &["建设", "建筑工程", "建工"], &[], &[],
        &[(ConstructionQualification, 0.95), (SpecialEquipmentUse, 0.5)], D::Construction,
        0.05, CATS_CONSTRUCTION, false, NONE, 0.0, D::General, 1.0, CP::Construction),
    sector!("E4823", [0.8, 0.0, 0.0], [1.0, 1.0, 1.3, 1.0],
        &["港航工程", "海洋工程", "港口工程"], &[], &[],
        &[(ConstructionQualification, 1.0), (SpecialEquipmentUse, 0.5)], D::Construction,
        0.01, CATS_CONSTRUCTION, false, NONE, 0.0, D::General, 1.2, CP::Construction),
    sector!("E4910", [1.2, 0.5, 0.0], FLAT,
        &["电力工程", "机电安装", "电气工程"], &["水电安装队"], &[],
        &[(ConstructionQualification, 0.8)], D::Construction,
        0.05, CATS_CONSTRUCTION, false, NONE, 0.0, D::General, 0.2, CP::Construction),
    sector!("E5012", [2.0, 3.0, 0.0], FLAT,
        &["装饰工程", "装饰设计", "家居装饰"], &["装饰工作室", "装潢队"], &[],
        &[(ConstructionQualification, 0.35)], D::Construction,
        0.3, CATS_CONSTRUCTION, false, NONE, 0.0, D::General, -0.2, CP::None),
    // Other services.
    sector!("I6513", [3.0, 0.2, 0.0], [2.0, 0.7, 0.4, 0.2],
        &["信息技术", "网络科技", "软件", "数字科技"], &["网络工作室"], &[],
        NO_LIC, D::General, 0.02, CATS_GENERAL, false, NONE, 0.0, D::General, 0.0, CP::None),
    sector!("O8111", [0.8, 3.0, 0.0], FLAT,
        &["汽车服务", "汽车维修"], &["汽车修理厂", "汽车维修店", "汽修店"], &[],
        NO_LIC, D::General, 0.25, CATS_GENERAL, false, NONE, 0.0, D::General, -0.3, CP::None),
    sector!("F5181", [4.0, 0.5, 0.0], FLAT,
        &["贸易", "进出口", "国际贸易", "商贸"], &["商行"], &[],
        NO_LIC, D::General, 0.03, CATS_GENERAL, false, NONE, 0.0, D::General, 0.0, CP::None),
];

/// Trade names (字号) for enterprises and cooperatives.
#[rustfmt::skip]
pub(crate) const TRADE_NAMES: &[&str] = &[
    "海鑫", "海天", "金海", "东海", "明珠", "新港", "宏达", "兴业", "永盛", "海丰", "蓝海", "鑫海",
    "恒通", "恒丰", "华兴", "华海", "润海", "远洋", "舟渔", "群岛", "海峰", "海诚", "浙舟", "海宇",
    "鼎盛", "盛源", "博海", "瑞丰", "隆海", "兴港", "金塘", "六横", "东极", "嘉海", "富海", "顺达",
    "泰和", "海晨", "海川", "岱衢", "海明", "渔光", "舟港", "中舟", "昌海", "海利", "鸿运", "宇翔",
    "永达", "通达", "万邦", "海昌", "信诚", "欣海", "晨光", "星海", "海晟", "海悦", "舟宁", "兴舟",
    "合兴", "丰源", "泓海", "浩海", "海森", "甬舟", "洋山", "桃花", "白沙", "秀山", "朱家尖", "沈家门",
];

/// Personal-sounding names of individual businesses.
#[rustfmt::skip]
pub(crate) const NICKNAMES: &[&str] = &[
    "阿强", "阿明", "阿芬", "阿国", "阿海", "阿英", "阿福", "阿宝", "老王", "老李", "老陈", "老周",
    "李记", "王记", "陈记", "张记", "林记", "金记", "小徐", "小胡", "海娃", "渔嫂", "大黄", "船老大",
    "渔港", "海之味", "东海人家", "渔家", "阿娣", "阿土", "小乐", "虞记", "邬记", "翁记", "应记",
];

/// Towns and sub-districts per region, in region order.
pub(crate) const TOWNS: [&[&str]; 4] = [
    &[
        "盐仓街道",
        "临城街道",
        "岑港街道",
        "白泉镇",
        "金塘镇",
        "干览镇",
        "马岙街道",
        "小沙街道",
    ],
    &[
        "沈家门街道",
        "朱家尖街道",
        "六横镇",
        "桃花镇",
        "东港街道",
        "展茅街道",
        "虾峙镇",
        "东极镇",
    ],
    &["高亭镇", "东沙镇", "岱西镇", "衢山镇", "长涂镇", "秀山乡"],
    &[
        "菜园镇",
        "嵊山镇",
        "洋山镇",
        "五龙乡",
        "黄龙乡",
        "枸杞乡",
        "花鸟乡",
    ],
];

/// Officer surnames (common in Zhoushan) and given-name characters.
#[rustfmt::skip]
pub(crate) const SURNAMES: &[&str] = &[
    "王", "陈", "李", "张", "周", "徐", "林", "金", "胡", "孙", "刘", "吴", "应", "乐", "虞", "邬",
    "翁", "毛", "郑", "朱", "沈", "俞", "夏", "蒋", "贺", "杨", "黄", "方", "丁", "傅",
];
#[rustfmt::skip]
pub(crate) const GIVEN: &[&str] = &[
    "伟", "芳", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "平",
    "刚", "华", "海", "波", "燕", "斌", "鹏", "婷", "晨", "宇", "浩", "凯", "颖", "琳", "洁", "峰",
    "亮", "辉", "健", "蕾", "雪", "丹", "飞", "舟", "航", "帆", "晓", "建", "国", "志", "文", "红",
];

/// Provisions cited by penalties, per violation category.
pub(crate) fn provisions(c: ViolationCategory) -> &'static [&'static str] {
    use ViolationCategory as V;
    match c {
        V::FoodSafety => &[
            "食品安全法第一百二十四条",
            "食品安全法第一百二十五条",
            "食品安全法第一百二十六条",
            "食品安全法第一百二十二条",
        ],
        V::DrugsCosmetics => &["化妆品监督管理条例第六十条", "化妆品监督管理条例第六十八条"],
        V::QualitySafety => &[
            "产品质量法第四十九条",
            "产品质量法第五十条",
            "产品质量法第五十四条",
        ],
        V::SpecialEquipment => &[
            "特种设备安全法第八十三条",
            "特种设备安全法第八十四条",
            "特种设备安全法第八十六条",
        ],
        V::ConsumerHarm => &["消费者权益保护法第五十六条"],
        V::UnfairCompetition => &["反不正当竞争法第二十条", "反不正当竞争法第十八条"],
        V::FalseAdvertising => &["广告法第五十五条", "广告法第五十八条"],
        V::Obstruction => &["产品质量法第五十六条", "食品安全法第一百三十三条"],
        V::Disclosure => &["企业信息公示暂行条例第十八条"],
        V::Other => &["价格法第四十二条", "明码标价和禁止价格欺诈规定第二十一条"],
    }
}

/// Whether a heavier penalty in this category leads to the serious-violation list.
pub(crate) fn serious_category(c: ViolationCategory) -> bool {
    use ViolationCategory as V;
    matches!(
        c,
        V::FoodSafety
            | V::DrugsCosmetics
            | V::QualitySafety
            | V::SpecialEquipment
            | V::ConsumerHarm
            | V::UnfairCompetition
            | V::FalseAdvertising
            | V::Obstruction
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidewatch_model::IndustryCode;

    #[test]
    fn sector_codes_parse_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for s in SECTORS {
            assert!(IndustryCode::parse(s.code).is_ok(), "{}", s.code);
            assert!(seen.insert(s.code), "{} twice", s.code);
            assert!(!s.cats.is_empty());
            assert!(!s.ent.is_empty() || s.w[0] == 0.0, "{}", s.code);
            assert!(!s.ib.is_empty() || s.w[1] == 0.0, "{}", s.code);
            assert!(!s.coop.is_empty() || s.w[2] == 0.0, "{}", s.code);
            assert!(s.products.is_empty() == (s.sampling == 0.0), "{}", s.code);
        }
    }
}
