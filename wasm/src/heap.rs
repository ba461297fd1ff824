//! A small allocator in place of std's dlmalloc (about 7 KB of the module).
//!
//! Power-of-two size classes from 16 bytes, each with a free list threaded through its free
//! blocks; new blocks come from a bump region grown with `memory.grow`. Every block is aligned
//! to its own size (up to a wasm page), so any block of a class suits any layout of that
//! class. Freed blocks are reused for the same class only: the package's allocations repeat
//! (requests, state snapshots, status objects), so the free lists settle at a steady size.
//! wasm32-unknown-unknown without the atomics feature runs one thread, hence no locking.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;

const PAGE: usize = 65_536;
const MIN_SHIFT: u32 = 4;
/// Classes 2^4 … 2^31: more than a wasm32 memory holds.
const CLASSES: usize = 28;

struct Heap {
    /// The first free block of each class (0: none); a free block's first word is the next.
    free: [usize; CLASSES],
    /// The bump region `[next, end)`.
    next: usize,
    end: usize,
}

pub struct Allocator(UnsafeCell<Heap>);

// SAFETY: the target has a single thread (no atomics), so the heap is never shared.
unsafe impl Sync for Allocator {}

impl Allocator {
    pub const fn new() -> Allocator {
        Allocator(UnsafeCell::new(Heap {
            free: [0; CLASSES],
            next: 0,
            end: 0,
        }))
    }
}

impl Default for Allocator {
    fn default() -> Allocator {
        Allocator::new()
    }
}

/// The class index and block size for a layout; `None` when too large.
fn class(layout: &Layout) -> Option<(usize, usize)> {
    let size = layout
        .size()
        .max(layout.align())
        .max(1 << MIN_SHIFT)
        .checked_next_power_of_two()?;
    let index = (size.trailing_zeros() - MIN_SHIFT) as usize;
    (index < CLASSES && layout.align() <= PAGE).then_some((index, size))
}

impl Heap {
    /// Pushes a free block of class `index`.
    ///
    /// # Safety
    /// `block` is an unused block of that class's size, aligned to it.
    unsafe fn push(&mut self, index: usize, block: usize) {
        // SAFETY: the block is unused and at least a word long and aligned.
        unsafe { *(block as *mut usize) = self.free[index] };
        self.free[index] = block;
    }

    /// Hands the 16-aligned range `[from, to)` to the free lists as naturally aligned blocks.
    fn carve(&mut self, mut from: usize, to: usize) {
        while to - from >= 1 << MIN_SHIFT {
            let mut size = 1 << MIN_SHIFT;
            while size < PAGE && from.is_multiple_of(size * 2) && from + size * 2 <= to {
                size *= 2;
            }
            let index = (size.trailing_zeros() - MIN_SHIFT) as usize;
            // SAFETY: the range is unused memory of the bump region, `from` aligned to `size`.
            unsafe { self.push(index, from) };
            from += size;
        }
    }

    /// A new block of `size` (a power of two), aligned to `min(size, PAGE)`, from the bump
    /// region; grows the memory when needed. 0 when the memory cannot grow.
    fn bump(&mut self, size: usize) -> usize {
        let align = size.min(PAGE);
        let mut start = self.next.next_multiple_of(align);
        if self.next == 0 || start.checked_add(size).is_none_or(|end| end > self.end) {
            let pages = size.div_ceil(PAGE) + 1;
            let previous = core::arch::wasm32::memory_grow(0, pages);
            if previous == usize::MAX {
                return 0;
            }
            let base = previous * PAGE;
            if base != self.end {
                // Someone else grew the memory: the rest of the old region is left as blocks.
                self.carve(self.next, self.end);
                self.next = base;
            }
            self.end = base + pages * PAGE;
            start = self.next.next_multiple_of(align);
        }
        self.carve(self.next, start);
        self.next = start + size;
        start
    }
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single thread, and no allocator call re-enters another.
        let heap = unsafe { &mut *self.0.get() };
        let Some((index, size)) = class(&layout) else {
            return std::ptr::null_mut();
        };
        let head = heap.free[index];
        if head != 0 {
            // SAFETY: `head` is a free block of this class; its first word is the next one.
            heap.free[index] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        heap.bump(size) as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let heap = unsafe { &mut *self.0.get() };
        if let Some((index, _)) = class(&layout) {
            // SAFETY: `ptr` was allocated with this layout, so it is a block of this class.
            unsafe { heap.push(index, ptr as usize) };
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees a valid layout of `new_size` with the same alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class(&layout) == class(&new_layout) {
            return ptr;
        }
        // SAFETY: as for any allocation; the blocks do not overlap.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
