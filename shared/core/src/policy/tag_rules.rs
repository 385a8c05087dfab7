//! The policy's `tags:` section (Tags on copies): read and checked like the rest of the policy.

use crate::copy_tags::{bad_tag_char, is_aws_key, CopyTagRules, MAX_KEY_CHARS, OWN_PREFIX};

use super::{fields, text, Errors, Node};

/// The `tags:` section of a policy.
pub(crate) fn parse_rules(node: Option<&Node>, errors: &mut Errors) -> CopyTagRules {
    let mut rules = CopyTagRules::default();
    let Some(node) = node else {
        return rules;
    };
    let f = fields(node, "tags", "tags", &["copy", "lineage"], errors);
    if let Some(copy) = f.get("copy") {
        rules.copy = parse_copy_list(copy, errors);
    }
    match f.get("lineage") {
        None => {}
        Some(Node::Bool(b)) => rules.no_lineage = !b,
        Some(other) => errors.add(
            "tags",
            "lineage",
            format!("must be true or false, found {}", other.kind()),
        ),
    }
    rules
}

fn parse_copy_list(node: &Node, errors: &mut Errors) -> Option<Vec<String>> {
    let Node::Seq(items) = node else {
        errors.add(
            "tags",
            "copy",
            format!("must be a list of tag keys, found {}", node.kind()),
        );
        return None;
    };
    let mut keys = Vec::new();
    for item in items {
        let Some(key) = text(item, "tags", "copy", errors) else {
            continue;
        };
        let problem = if key.is_empty() {
            Some("an empty tag key".to_string())
        } else if key.chars().count() > MAX_KEY_CHARS {
            Some(format!("'{key}' is longer than AWS's 128 characters"))
        } else if let Some(c) = bad_tag_char(key) {
            Some(format!(
                "'{key}': '{c}' is not a character AWS allows in tags"
            ))
        } else if is_aws_key(key) {
            Some(format!(
                "'{key}': the aws: prefix is AWS's own and cannot be set"
            ))
        } else if key.starts_with(OWN_PREFIX) {
            Some(format!(
                "'{key}': backup-relay: tags are the lineage tags (see lineage)"
            ))
        } else if keys.iter().any(|k| k == key) {
            Some(format!("'{key}' is listed more than once"))
        } else {
            None
        };
        match problem {
            Some(p) => errors.add("tags", "copy", p),
            None => keys.push(key.to_string()),
        }
    }
    Some(keys)
}
