//! Helpers shared by the fuzz targets of `fuzz_targets/`: a JSON reading that keeps what
//! `serde_json::Value` loses (member order and repeated members), for oracles that must see
//! every copy of a member a client might read.

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A JSON document as written: object members in order, repeats kept; scalars as `Value`s.
#[derive(Debug)]
pub enum Tree {
    /// A string, number, boolean or null.
    Leaf(Value),
    /// An array.
    Array(Vec<Tree>),
    /// An object's members in order, repeated names included.
    Object(Vec<(String, Tree)>),
}

impl Tree {
    /// Every value of the members named `key` of an object's `members`.
    pub fn members<'a>(
        members: &'a [(String, Tree)],
        key: &'a str,
    ) -> impl Iterator<Item = &'a Tree> {
        members
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

impl<'de> serde::Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tree, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tree;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Tree, E> {
                Ok(Tree::Leaf(b.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Tree, E> {
                Ok(Tree::Leaf(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Tree, E> {
                Ok(Tree::Leaf(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Tree, E> {
                Ok(Tree::Leaf(n.into()))
            }
            fn visit_str<E>(self, s: &str) -> Result<Tree, E> {
                Ok(Tree::Leaf(s.into()))
            }
            fn visit_unit<E>(self) -> Result<Tree, E> {
                Ok(Tree::Leaf(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Tree, A::Error> {
                let mut v = Vec::new();
                while let Some(t) = s.next_element()? {
                    v.push(t);
                }
                Ok(Tree::Array(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Tree, A::Error> {
                let mut v = Vec::new();
                while let Some((k, t)) = m.next_entry::<String, Tree>()? {
                    v.push((k, t));
                }
                Ok(Tree::Object(v))
            }
        }
        d.deserialize_any(V)
    }
}
