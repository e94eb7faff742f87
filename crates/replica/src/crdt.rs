//! Conflict-free replicated data types on the dotted versions every path already carries: an
//! observed-remove set (add wins) and a PN-counter, as Riak's data types offer them.
//!
//! Both are built on the kernel that version vectors use ([`ConflictMode::merge`]): a key holds
//! the versions no other version's context covers. What changes is who chooses the context. Under
//! version vectors the client passes what it read; here the coordinator takes it from its own
//! state, as a Riak vnode does when it applies an operation to a data type:
//!
//! - **OR-Set.** Each element present is a version whose value is the element (several, if
//!   added concurrently). `add x` replaces the versions of `x` the coordinator holds; `remove x`
//!   is a tombstone whose context covers them, so it removes exactly the adds it observed, and an
//!   add it did not observe (concurrent) survives: add wins. Both also cover the tombstones the
//!   coordinator holds, taking in what those knew, so tombstones fold into the next operation
//!   instead of piling up. This is the add-wins set of the delta-CRDT papers (Almeida et al.
//!   2018), with its causal context kept per version.
//! - **PN-counter.** Each node that counted keeps one version: its totals of increments and
//!   decrements (the P and N of Shapiro et al. 2011). A node's new entry replaces its previous
//!   one (its context is the node's earlier dots of the key); the value is the sum over nodes.
//!
//! Replicas that hold the same updates hold the same state, whatever order and however often the
//! updates arrived: the merge is a join. The value a client reads is [`merged_value`].

use std::rc::Rc;

use crate::clock::{CausalContext, VersionVector};
use crate::ids::NodeId;
use crate::version::{ConflictMode, Value, Version};

/// The longest element of a set, or text of an operation, in characters.
pub const MAX_OP_CHARS: usize = crate::ids::MAX_VALUE_CHARS;

/// One update of a CRDT, as a client asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Add an element to a set.
    Add(Value),
    /// Remove an element from a set (the adds of it the coordinator has seen).
    Remove(Value),
    /// Remove every element the coordinator has seen (a delete of a set).
    Clear,
    /// Add this much to a counter (negative: subtract).
    Increment(i64),
}

impl Op {
    /// Reads a client's write under `mode`: for a set, `+milk` (or `milk`) adds and `-milk`
    /// removes, and a delete clears; for a counter, a whole number such as `+3` or `-2`.
    /// Errors are short sentences for the person who typed the write.
    pub fn parse(mode: ConflictMode, value: Option<&str>) -> Result<Op, String> {
        match mode {
            ConflictMode::OrSet => {
                let Some(text) = value.map(str::trim) else {
                    return Ok(Op::Clear);
                };
                let (remove, element) = match text.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, text.strip_prefix('+').unwrap_or(text)),
                };
                let element = element.trim();
                if element.is_empty() {
                    return Err(format!(
                        "\"{text}\" names no element: write +milk to add milk to the set, -milk to remove it"
                    ));
                }
                let element: Value = element.into();
                Ok(if remove {
                    Op::Remove(element)
                } else {
                    Op::Add(element)
                })
            }
            ConflictMode::Counter => {
                let Some(text) = value else {
                    return Err(
                        "a counter cannot be deleted (no data type can undo increments it has \
                         not seen); add a negative number instead"
                            .to_string(),
                    );
                };
                let number = text.trim().strip_prefix('+').unwrap_or(text.trim());
                match number.parse::<i64>() {
                    Ok(n) if n.unsigned_abs() <= MAX_INCREMENT => Ok(Op::Increment(n)),
                    Ok(_) => Err(format!(
                        "an increment must be at most {MAX_INCREMENT} either way"
                    )),
                    Err(_) => Err(format!(
                        "\"{}\" is not a whole number: a counter takes increments such as +3 or -2",
                        text.trim()
                    )),
                }
            }
            _ => Err("this conflict rule has no data types".to_string()),
        }
    }
}

/// The largest increment one write may make: a billion, so that a counter's totals cannot
/// overflow in any run the simulator can hold.
pub const MAX_INCREMENT: u64 = 1_000_000_000;

/// What a coordinator writes for `op` on a key of which it holds `held`: the version's value
/// (None: a tombstone) and its context. The write's dot is `(node, seq)`; `own` is the
/// coordinator's totals for a counter (see [`CounterEntry`]), counted here.
pub fn prepare(
    op: &Op,
    held: &[Rc<Version>],
    node: NodeId,
    seq: u32,
    own: &mut CounterEntry,
) -> (Option<Value>, CausalContext) {
    let mut context = CausalContext::new();
    // What every operation takes in: the tombstones the coordinator holds, with what they knew.
    for v in held.iter().filter(|v| v.is_tombstone()) {
        v.known_into(&mut context);
    }
    match op {
        Op::Add(element) | Op::Remove(element) => {
            for v in held.iter().filter(|v| v.value.as_ref() == Some(element)) {
                v.known_into(&mut context);
            }
            let value = matches!(op, Op::Add(_)).then(|| element.clone());
            (value, context)
        }
        Op::Clear => {
            for v in held {
                v.known_into(&mut context);
            }
            (None, context)
        }
        Op::Increment(by) => {
            // The node's new entry replaces its earlier ones: every dot of it before this one.
            context.join(&CausalContext::from(VersionVector::from_pairs([(
                node,
                seq - 1,
            )])));
            own.add(*by);
            (Some(own.encode(*by)), context)
        }
    }
}

/// One node's totals in a PN-counter: what it has added and what it has subtracted, each only
/// growing, so that the larger of two entries of a node is the later one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterEntry {
    /// The sum of the node's increments.
    pub up: u64,
    /// The sum of the node's decrements (as a positive number).
    pub down: u64,
}

impl CounterEntry {
    /// Counts `by` (negative: a decrement).
    pub fn add(&mut self, by: i64) {
        if by >= 0 {
            self.up = self.up.saturating_add(by.unsigned_abs());
        } else {
            self.down = self.down.saturating_add(by.unsigned_abs());
        }
    }

    /// Takes back an increment of `by` counted by [`Self::add`] (a write refused after it was
    /// prepared).
    pub fn take_back(&mut self, by: i64) {
        if by >= 0 {
            self.up = self.up.saturating_sub(by.unsigned_abs());
        } else {
            self.down = self.down.saturating_sub(by.unsigned_abs());
        }
    }

    /// The entry's worth: increments less decrements.
    pub fn value(self) -> i128 {
        i128::from(self.up) - i128::from(self.down)
    }

    /// The entry as a version's value, with the increment that made it first, for people
    /// reading messages: `+3 (p5 n2)`.
    pub fn encode(self, by: i64) -> Value {
        format!("{by:+} (p{} n{})", self.up, self.down).into()
    }

    /// Reads a value [`Self::encode`] wrote: the increment and the entry; None for any other text.
    pub fn decode(value: &str) -> Option<(i64, CounterEntry)> {
        let (by, rest) = value.split_once(" (p")?;
        let (up, rest) = rest.split_once(" n")?;
        let down = rest.strip_suffix(')')?;
        Some((
            by.parse().ok()?,
            CounterEntry {
                up: up.parse().ok()?,
                down: down.parse().ok()?,
            },
        ))
    }
}

/// The value a client reads from `versions` under a data type's rule: a set's elements,
/// sorted, as `{bread, milk}`, or a counter's total. None under the other rules, or when
/// nothing is held.
pub fn merged_value(mode: ConflictMode, versions: &[Rc<Version>]) -> Option<String> {
    if versions.is_empty() {
        return None;
    }
    match mode {
        ConflictMode::OrSet => {
            let mut elements: Vec<&str> =
                versions.iter().filter_map(|v| v.value.as_deref()).collect();
            elements.sort_unstable();
            elements.dedup();
            // An element that could be read as several (a comma) or as the set's own marks is
            // quoted, as JSON quotes a string.
            let shown: Vec<String> = elements
                .into_iter()
                .map(|e| {
                    if e.contains([',', '{', '}', '"']) {
                        serde_json::Value::from(e).to_string()
                    } else {
                        e.to_string()
                    }
                })
                .collect();
            Some(format!("{{{}}}", shown.join(", ")))
        }
        ConflictMode::Counter => {
            let total: i128 = versions
                .iter()
                .filter_map(|v| CounterEntry::decode(v.value.as_deref()?))
                .map(|(_, entry)| entry.value())
                .sum();
            Some(total.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_read_from_what_a_person_types() {
        let set = ConflictMode::OrSet;
        assert_eq!(Op::parse(set, Some("+milk")), Ok(Op::Add("milk".into())));
        assert_eq!(Op::parse(set, Some("milk")), Ok(Op::Add("milk".into())));
        assert_eq!(
            Op::parse(set, Some("- milk ")),
            Ok(Op::Remove("milk".into()))
        );
        assert_eq!(Op::parse(set, None), Ok(Op::Clear));
        assert!(Op::parse(set, Some(" - ")).unwrap_err().contains("+milk"));
        let counter = ConflictMode::Counter;
        assert_eq!(Op::parse(counter, Some("+3")), Ok(Op::Increment(3)));
        assert_eq!(Op::parse(counter, Some(" -2")), Ok(Op::Increment(-2)));
        assert_eq!(Op::parse(counter, Some("7")), Ok(Op::Increment(7)));
        assert!(
            Op::parse(counter, Some("three"))
                .unwrap_err()
                .contains("whole number")
        );
        assert!(Op::parse(counter, Some("1000000001")).is_err());
        assert!(Op::parse(counter, Some("-1000000000")).is_ok());
        assert!(
            Op::parse(counter, None)
                .unwrap_err()
                .contains("cannot be deleted")
        );
        assert!(Op::parse(ConflictMode::VersionVectors, Some("+1")).is_err());
    }

    #[test]
    fn a_set_reads_as_its_elements_sorted_once_each_with_commas_quoted() {
        let version = |value: Option<&str>| {
            Rc::new(Version {
                write: crate::ids::WriteId(1),
                key: crate::ids::Key::new(crate::ids::KeyId(0), "k"),
                value: value.map(Into::into),
                stamp: crate::clock::Stamp {
                    millis: 0,
                    node: NodeId(1),
                    seq: 1,
                },
                context: CausalContext::new(),
                created: 0,
            })
        };
        let held = [
            version(Some("milk")),
            version(None),
            version(Some("bread, eggs")),
            version(Some("milk")),
        ];
        assert_eq!(
            merged_value(ConflictMode::OrSet, &held).as_deref(),
            Some(r#"{"bread, eggs", milk}"#)
        );
        assert_eq!(
            merged_value(ConflictMode::OrSet, &held[1..2]).as_deref(),
            Some("{}")
        );
        assert_eq!(merged_value(ConflictMode::OrSet, &[]), None);
        assert_eq!(merged_value(ConflictMode::VersionVectors, &held), None);
        assert_eq!(
            merged_value(ConflictMode::Counter, &held).as_deref(),
            Some("0")
        );
    }

    #[test]
    fn a_counter_entry_reads_back_what_it_wrote() {
        let mut entry = CounterEntry::default();
        entry.add(5);
        entry.add(-2);
        assert_eq!(entry.value(), 3);
        assert_eq!(&*entry.encode(-2), "-2 (p5 n2)");
        assert_eq!(CounterEntry::decode("-2 (p5 n2)"), Some((-2, entry)));
        assert_eq!(CounterEntry::decode("Alice"), None);
        assert_eq!(CounterEntry::decode("+1 (p1 n)"), None);
        entry.take_back(-2);
        entry.take_back(5);
        assert_eq!(entry, CounterEntry { up: 0, down: 0 });
    }
}
