//! The discrete event queue: a timing wheel over whole milliseconds.
//!
//! Virtual time advances in whole milliseconds, so most events land in one of a few thousand
//! upcoming milliseconds. A timing wheel (Varghese and Lauck) keeps one FIFO bucket per
//! millisecond of the next [`WHEEL_SLOTS`] and a bitmap of the non-empty ones: pushing and
//! popping are O(1), where a binary heap pays O(log n) with a cache miss at each level.
//! Events further ahead wait in a heap and move into the wheel as time reaches them.
//!
//! The events themselves live in one slab; a bucket lists where its events are. An event is
//! written when scheduled and read when due, often hundreds of milliseconds apart, by when it has
//! left the processor's cache; but the place it is written to is the one the last popped event
//! freed (last in, first out), which was just read and is still there. So scheduling writes to
//! warm memory, and only the pop meets cold memory, once an event.
//!
//! Order is total and platform-independent: by time, then by the order of pushing.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use crate::ids::Time;

/// How many milliseconds ahead the wheel holds events directly (a power of two).
pub const WHEEL_SLOTS: usize = 4096;
const MASK: u64 = WHEEL_SLOTS as u64 - 1;
const WORDS: usize = WHEEL_SLOTS / 64;

/// A priority queue of events keyed by virtual time, first-in first-out within a millisecond.
pub struct EventQueue<T> {
    /// No event earlier than this remains; the wheel covers `cursor..cursor + WHEEL_SLOTS`.
    cursor: Time,
    /// Each millisecond's events, as places in `slab`, in push order.
    buckets: Vec<VecDeque<u32>>,
    /// Buffers of buckets that emptied, for buckets about to fill: memory follows the number of
    /// busy milliseconds, not the size of the wheel.
    spare: Vec<VecDeque<u32>>,
    occupied: [u64; WORDS],
    in_wheel: usize,
    /// The events in the wheel, at the places the buckets list.
    slab: Vec<Option<T>>,
    /// Free places in `slab`, the most recently freed last.
    free: Vec<u32>,
    far: BinaryHeap<Reverse<Far<T>>>,
    pushed: u64,
}

impl<T: Clone> Clone for EventQueue<T> {
    /// A copy of every queued event (for snapshots); spare buffers are not copied.
    fn clone(&self) -> Self {
        EventQueue {
            cursor: self.cursor,
            buckets: self.buckets.clone(),
            spare: Vec::new(),
            occupied: self.occupied,
            in_wheel: self.in_wheel,
            slab: self.slab.clone(),
            free: self.free.clone(),
            far: self.far.clone(),
            pushed: self.pushed,
        }
    }
}

/// An event beyond the wheel's horizon, ordered by (time, push order).
#[derive(Clone)]
struct Far<T> {
    time: Time,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Far<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<T> Eq for Far<T> {}
impl<T> PartialOrd for Far<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Far<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            cursor: 0,
            buckets: (0..WHEEL_SLOTS).map(|_| VecDeque::new()).collect(),
            spare: Vec::new(),
            occupied: [0; WORDS],
            in_wheel: 0,
            slab: Vec::new(),
            free: Vec::new(),
            far: BinaryHeap::new(),
            pushed: 0,
        }
    }

    /// How many events wait.
    pub fn len(&self) -> usize {
        self.in_wheel + self.far.len()
    }

    /// The bytes a copy of the queue holds (see its `Clone`): its slab, holes included, the
    /// buckets listing places in it, and the events beyond the wheel.
    pub fn bytes(&self) -> usize {
        use std::mem::size_of;
        let places: usize = self.buckets.iter().map(VecDeque::len).sum::<usize>() + self.free.len();
        self.buckets.len() * size_of::<VecDeque<u32>>()
            + places * size_of::<u32>()
            + self.slab.len() * size_of::<Option<T>>()
            + self.far.len() * size_of::<Far<T>>()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Schedules `item` at `time`. A time before the last popped event's is treated as that time.
    pub fn push(&mut self, time: Time, item: T) {
        let time = time.max(self.cursor);
        self.pushed += 1;
        if time - self.cursor < WHEEL_SLOTS as u64 {
            self.put_in_wheel(time, item);
        } else {
            self.far.push(Reverse(Far {
                time,
                seq: self.pushed,
                item,
            }));
        }
    }

    /// The time of the next event, if any, without removing it.
    pub fn peek_time(&self) -> Option<Time> {
        match self.next_occupied() {
            Some(time) => Some(time),
            None => self.far.peek().map(|Reverse(far)| far.time),
        }
    }

    /// Removes and returns the next event with its time.
    pub fn pop(&mut self) -> Option<(Time, T)> {
        self.pop_until(Time::MAX)
    }

    /// Removes and returns the next event if it is due at or before `limit`.
    pub fn pop_until(&mut self, limit: Time) -> Option<(Time, T)> {
        let time = match self.next_occupied() {
            Some(time) => time,
            None => self.far.peek()?.0.time,
        };
        if time > limit {
            return None;
        }
        self.advance_to(time);
        let slot = (time & MASK) as usize;
        let place = self.buckets[slot].pop_front()?;
        let item = self.slab[place as usize]
            .take()
            .expect("a bucket lists only filled places");
        self.free.push(place);
        self.in_wheel -= 1;
        if self.buckets[slot].is_empty() {
            self.occupied[slot / 64] &= !(1 << (slot % 64));
            self.spare.push(std::mem::take(&mut self.buckets[slot]));
        }
        Some((time, item))
    }

    /// Every waiting event with its time: the wheel in time order, then those beyond it in no
    /// particular (but always the same) order.
    pub fn iter(&self) -> impl Iterator<Item = (Time, &T)> {
        let start = (self.cursor & MASK) as usize;
        let wheel = (0..WHEEL_SLOTS).flat_map(move |step| {
            let slot = (start + step) % WHEEL_SLOTS;
            let occupied = self.occupied[slot / 64] & (1 << (slot % 64)) != 0;
            let time = self.cursor + step as u64;
            occupied
                .then(|| {
                    self.buckets[slot].iter().map(move |place| {
                        let item = self.slab[*place as usize].as_ref();
                        (time, item.expect("a bucket lists only filled places"))
                    })
                })
                .into_iter()
                .flatten()
        });
        let far = self.far.iter().map(|Reverse(far)| (far.time, &far.item));
        wheel.chain(far)
    }

    /// Removes every event.
    pub fn clear(&mut self) {
        for bucket in &mut self.buckets {
            bucket.clear();
        }
        self.occupied = [0; WORDS];
        self.in_wheel = 0;
        self.slab.clear();
        self.free.clear();
        self.far.clear();
    }

    fn put_in_wheel(&mut self, time: Time, item: T) {
        let slot = (time & MASK) as usize;
        let bucket = &mut self.buckets[slot];
        if bucket.capacity() == 0
            && let Some(buffer) = self.spare.pop()
        {
            *bucket = buffer;
        }
        let place = match self.free.pop() {
            Some(place) => {
                self.slab[place as usize] = Some(item);
                place
            }
            None => {
                self.slab.push(Some(item));
                u32::try_from(self.slab.len() - 1).expect("fewer than 4 billion events wait")
            }
        };
        bucket.push_back(place);
        self.occupied[slot / 64] |= 1 << (slot % 64);
        self.in_wheel += 1;
    }

    /// Moves the cursor to `time` and pulls into the wheel the far events it now covers.
    /// Every slot between the old and the new cursor is empty, so the slots they reuse are free.
    fn advance_to(&mut self, time: Time) {
        debug_assert!(time >= self.cursor);
        self.cursor = time;
        let horizon = time + WHEEL_SLOTS as u64;
        while let Some(Reverse(far)) = self.far.peek() {
            if far.time >= horizon {
                break;
            }
            let Some(Reverse(far)) = self.far.pop() else {
                break;
            };
            self.put_in_wheel(far.time, far.item);
        }
    }

    /// The time of the earliest event in the wheel, scanning the bitmap from the cursor.
    fn next_occupied(&self) -> Option<Time> {
        if self.in_wheel == 0 {
            return None;
        }
        let start = (self.cursor & MASK) as usize;
        let (word, bit) = (start / 64, start % 64);
        // The rest of the cursor's word, then whole words, wrapping round once.
        let first = self.occupied[word] & (!0u64 << bit);
        if first != 0 {
            return Some(self.time_of(word * 64 + first.trailing_zeros() as usize, start));
        }
        for step in 1..=WORDS {
            let w = (word + step) % WORDS;
            let bits = if w == word {
                self.occupied[w] & !(!0u64 << bit)
            } else {
                self.occupied[w]
            };
            if bits != 0 {
                return Some(self.time_of(w * 64 + bits.trailing_zeros() as usize, start));
            }
        }
        None
    }

    fn time_of(&self, slot: usize, start: usize) -> Time {
        let distance = (slot + WHEEL_SLOTS - start) % WHEEL_SLOTS;
        self.cursor + distance as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<T>(q: &mut EventQueue<T>) -> Vec<(Time, T)> {
        std::iter::from_fn(|| q.pop()).collect()
    }

    #[test]
    fn pops_in_time_order_then_push_order() {
        let mut q = EventQueue::new();
        q.push(5, "b");
        q.push(3, "a");
        q.push(5, "c");
        q.push(0, "z");
        assert_eq!(drain(&mut q), vec![(0, "z"), (3, "a"), (5, "b"), (5, "c")]);
        assert!(q.is_empty());
    }

    #[test]
    fn far_events_keep_push_order_with_near_ones_at_the_same_time() {
        let mut q = EventQueue::new();
        let t = WHEEL_SLOTS as u64 + 100;
        q.push(t, 1); // far when pushed
        q.push(200, 0);
        assert_eq!(q.pop(), Some((200, 0)));
        q.push(t, 2); // now within the horizon
        assert_eq!(drain(&mut q), vec![(t, 1), (t, 2)]);
    }

    #[test]
    fn wraps_round_the_wheel_many_times() {
        let mut q = EventQueue::new();
        let mut expected = Vec::new();
        for i in 0..50u64 {
            let t = i * 3001;
            q.push(t, i);
            expected.push((t, i));
        }
        assert_eq!(drain(&mut q), expected);
    }

    #[test]
    fn peek_and_pop_until() {
        let mut q = EventQueue::new();
        assert_eq!(q.peek_time(), None);
        q.push(10, ());
        q.push(20_000, ());
        assert_eq!(q.peek_time(), Some(10));
        assert_eq!(q.pop_until(9), None);
        assert_eq!(q.pop_until(10), Some((10, ())));
        assert_eq!(q.peek_time(), Some(20_000));
        assert_eq!(q.pop_until(19_999), None);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn a_push_into_the_past_happens_now() {
        let mut q = EventQueue::new();
        q.push(50, 'a');
        assert_eq!(q.pop(), Some((50, 'a')));
        q.push(10, 'b');
        assert_eq!(q.pop(), Some((50, 'b')));
    }

    #[test]
    fn iter_sees_every_event_near_ones_in_time_order() {
        let mut q = EventQueue::new();
        q.push(30, 'c');
        q.push(10, 'a');
        q.push(WHEEL_SLOTS as u64 * 3, 'z');
        q.push(20, 'b');
        assert_eq!(q.pop(), Some((10, 'a')));
        let seen: Vec<(Time, char)> = q.iter().map(|(t, c)| (t, *c)).collect();
        assert_eq!(
            seen,
            vec![(20, 'b'), (30, 'c'), (WHEEL_SLOTS as u64 * 3, 'z')]
        );
    }

    #[test]
    fn clear_empties() {
        let mut q = EventQueue::new();
        q.push(1, 1);
        q.push(100_000, 2);
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The wheel pops exactly what a sorted list of (time, push order) gives,
        /// whatever the interleaving of pushes and pops.
        #[test]
        fn matches_a_sorted_reference(ops in prop::collection::vec((any::<bool>(), 0u64..30_000), 1..400)) {
            let mut q = EventQueue::new();
            let mut reference: Vec<(Time, u64, usize)> = Vec::new();
            let mut now = 0;
            let mut seq = 0;
            for (i, (pop, delay)) in ops.into_iter().enumerate() {
                if pop {
                    reference.sort();
                    let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                    let got = q.pop();
                    prop_assert_eq!(got, want.map(|(t, _, x)| (t, x)));
                    if let Some((t, _)) = got { now = t; }
                } else {
                    seq += 1;
                    q.push(now + delay, i);
                    reference.push((now + delay, seq, i));
                }
                prop_assert_eq!(q.len(), reference.len());
            }
        }
    }
}
