//! Tags on copies (contract): which tags a copy must carry, within AWS's limits. A copy job takes
//! no tags and AWS documents tag copying only for cross-Region copies (facts §13), so the product
//! tags each copy where it lands. Pure: the callers read and write the tags.

use std::collections::BTreeMap;

use serde::Serialize;

/// Tags as AWS keeps them: key to value.
pub type Tags = BTreeMap<String, String>;

/// AWS's limit of user tags on one recovery point (not adjustable).
pub const MAX_TAGS: usize = 50;
/// AWS's longest tag key and value.
pub const MAX_KEY_CHARS: usize = 128;
pub const MAX_VALUE_CHARS: usize = 256;
/// The prefix AWS reserves: such tags are not counted and cannot be set.
pub const AWS_PREFIX: &str = "aws:";
/// Is this key AWS's own (`aws:` in any case: AWS reserves every spelling)?
pub fn is_aws_key(key: &str) -> bool {
    key.get(..AWS_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(AWS_PREFIX))
}

/// A character AWS allows in tag keys and values: letters, digits, spaces and `_ . : / = + - @`.
pub fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// The first character of `text` AWS does not allow in a tag, if any.
pub fn bad_tag_char(text: &str) -> Option<char> {
    text.chars().find(|c| !is_tag_char(*c))
}

/// A route's name as a tag value: `->` and a set member's `[account/Region]` are not tag
/// characters, so `primary[111111111111/us-east-1]->central` is written
/// `primary.111111111111/us-east-1 to central`.
pub fn route_value(route_name: &str) -> String {
    route_name
        .replace("->", " to ")
        .replace('[', ".")
        .replace(']', "")
        .chars()
        .map(|c| if is_tag_char(c) { c } else { '_' })
        .collect()
}

/// The lineage tags: the original's ARN and the route that made the copy.
pub const ORIGINAL_TAG: &str = "backup-relay:original";
pub const ROUTE_TAG: &str = "backup-relay:route";
/// The prefix of the product's own tags (the lineage).
pub const OWN_PREFIX: &str = "backup-relay:";

/// The policy's `tags:` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyTagRules {
    /// The original's tags carried onto copies: `None` every user tag, `Some([])` none.
    pub copy: Option<Vec<String>>,
    /// `backup-relay:original` and `backup-relay:route` on every copy. Default true.
    pub no_lineage: bool,
}

impl CopyTagRules {
    pub fn lineage(&self) -> bool {
        !self.no_lineage
    }

    /// Does the policy ask for any tag at all on copies?
    pub fn tags_anything(&self) -> bool {
        self.lineage() || self.copy.as_ref().is_none_or(|c| !c.is_empty())
    }
}

/// What one copy must carry, and what the rules had to leave off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DesiredTags {
    pub tags: Tags,
    /// Tags of the original that cannot be put on the copy, with why (the `aws:` ones are not
    /// listed: AWS carries them itself, they are never ours to set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedTag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedTag {
    pub key: String,
    pub reason: &'static str,
}

/// The tags a copy made by `route` of `original_arn` (`None`: gone, unknown) must carry, from
/// the original point's tags.
///
/// The rule when a source has more than AWS allows: lineage tags first (they say where the copy
/// came from), then the original's tags in key order; those past the 50th are dropped, named,
/// so the caller alerts once. Keys or values over AWS's lengths are dropped, not truncated (a cut
/// value would be a different cost centre). The product's own `backup-relay:` tags on the
/// original are never carried: the copy gets its own lineage.
pub fn desired_tags(
    rules: &CopyTagRules,
    original_tags: &Tags,
    original_arn: Option<&str>,
    route: &str,
) -> DesiredTags {
    let mut out = DesiredTags::default();
    if rules.lineage() {
        if let Some(arn) = original_arn {
            out.tags.insert(ORIGINAL_TAG.into(), arn.into());
        }
        out.tags.insert(ROUTE_TAG.into(), route_value(route));
    }
    let chosen = original_tags.iter().filter(|(k, _)| {
        !is_aws_key(k)
            && !k.starts_with(OWN_PREFIX)
            && rules
                .copy
                .as_ref()
                .is_none_or(|c| c.iter().any(|n| n == *k))
    });
    for (key, value) in chosen {
        let reason = if key.chars().count() > MAX_KEY_CHARS {
            Some("key longer than 128 characters")
        } else if bad_tag_char(key).or(bad_tag_char(value)).is_some() {
            Some("a character AWS does not allow in tags")
        } else if value.chars().count() > MAX_VALUE_CHARS {
            Some("value longer than 256 characters")
        } else if out.tags.len() >= MAX_TAGS {
            Some("past AWS's 50 tags per recovery point")
        } else {
            None
        };
        match reason {
            Some(reason) => out.dropped.push(DroppedTag {
                key: key.clone(),
                reason,
            }),
            None => {
                out.tags.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

/// The tags to add so `present` carries `desired` (none: no call), and those that cannot fit
/// beside tags someone else put on the copy (AWS counts every user tag toward its 50).
pub fn missing_tags(desired: &Tags, present: &Tags) -> (Tags, Vec<DroppedTag>) {
    let user_present = present.keys().filter(|k| !is_aws_key(k)).count();
    let mut room = MAX_TAGS.saturating_sub(user_present);
    let mut add = Tags::new();
    let mut dropped = Vec::new();
    // Lineage first, as in `desired_tags`, then key order.
    let (own, rest): (Vec<_>, Vec<_>) =
        desired.iter().partition(|(k, _)| k.starts_with(OWN_PREFIX));
    for (key, value) in own.into_iter().chain(rest) {
        match present.get(key) {
            Some(v) if v == value => continue,
            // Lineage is ours to correct; a cost tag a person re-set on the copy is theirs.
            Some(_) if key.starts_with(OWN_PREFIX) => {
                add.insert(key.clone(), value.clone());
            }
            Some(_) => continue,
            None if room > 0 => {
                room -= 1;
                add.insert(key.clone(), value.clone());
            }
            None => dropped.push(DroppedTag {
                key: key.clone(),
                reason: "no room beside the tags the copy already carries",
            }),
        }
    }
    (add, dropped)
}

/// Does `present` carry everything `desired` asks that fits (the report's and the simulator's
/// test of a tagged copy)?
pub fn carries(desired: &Tags, present: &Tags) -> bool {
    missing_tags(desired, present).0.is_empty()
}

/// Tags as `k=v` pairs, for messages.
pub fn describe(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
