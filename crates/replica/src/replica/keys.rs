//! A process's key table: the number of each key's text, in order of first use. A replica
//! indexes its store by these numbers, as a storage engine indexes interned keys; they mean
//! something only inside one process, so between processes a key travels as its text and is
//! interned again where it arrives ([`super::wire`]).

use std::rc::Rc;

use crate::hash::FastMap;
use crate::ids::{Key, KeyId, key_hash};

/// Every key one process has met: its text, its number and its hash.
#[derive(Clone, Debug, Default)]
pub struct KeyTable {
    names: Vec<Rc<str>>,
    hashes: Vec<u64>,
    /// Looked up on every request; never iterated (its order is arbitrary).
    ids: FastMap<Rc<str>, KeyId>,
}

impl KeyTable {
    /// The key named `name`, numbering it if it is new.
    pub fn intern(&mut self, name: &str) -> Key {
        if let Some(&id) = self.ids.get(name) {
            return self.key(id);
        }
        let id = KeyId(self.names.len() as u32);
        let name: Rc<str> = name.into();
        self.hashes.push(key_hash(&name));
        self.names.push(name.clone());
        self.ids.insert(name, id);
        self.key(id)
    }

    /// The id of `name`, if it was ever used.
    pub fn id(&self, name: &str) -> Option<KeyId> {
        self.ids.get(name).copied()
    }

    /// Key `id` with its hash.
    pub fn key(&self, id: KeyId) -> Key {
        Key {
            id,
            hash: self.hashes[id.index()],
        }
    }

    /// The text of key `id`.
    pub fn name(&self, id: KeyId) -> &Rc<str> {
        &self.names[id.index()]
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no key was ever used.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every key's id, in order of first use.
    pub fn all(&self) -> impl Iterator<Item = KeyId> + use<> {
        (0..self.names.len() as u32).map(KeyId)
    }

    /// Every key with its id, in alphabetical order.
    pub fn sorted(&self) -> impl Iterator<Item = (&Rc<str>, KeyId)> {
        let mut sorted: Vec<_> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| (name, KeyId(i as u32)))
            .collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        sorted.into_iter()
    }

    /// Roughly the bytes a copy of the table copies (the texts are shared): per key its
    /// pointer and hash, and the map's entry with its control byte, in a map between 4/7 and
    /// 7/8 full (half again as many slots as keys, on average).
    pub fn bytes(&self) -> usize {
        use std::mem::size_of;
        let n = self.names.len();
        n * (size_of::<Rc<str>>() + size_of::<u64>())
            + n * 3 / 2 * (size_of::<(Rc<str>, KeyId)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_numbered_once_in_order_of_first_use() {
        let mut keys = KeyTable::default();
        assert!(keys.is_empty());
        assert_eq!((keys.len(), keys.bytes()), (0, 0));
        let b = keys.intern("b");
        let a = keys.intern("a");
        assert_eq!(keys.intern("b"), b, "the same text, the same key");
        assert!(!keys.is_empty());
        assert_eq!(keys.len(), 2);
        assert_eq!((b.id, a.id), (KeyId(0), KeyId(1)));
        assert_eq!(a.hash, key_hash("a"));
        assert_eq!(keys.key(a.id), a);
        assert_eq!(&**keys.name(b.id), "b");
        assert_eq!(keys.id("a"), Some(a.id));
        assert_eq!(keys.id("c"), None);
        assert_eq!(keys.all().collect::<Vec<_>>(), [KeyId(0), KeyId(1)]);
        let sorted: Vec<_> = keys
            .sorted()
            .map(|(name, id)| (name.to_string(), id))
            .collect();
        assert_eq!(sorted, [("a".into(), a.id), ("b".into(), b.id)]);
    }
}
