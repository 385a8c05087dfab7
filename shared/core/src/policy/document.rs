//! The policy document as an order-preserving tree, so duplicate keys are seen in YAML and JSON
//! alike, read within a size budget.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{PolicyError, PolicyErrors};

/// The largest policy read (1 MB): the contract's limit, checked before parsing.
pub const MAX_POLICY_BYTES: usize = 1_048_576;

/// What the parsed tree may cost, in bytes of text plus a fixed cost per value. A YAML alias
/// repeats its anchor's whole subtree each time it is used, so a document well under
/// MAX_POLICY_BYTES can expand to gigabytes ("billion laughs"); serde_norway bounds the number of
/// alias jumps but not what each one copies. A plain 1 MB document costs at most about 9 MB here.
const MAX_TREE_COST: usize = 16 * MAX_POLICY_BYTES;
const VALUE_COST: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order, duplicates kept.
    Map(Vec<(String, Node)>),
}

impl Node {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }

    pub(crate) fn key_text(&self) -> String {
        match self {
            Node::Str(s) => s.clone(),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => f.to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Null => "null".to_string(),
            other => format!("<{}>", other.kind()),
        }
    }
}

/// Deserializes one [`Node`], charging every value to the shared budget.
#[derive(Clone, Copy)]
struct NodeSeed<'b> {
    budget: &'b Cell<usize>,
}

impl NodeSeed<'_> {
    fn charge<E: de::Error>(&self, text_len: usize) -> Result<(), E> {
        let cost = VALUE_COST.saturating_add(text_len);
        match self.budget.get().checked_sub(cost) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => Err(E::custom(format!(
                "the document expands to more than {MAX_TREE_COST} bytes \
                 (YAML aliases repeating large anchors?)"
            ))),
        }
    }

    fn leaf<E: de::Error>(self, text_len: usize, node: Node) -> Result<Node, E> {
        self.charge(text_len)?;
        Ok(node)
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        self.leaf(0, Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        self.leaf(0, Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        self.deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        self.leaf(0, Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        self.leaf(0, Node::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        let node = i64::try_from(v)
            .map(Node::Int)
            .unwrap_or(Node::Float(v as f64));
        self.leaf(0, node)
    }
    // Integers past 64 bits are read as the numbers they are, so the field that holds one is
    // refused by its own range check, with the document's other errors, not the whole parse.
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        self.leaf(0, Node::Float(v as f64))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        self.leaf(0, Node::Float(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        self.leaf(0, Node::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        self.leaf(v.len(), Node::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        self.leaf(v.len(), Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        self.charge(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        self.charge(0)?;
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry_seed(self, self)? {
            entries.push((k.key_text(), v));
        }
        Ok(Node::Map(entries))
    }
}

fn document_error(what: &str, message: String) -> PolicyErrors {
    PolicyErrors(vec![PolicyError {
        location: what.into(),
        field: "(document)".into(),
        message,
    }])
}

/// YAML or JSON, chosen by the first character; refused whole when over MAX_POLICY_BYTES. `what`
/// names the document in its errors ("policy", "world file").
pub(crate) fn parse_document(text: &str, what: &str) -> Result<Node, PolicyErrors> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(document_error(
            what,
            format!(
                "{} bytes is over the {MAX_POLICY_BYTES}-byte (1 MB) limit",
                text.len()
            ),
        ));
    }
    // Editors on some systems start a file with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(depth) = too_deep(text) {
        return Err(document_error(
            what,
            format!(
            "nested {depth} levels deep: a policy needs a handful, at most {MAX_DEPTH} are read"
        ),
        ));
    }
    let budget = Cell::new(MAX_TREE_COST);
    let seed = NodeSeed { budget: &budget };
    let yaml = |budget: &Cell<usize>| {
        NodeSeed { budget }.deserialize(serde_norway::Deserializer::from_str(text))
    };
    if text.trim_start().starts_with('{') {
        let mut de = serde_json::Deserializer::from_str(text);
        let json = seed
            .deserialize(&mut de)
            .and_then(|node| de.end().map(|()| node));
        // `{version: 1, ...}` is YAML's flow style, not JSON: read it as YAML before giving up.
        json.or_else(|e| {
            budget.set(MAX_TREE_COST);
            yaml(&budget).map_err(|_| document_error(what, format!("not valid JSON: {e}")))
        })
    } else {
        yaml(&budget).map_err(|e| document_error(what, format!("not valid YAML: {e}")))
    }
}

/// The deepest nesting a policy document may have (brackets and braces of YAML's flow style or
/// JSON): real policies need about five. The YAML parser slows down with the square of the
/// depth, so a document of brackets alone could take an hour within the size limit.
const MAX_DEPTH: usize = 64;

/// The nesting depth of `text`, counted over brackets and braces outside quotes, when it is over
/// [`MAX_DEPTH`].
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut quote, mut escaped) = (0usize, None, false);
    let (mut comment, mut prev) = (false, '\n');
    for c in text.chars() {
        // A comment (`#` at a line's start or after a space) runs to the end of its line.
        if comment {
            comment = c != '\n';
            prev = c;
            continue;
        }
        if quote.is_none() && c == '#' && prev.is_whitespace() {
            comment = true;
            continue;
        }
        prev = c;
        match (quote, c) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(depth);
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        escaped = false;
    }
    None
}
