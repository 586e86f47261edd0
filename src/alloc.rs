//! The binary's allocator: the system's, asking Linux to back large buffers (the log's
//! columns, the features' index: tens to hundreds of MB each) with 2 MiB pages. On a
//! kernel whose transparent huge pages are enabled only on request (`madvise`, a common
//! default) such a buffer otherwise takes one page fault per 4 KiB as it is first written;
//! at 10M events that was a third of a score run's CPU time. Memory use is unchanged:
//! only whole 2 MiB stretches inside a buffer are advised.

use std::alloc::{GlobalAlloc, Layout, System};

pub struct Allocator;

/// Buffers from this size on are advised (smaller ones hold few whole huge pages).
#[cfg(target_os = "linux")]
const LARGE: usize = 4 << 20;
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Advises the whole huge pages inside `len` bytes at `ptr`. Advice only: a kernel
/// without transparent huge pages refuses it, and the buffer works as before.
#[inline]
fn advise(ptr: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    if len >= LARGE && !ptr.is_null() {
        let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
        let end = (ptr as usize + len) & !(HUGE_PAGE - 1);
        if end > start {
            // SAFETY: [start, end) lies inside the live allocation just made, and
            // MADV_HUGEPAGE changes only how its pages are backed, not their contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

// SAFETY: every call is passed to `System` unchanged; `advise` only adds advice on the
// memory `System` returned.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if new_size > layout.size() {
            advise(new, new_size);
        }
        new
    }
}

/// Makes glibc's allocator give every large buffer (128 KiB and up: the log's columns and
/// their pieces) its own pages, returned to the system when the buffer is freed. By
/// default glibc raises that threshold as such buffers are freed and then keeps later ones
/// in its per-thread heaps, where the log's columns, freed as the features' index takes
/// them in, stay in the process's memory: at 10M events the peak was 8% higher.
pub fn return_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread
    // starts, and a refusal (return value 0) leaves glibc's default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
