//! What the benchmarks share: an allocator that counts live heap bytes and their peak, to
//! report the memory a run needs. Each benchmark is one thread. (`tests/snapshot_memory.rs`
//! counts with it too.)
#![allow(dead_code)] // each user takes what it needs

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their peak, to report the memory a run needs.
struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            // The benchmark runs on one thread: plain loads and stores, not locked
            // read-modify-write instructions, which on every allocation would weigh on the
            // figures this benchmark reports.
            let live = LIVE.load(Ordering::Relaxed) + layout.size();
            LIVE.store(live, Ordering::Relaxed);
            if live > PEAK.load(Ordering::Relaxed) {
                PEAK.store(live, Ordering::Relaxed);
            }
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.store(
            LIVE.load(Ordering::Relaxed) - layout.size(),
            Ordering::Relaxed,
        );
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Heap bytes live now.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts counting the peak afresh, from what is live now; returns that.
pub fn reset_peak() -> usize {
    let live = live();
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// The peak of live heap bytes since the last [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}
