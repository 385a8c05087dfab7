//! Reading IAM policy documents (resource policies of vaults and keys): who a statement names,
//! its string-or-list fields, and IAM's action matching. Shared by the report and the doctor.

pub fn everyone(principal: Option<&serde_json::Value>) -> bool {
    match principal {
        Some(serde_json::Value::String(p)) => p == "*",
        Some(serde_json::Value::Object(m)) => m
            .get("AWS")
            .is_some_and(|a| strings(Some(a)).iter().any(|x| x == "*")),
        _ => false,
    }
}

pub fn strings(value: Option<&serde_json::Value>) -> Vec<String> {
    match value {
        Some(serde_json::Value::String(a)) => vec![a.clone()],
        Some(serde_json::Value::Array(l)) => l
            .iter()
            .filter_map(|a| a.as_str())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// IAM action matching: case-insensitive, `*` for any run of characters, `?` for one.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.split_first(), a.split_first()) {
            (None, None) => true,
            (Some((b'*', rest)), _) => go(rest, a) || (!a.is_empty() && go(p, &a[1..])),
            (Some((b'?', rest)), Some((_, arest))) => go(rest, arest),
            (Some((pc, rest)), Some((ac, arest))) => pc.eq_ignore_ascii_case(ac) && go(rest, arest),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}
