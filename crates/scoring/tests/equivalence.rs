//! The fast kernel and the polars expression path give identical points,
//! and scoring a micro-batch gives exactly the rows of the whole batch.

use polars::prelude::*;
use proptest::prelude::*;
use tidewatch_scoring::expr::with_points;
use tidewatch_scoring::{Bound, Model, Want};

const CARD: &str = r#"
[model]
id = "prop"
base_points = 12.5
[classes]
B = 50
C = 100
D = 200

[[variable]]
feature = "a"
bins = [
  { range = "[-inf, -3)", points = -4 },
  { range = "[-3, 0.5)", points = 0 },
  { range = "[0.5, 7)", points = 10.25 },
  { range = "[7, 20)", points = 30 },
  { range = "[20, inf)", points = 55 },
  { missing = true, points = 3 },
]

[[variable]]
feature = "b"
# no missing bin: a null here leaves the row unscored
bins = [
  { range = "[-inf, 2)", points = 0 },
  { range = "[2, inf)", points = 20 },
]

[[variable]]
feature = "k"
bins = [
  { values = [1, 2], points = 5 },
  { values = [3], points = 40 },
  { else = true, points = 1 },
]

[[variable]]
name = "rate"
expr = "a / c"
bins = [
  { range = "[-inf, 0.25)", points = 0 },
  { range = "[0.25, 1)", points = 15 },
  { range = "[1, inf)", points = 35 },
  { missing = true, points = 7 },
]

[[variable]]
name = "sum"
expr = "c + k"
bins = [
  { range = "[-inf, 5)", points = 0 },
  { range = "[5, inf)", points = 9 },
  { missing = true, points = 2 },
]

[[variable]]
feature = "s"
bins = [
  { values = ["x", "y"], points = 8 },
  { values = ["z"], points = 16 },
  { missing = true, points = 4 },
]
"#;

fn model() -> Model {
    Model::parse(CARD, "prop.toml").expect("valid card")
}

type Row = (Option<i64>, Option<i64>, i64, i64, Option<u8>);

fn frame(rows: &[Row]) -> DataFrame {
    let n = rows.len();
    let s: Vec<Option<&str>> = rows
        .iter()
        .map(|r| r.4.map(|i| ["x", "y", "z", "w"][i as usize % 4]))
        .collect();
    DataFrame::new(
        n,
        vec![
            Column::new("a".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
            Column::new("b".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            Column::new("c".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
            Column::new("k".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
            Column::new("s".into(), s),
        ],
    )
    .expect("frame")
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    proptest::collection::vec(
        (
            proptest::option::weighted(0.9, -10i64..40),
            proptest::option::weighted(0.95, -2i64..5),
            0i64..6,
            0i64..5,
            proptest::option::weighted(0.8, 0u8..4),
        ),
        1..3000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn kernel_equals_expression_path(rows in rows()) {
        let m = model();
        let df = frame(&rows);
        let fast = Bound::new(&m, &df).expect("binds").score(Want { points: true, reasons: false });
        let out = with_points(&m, df.clone().lazy()).collect().expect("expressions run");
        let total = out.column("total_points").expect("total").i64().expect("i64").clone();
        for (vi, v) in m.variables.iter().enumerate() {
            let col = out.column(&format!("{}_points", v.name)).expect("points").i64().expect("i64").clone();
            let fp = &fast.points.as_ref().expect("points")[vi];
            for (r, &f) in fp.iter().enumerate() {
                match col.get(r) {
                    Some(p) => prop_assert_eq!(f, p, "var {} row {}", v.name, r),
                    None => prop_assert!(!fast.is_scored(r), "var {} row {}: no bin, but scored", v.name, r),
                }
            }
        }
        for r in 0..rows.len() {
            match total.get(r) {
                Some(t) => {
                    prop_assert!(fast.is_scored(r));
                    prop_assert_eq!(fast.total[r], t);
                }
                None => prop_assert!(!fast.is_scored(r)),
            }
        }
    }

    #[test]
    fn micro_batch_equals_batch(rows in rows(), picks in proptest::collection::vec(any::<proptest::sample::Index>(), 1..200)) {
        let m = model();
        let df = frame(&rows);
        let want = Want { points: true, reasons: true };
        let all = Bound::new(&m, &df).expect("binds").score(want);
        let idx: Vec<IdxSize> = picks.iter().map(|i| i.index(rows.len()) as IdxSize).collect();
        let sub = df.take(&IdxCa::from_vec("idx".into(), idx.clone())).expect("take");
        let part = Bound::new(&m, &sub).expect("binds").score(want);
        for (j, &i) in idx.iter().enumerate() {
            let i = i as usize;
            prop_assert_eq!(part.total[j], all.total[i]);
            prop_assert_eq!(part.risk[j], all.risk[i]);
            prop_assert_eq!(part.class[j], all.class[i]);
            prop_assert_eq!(part.is_scored(j), all.is_scored(i));
            prop_assert_eq!(part.reasons.as_ref().expect("r")[j], all.reasons.as_ref().expect("r")[i]);
        }
    }
}
