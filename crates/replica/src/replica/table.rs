//! The table of requests a node coordinates, by id.
//!
//! Every acknowledgement and reply looks its request up, typically a few hundred milliseconds
//! after the request started, when its state has long left the processor's cache (on a large
//! cluster a node coordinates one request in a thousand). A general hash map costs two or three
//! cache misses there (its control bytes, its entry, and the state if kept apart); this table
//! keeps the id and the state together in one 64-byte line, found by open addressing with
//! linear probing (Knuth, TAOCP 6.4, with deletion by backward shift), at most half full, so a
//! lookup usually costs one miss.

use super::RequestId;

/// A request's state as the table keeps it, with what a free entry holds.
pub(super) trait Vacant: Clone {
    /// What a free entry holds: nothing that keeps memory alive.
    const VACANT: Self;
}

/// One line: a request id (0 if the entry is free: ids start at 1) and its state.
#[derive(Clone, Debug)]
#[repr(align(64))]
struct Entry<T> {
    id: u32,
    pending: T,
}

impl<T: Vacant> Entry<T> {
    fn free() -> Entry<T> {
        Entry {
            id: 0,
            pending: T::VACANT,
        }
    }
}

/// The bytes one entry holding a `T` takes: a cache line, for the coordinator's state.
pub(super) const fn entry_bytes<T>() -> usize {
    std::mem::size_of::<Entry<T>>()
}

/// Requests by id; an entry's index (its "slot") stays valid until the next insertion or
/// removal.
#[derive(Clone, Debug)]
pub(super) struct RequestTable<T> {
    entries: Vec<Entry<T>>,
    len: usize,
}

impl<T> Default for RequestTable<T> {
    fn default() -> Self {
        RequestTable {
            entries: Vec::new(),
            len: 0,
        }
    }
}

const FIRST_CAPACITY: usize = 8;

impl<T: Vacant> RequestTable<T> {
    /// The bytes its entries take (a snapshot of the run copies them).
    pub(super) fn bytes(&self) -> usize {
        self.entries.len() * entry_bytes::<T>()
    }

    /// How many requests it holds (for the tests, which run natively).
    #[cfg(all(test, not(target_arch = "wasm32")))]
    fn len(&self) -> usize {
        self.len
    }

    /// Where `id`'s search starts: Fibonacci hashing (ids are sequential across the cluster,
    /// so their low bits alone would crowd).
    fn home(&self, id: u32) -> usize {
        let bits = self.entries.len().trailing_zeros();
        (u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    fn mask(&self) -> usize {
        self.entries.len() - 1
    }

    /// The slot holding `id`, if any.
    pub(super) fn find(&self, id: RequestId) -> Option<usize> {
        if self.len == 0 || id.0 == 0 {
            return None;
        }
        let mut i = self.home(id.0);
        loop {
            match self.entries[i].id {
                0 => return None,
                found if found == id.0 => return Some(i),
                _ => i = (i + 1) & self.mask(),
            }
        }
    }

    /// The state in `slot` (from [`Self::find`] or [`Self::insert`]).
    pub(super) fn at(&mut self, slot: usize) -> &mut T {
        &mut self.entries[slot].pending
    }

    /// The state of `id`, if it is here.
    pub(super) fn get(&self, id: RequestId) -> Option<&T> {
        self.find(id).map(|slot| &self.entries[slot].pending)
    }

    /// Puts `id` in (replacing its state if it is here); returns its slot. Ids are never 0.
    pub(super) fn insert(&mut self, id: RequestId, pending: T) -> usize {
        assert!(id.0 != 0, "request ids start at 1");
        if let Some(slot) = self.find(id) {
            self.entries[slot].pending = pending;
            return slot;
        }
        if (self.len + 1) * 2 > self.entries.len() {
            self.grow();
        }
        let mut i = self.home(id.0);
        while self.entries[i].id != 0 {
            i = (i + 1) & self.mask();
        }
        self.entries[i] = Entry { id: id.0, pending };
        self.len += 1;
        i
    }

    fn grow(&mut self) {
        let capacity = (self.entries.len() * 2).max(FIRST_CAPACITY);
        let old = std::mem::replace(&mut self.entries, vec![Entry::free(); capacity]);
        self.len = 0;
        for entry in old.into_iter().filter(|e| e.id != 0) {
            self.insert(RequestId(entry.id), entry.pending);
        }
    }

    /// Takes `id` out.
    pub(super) fn remove(&mut self, id: RequestId) -> Option<T> {
        let mut hole = self.find(id)?;
        let pending = std::mem::replace(&mut self.entries[hole], Entry::free()).pending;
        self.len -= 1;
        // Backward shift: every entry after the hole, up to a free one, that the hole now cuts
        // off from its home moves into the hole.
        let mut next = hole;
        loop {
            next = (next + 1) & self.mask();
            let id = self.entries[next].id;
            if id == 0 {
                break;
            }
            let home = self.home(id);
            // Whether `home` lies cyclically in (hole, next]: then the entry is still reachable.
            let reachable = if hole <= next {
                hole < home && home <= next
            } else {
                hole < home || home <= next
            };
            if !reachable {
                self.entries.swap(hole, next);
                hole = next;
            }
        }
        Some(pending)
    }

    /// Every request, by id.
    pub(super) fn iter(&self) -> impl Iterator<Item = (RequestId, &T)> {
        let mut all: Vec<(RequestId, &T)> = self
            .entries
            .iter()
            .filter(|e| e.id != 0)
            .map(|e| (RequestId(e.id), &e.pending))
            .collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all.into_iter()
    }

    /// Takes every request out, by id.
    pub(super) fn drain(&mut self) -> Vec<(RequestId, T)> {
        self.len = 0;
        let mut all: Vec<(RequestId, T)> = std::mem::take(&mut self.entries)
            .into_iter()
            .filter(|e| e.id != 0)
            .map(|e| (RequestId(e.id), e.pending))
            .collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A request's state, as far as the table is concerned: how many answers it needs.
    #[derive(Clone, Debug)]
    struct Needed(u32);

    impl Vacant for Needed {
        const VACANT: Self = Needed(0);
    }

    impl Needed {
        fn needed(&self) -> u32 {
            self.0
        }
    }

    fn write(needed: u32) -> Needed {
        Needed(needed)
    }

    proptest! {
        /// Inserting, removing and finding ids in any order gives what a map would.
        #[test]
        fn behaves_as_a_map(ops in prop::collection::vec((0u8..3, 1u32..200), 1..600)) {
            let mut table = RequestTable::default();
            let mut model: BTreeMap<u32, u32> = BTreeMap::new();
            for (n, (op, id)) in ops.into_iter().enumerate() {
                let n = n as u32;
                match op {
                    0 => {
                        let slot = table.insert(RequestId(id), write(n));
                        model.insert(id, n);
                        prop_assert_eq!(table.find(RequestId(id)), Some(slot));
                    }
                    1 => {
                        let got = table.remove(RequestId(id)).map(|p| p.needed());
                        prop_assert_eq!(got, model.remove(&id));
                    }
                    _ => {
                        let got = table.get(RequestId(id)).map(Needed::needed);
                        prop_assert_eq!(got, model.get(&id).copied());
                    }
                }
                prop_assert_eq!(table.len(), model.len());
            }
            let all: Vec<(u32, u32)> = table.iter().map(|(id, p)| (id.0, p.needed())).collect();
            let expected: Vec<(u32, u32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(all, expected.clone());
            let drained: Vec<(u32, u32)> =
                table.drain().into_iter().map(|(id, p)| (id.0, p.needed())).collect();
            prop_assert_eq!(drained, expected);
            prop_assert_eq!(table.len(), 0);
            prop_assert!(table.get(RequestId(1)).is_none());
        }
    }

    /// A coordinator's ids are sequential, or every n-th when the cluster's requests interleave:
    /// Fibonacci hashing spreads where their searches start, so one is found a slot or so past
    /// its home, not half a table away (as if every id started at the same slot).
    #[test]
    fn sequential_ids_are_found_near_where_their_search_starts() {
        for stride in [1, 3, 64] {
            let mut table = RequestTable::default();
            let ids: Vec<u32> = (1..=400).map(|i| i * stride).collect();
            for &id in &ids {
                table.insert(RequestId(id), write(1));
            }
            let mask = table.mask();
            let past_home: usize = ids
                .iter()
                .map(|&id| {
                    table
                        .find(RequestId(id))
                        .unwrap()
                        .wrapping_sub(table.home(id))
                        & mask
                })
                .sum();
            let mean = past_home as f64 / ids.len() as f64;
            assert!(
                mean < 1.0,
                "stride {stride}: {mean:.2} slots past home on average"
            );
        }
    }

    /// The table grows before it is more than half full, which keeps every search short.
    #[test]
    fn the_table_is_never_more_than_half_full() {
        let mut table = RequestTable::default();
        for id in 1..=300 {
            table.insert(RequestId(id), write(1));
            assert!(
                table.entries.len() >= 2 * table.len(),
                "{} requests in {} slots",
                table.len(),
                table.entries.len()
            );
        }
    }
}
