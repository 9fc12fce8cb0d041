//! A small JSON Schema validator: the keywords `docs/alert.schema.json`
//! uses (type, enum, required, properties, additionalProperties, items,
//! minimum, minLength, pattern, format "date"), enough to hold produced
//! alerts to the published schema. Patterns support literals, classes with
//! ranges, `{n}` and `+`, anchored with `^` and `$`.

use serde_json::Value;

/// Every violation, as `path: problem`.
pub fn validate(schema: &Value, v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, v, "$", &mut out);
    out
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(s: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(t) = s.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = type_of(v);
        let ok = allowed
            .iter()
            .any(|a| *a == actual || (*a == "number" && actual == "integer"));
        if !ok {
            out.push(format!("{path}: {actual} is not {allowed:?}"));
            return;
        }
    }
    if let Some(Value::Array(e)) = s.get("enum") {
        if !e.contains(v) {
            out.push(format!("{path}: {v} is not in the enum"));
        }
    }
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(req)) = s.get("required") {
                for r in req.iter().filter_map(Value::as_str) {
                    if !o.contains_key(r) {
                        out.push(format!("{path}: missing {r:?}"));
                    }
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (k, x) in o {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => check(ps, x, &format!("{path}.{k}"), out),
                    None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        out.push(format!("{path}: unexpected property {k:?}"))
                    }
                    None => {}
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.get("items") {
                for (i, x) in a.iter().enumerate() {
                    check(items, x, &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::Number(n) => {
            if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), n.as_f64()) {
                if x < min {
                    out.push(format!("{path}: {x} < {min}"));
                }
            }
        }
        Value::String(x) => {
            if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
                if (x.chars().count() as u64) < min {
                    out.push(format!("{path}: shorter than {min}"));
                }
            }
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                if !matches(p, x) {
                    out.push(format!("{path}: {x:?} does not match {p}"));
                }
            }
            if s.get("format").and_then(Value::as_str) == Some("date")
                && chrono::NaiveDate::parse_from_str(x, "%Y-%m-%d").is_err()
            {
                out.push(format!("{path}: {x:?} is not a date"));
            }
        }
        _ => {}
    }
}

/// One element of a pattern: the characters it accepts, and how many times.
struct Atom {
    set: Vec<(char, char)>,
    min: usize,
    max: usize,
}

fn parse_pattern(p: &str) -> Vec<Atom> {
    let body = p
        .strip_prefix('^')
        .and_then(|b| b.strip_suffix('$'))
        .unwrap_or_else(|| panic!("pattern {p} must be anchored with ^ and $"));
    let cs: Vec<char> = body.chars().collect();
    let mut atoms = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let set = if cs[i] == '[' {
            let mut set = Vec::new();
            i += 1;
            while cs[i] != ']' {
                if i + 2 < cs.len() && cs[i + 1] == '-' && cs[i + 2] != ']' {
                    set.push((cs[i], cs[i + 2]));
                    i += 3;
                } else {
                    set.push((cs[i], cs[i]));
                    i += 1;
                }
            }
            i += 1;
            set
        } else {
            i += 1;
            vec![(cs[i - 1], cs[i - 1])]
        };
        let (min, max) = match cs.get(i) {
            Some('+') => {
                i += 1;
                (1, usize::MAX)
            }
            Some('{') => {
                let end = cs[i..].iter().position(|c| *c == '}').map(|e| i + e);
                let end = end.unwrap_or_else(|| panic!("pattern {p}: unclosed {{"));
                let n: usize = cs[i + 1..end]
                    .iter()
                    .collect::<String>()
                    .parse()
                    .unwrap_or_else(|e| panic!("pattern {p}: {e}"));
                i = end + 1;
                (n, n)
            }
            _ => (1, 1),
        };
        atoms.push(Atom { set, min, max });
    }
    atoms
}

pub fn matches(p: &str, s: &str) -> bool {
    let atoms = parse_pattern(p);
    let cs: Vec<char> = s.chars().collect();
    // Greedy is exact for these patterns: adjacent atoms never share a
    // character class that would need backtracking.
    let mut i = 0;
    for a in &atoms {
        let mut n = 0;
        while n < a.max && i < cs.len() && a.set.iter().any(|(lo, hi)| (*lo..=*hi).contains(&cs[i]))
        {
            n += 1;
            i += 1;
        }
        if n < a.min {
            return false;
        }
    }
    i == cs.len()
}
