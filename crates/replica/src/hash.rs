//! A fast, fixed hash for the core's own maps (key names, request ids), looked up on every client
//! request and many deliveries. The standard SipHash resists flooding by chosen keys, which a
//! simulator in one person's browser does not need, at several times the cost; this is the
//! multiply-rotate hash rustc uses for its own tables (FxHash). Being unseeded it is also
//! deterministic, though nothing may depend on a map's order anyway.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A `HashSet` with [`FastHasher`].
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// FxHash: each word is folded in with a rotate, an xor and a multiply.
#[derive(Clone, Copy, Default)]
pub struct FastHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        // The tail in pieces of four, two and one bytes, each read whole (copying it into a
        // word first would stall on the copy's small stores).
        let mut rest = chunks.remainder();
        if let Some((four, tail)) = rest.split_first_chunk::<4>() {
            self.add(u64::from(u32::from_le_bytes(*four)));
            rest = tail;
        }
        if let Some((two, tail)) = rest.split_first_chunk::<2>() {
            self.add(u64::from(u16::from_le_bytes(*two)));
            rest = tail;
        }
        if let Some(&one) = rest.first() {
            self.add(u64::from(one));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_differ_only_past_a_word_hash_apart() {
        let hash = |s: &str| {
            let mut h = FastHasher::default();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_ne!(hash("key-number-1"), hash("key-number-2"));
        assert_ne!(hash("a"), hash("b"));
        assert_eq!(hash("same"), hash("same"));
    }

    #[test]
    fn a_map_keyed_by_names_finds_them() {
        let mut map: FastMap<String, u32> = FastMap::default();
        for i in 0..1000 {
            map.insert(format!("key{i}"), i);
        }
        assert!((0..1000).all(|i| map[&format!("key{i}")] == i));
    }
}
