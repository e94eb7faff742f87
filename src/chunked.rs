//! A growing list whose copies share storage: the records of a run (every write, every
//! request) are kept in chunks behind reference counts, so the snapshots time travel takes
//! copy a pointer per chunk, not every record. Changing an item copies its chunk only if a
//! snapshot still shares it (copy on write); appending touches only the last chunk.

use std::ops::{Index, IndexMut, Range};
use std::rc::Rc;

/// Items in chunks of a fixed capacity; a group of items pushed together never straddles two
/// chunks (see [`Chunked::push_group`]), so it can be read as one slice.
#[derive(Clone, Debug)]
pub struct Chunked<T> {
    chunks: Vec<Rc<Vec<T>>>,
    /// Items per chunk: a power of two, so finding an item shifts and masks (a division by a
    /// number known only at run time costs tens of cycles, on every access).
    capacity: usize,
    shift: u32,
    len: usize,
    /// How many chunks at the front were forgotten (see [`Chunked::forget_before`]).
    dropped: usize,
}

impl<T: Clone> Chunked<T> {
    /// An empty list with chunks of at least `capacity` items (rounded up to a power of two).
    pub fn new(capacity: usize) -> Chunked<T> {
        let capacity = capacity.max(1).next_power_of_two();
        Chunked {
            chunks: Vec::new(),
            capacity,
            shift: capacity.trailing_zeros(),
            len: 0,
            dropped: 0,
        }
    }

    /// How many items (padding included: see [`Self::push_group`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The index of the first item kept: 0, unless earlier ones were forgotten.
    pub fn first(&self) -> usize {
        self.dropped << self.shift
    }

    /// Forgets the items before `index`, a whole chunk at a time (the chunk holding `index`,
    /// and the last one, stay): their memory goes once no copy shares it. Indexes do not
    /// change; a forgotten item is no longer there for `get`, `iter` or a slice.
    pub fn forget_before(&mut self, index: usize) {
        let whole = (index.min(self.len) >> self.shift).saturating_sub(self.dropped);
        let whole = whole.min(self.chunks.len().saturating_sub(1));
        self.chunks.drain(..whole);
        self.dropped += whole;
    }

    /// The last chunk, with room for `n` more items (a new chunk if needed, the old one padded
    /// with `pad` up to its capacity).
    fn room(&mut self, n: usize, pad: impl Fn() -> T) -> &mut Vec<T> {
        let full = self
            .chunks
            .last()
            .is_none_or(|c| c.len() + n > self.capacity);
        if full {
            if let Some(last) = self.chunks.last_mut() {
                let missing = self.capacity - last.len();
                if missing > 0 {
                    unshare(last).extend(std::iter::repeat_with(&pad).take(missing));
                    self.len += missing;
                }
            }
            self.chunks.push(Rc::new(Vec::with_capacity(self.capacity)));
        }
        unshare(self.chunks.last_mut().expect("a chunk with room"))
    }

    /// Appends one item.
    pub fn push(&mut self, item: T) {
        let chunk = self.room(1, || unreachable!("one item always fits a fresh chunk"));
        chunk.push(item);
        self.len += 1;
    }

    /// Appends `items` as one group that [`Self::slice`] can read whole: if they do not fit the
    /// last chunk, it is padded with `pad` and they start a new one. Returns where they start.
    /// A group may not be longer than the chunk capacity.
    pub fn push_group(
        &mut self,
        items: impl ExactSizeIterator<Item = T>,
        pad: impl Fn() -> T,
    ) -> usize {
        let n = items.len();
        assert!(n <= self.capacity, "a group of {n} items fits no chunk");
        let chunk = self.room(n, pad);
        chunk.extend(items);
        self.len += n;
        self.len - n
    }

    /// Which chunk and where in it.
    #[inline]
    fn locate(&self, index: usize) -> (usize, usize) {
        // Every chunk but the last holds exactly `capacity` items (padding included). A
        // forgotten item's chunk comes out past the end (wrapping), so it is not found.
        (
            (index >> self.shift).wrapping_sub(self.dropped),
            index & (self.capacity - 1),
        )
    }

    /// Asks the processor to start loading item `index` into its cache (a hint, for an item
    /// that will be needed after some other work; nothing happens where there is no such hint).
    #[inline]
    pub fn prefetch(&self, index: usize) {
        #[cfg(target_arch = "x86_64")]
        if let Some(item) = self.get(index) {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: a prefetch only hints; it reads nothing and faults on no address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>((item as *const T).cast::<i8>()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = index;
    }

    /// The item at `index`, if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        if index >= self.len {
            return None;
        }
        let (c, i) = self.locate(index);
        self.chunks.get(c)?.get(i)
    }

    /// The item at `index` to change, if there is one (its chunk is copied if shared).
    #[inline(always)]
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        if index >= self.len {
            return None;
        }
        let (c, i) = self.locate(index);
        unshare(self.chunks.get_mut(c)?).get_mut(i)
    }

    /// The items of a group pushed with [`Self::push_group`] (or any range within one chunk).
    pub fn slice(&self, range: Range<usize>) -> &[T] {
        let (c, i) = self.locate(range.start);
        &self.chunks[c][i..i + range.len()]
    }

    /// The same, to change.
    pub fn slice_mut(&mut self, range: Range<usize>) -> &mut [T] {
        let (c, i) = self.locate(range.start);
        &mut unshare(&mut self.chunks[c])[i..i + range.len()]
    }

    /// Every item, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The items from `start` on (from the first kept, if it was forgotten), in order.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &T> + '_ {
        let (c, i) = self.locate(start.clamp(self.first(), self.len));
        self.chunks
            .iter()
            .skip(c)
            .enumerate()
            .flat_map(move |(k, chunk)| chunk[if k == 0 { i } else { 0 }..].iter())
    }
}

/// The chunk, to change: copied first if a snapshot shares it. `Rc::make_mut` does the same,
/// but as a call on every change; the check that it is not shared, the common case, is inlined.
#[inline(always)]
fn unshare<T: Clone>(chunk: &mut Rc<Vec<T>>) -> &mut Vec<T> {
    if Rc::get_mut(chunk).is_none() {
        *chunk = Rc::new(chunk.as_ref().clone());
    }
    Rc::get_mut(chunk).expect("a chunk no snapshot shares")
}

impl<T: Clone> Index<usize> for Chunked<T> {
    type Output = T;

    #[inline]
    fn index(&self, index: usize) -> &T {
        self.get(index).expect("index within the list")
    }
}

impl<T: Clone> IndexMut<usize> for Chunked<T> {
    #[inline(always)]
    fn index_mut(&mut self, index: usize) -> &mut T {
        self.get_mut(index).expect("index within the list")
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn behaves_as_a_vec_and_copies_do_not_see_later_changes(
            ops in prop::collection::vec((0u8..4, 0usize..400, 0u32..1000, 1usize..9), 1..300),
            capacity in 8usize..20,
        ) {
            let mut list = Chunked::new(capacity);
            let mut model: Vec<u32> = Vec::new();
            let mut groups: Vec<(usize, Vec<u32>)> = Vec::new();
            let mut copies = Vec::new();
            for (op, at, value, n) in ops {
                match op {
                    0 => {
                        list.push(value);
                        model.push(value);
                    }
                    1 => {
                        let items: Vec<u32> = (0..n as u32).map(|k| value + k).collect();
                        let start = list.push_group(items.clone().into_iter(), || 0);
                        model.resize(start, 0);
                        model.extend(&items);
                        groups.push((start, items));
                    }
                    3 => {
                        // Forget the front: whole chunks before `at`, never the last one.
                        let before = list.first();
                        list.forget_before(at);
                        prop_assert!(list.first() >= before && list.first() <= at.max(before));
                        prop_assert_eq!(list.first() % list.capacity, 0);
                    }
                    _ if model.len() > list.first() => {
                        let i = list.first() + at % (model.len() - list.first());
                        copies.push((list.clone(), model.clone()));
                        list[i] = value;
                        model[i] = value;
                    }
                    _ => {}
                }
                prop_assert_eq!(list.len(), model.len());
            }
            let first = list.first();
            prop_assert!(first <= model.len());
            prop_assert_eq!(list.iter().copied().collect::<Vec<_>>(), model[first..].to_vec());
            for from in [0, model.len() / 3, model.len()] {
                let from_kept = from.max(first);
                prop_assert_eq!(list.iter_from(from).copied().collect::<Vec<_>>(), model[from_kept..].to_vec());
            }
            for (i, item) in model.iter().enumerate() {
                prop_assert_eq!(list.get(i), (i >= first).then_some(item), "item {}", i);
            }
            for (copy, then) in copies {
                let kept = copy.first();
                prop_assert_eq!(copy.iter().copied().collect::<Vec<_>>(), then[kept..].to_vec());
            }
            for (start, items) in groups.into_iter().filter(|(start, _)| *start >= first) {
                let now = &model[start..start + items.len()];
                prop_assert_eq!(list.slice(start..start + items.len()), now);
            }
        }
    }
}
