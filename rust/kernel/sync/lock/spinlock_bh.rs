// SPDX-License-Identifier: GPL-2.0

//! A spinlock that disables softirqs on the local CPU while held.
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)

use super::{
    Backend,
    Lock, //
};
use crate::bindings;

/// Creates a [`SpinLockBh`] initialiser with the given name and a newly-created lock class.
///
/// It uses the name if one is given, otherwise it generates one based on the file name and line
/// number.
#[macro_export]
macro_rules! new_spinlock_bh {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::sync::lock::spinlock_bh::SpinLockBh::new(
            $inner, $crate::optional_name!($($name)?), $crate::static_lock_class!())
    };
}
pub use new_spinlock_bh;

/// A spinlock that disables softirqs (bottom halves) on the local CPU while it is held (C
/// `spin_lock_bh`).
///
/// What a NAPI poll or a transmit (both in softirq context, or with softirqs disabled)
/// shares with process context: taken from process context, the lock cannot be
/// interrupted on the same CPU by a softirq that takes it too.
///
/// # Examples
///
/// ```
/// use kernel::sync::lock::spinlock_bh::SpinLockBh;
///
/// let ring = KBox::pin_init(kernel::new_spinlock_bh!(0u32), GFP_KERNEL)?;
/// *ring.lock() += 1;
/// assert_eq!(*ring.lock(), 1);
/// # Ok::<(), Error>(())
/// ```
pub type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// A kernel `spinlock_t` lock backend that disables softirqs while locked.
pub struct SpinLockBhBackend;

/// A guard of a [`SpinLockBh`]: unlocks it and enables softirqs again when dropped.
pub type SpinLockBhGuard<'a, T> = super::Guard<'a, T, SpinLockBhBackend>;

// SAFETY: The underlying kernel `spinlock_t` object ensures mutual exclusion; `relock` uses
// the default implementation, which calls `lock` again.
unsafe impl Backend for SpinLockBhBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const crate::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: `ptr` is valid for writes, `name` and `key` are valid for reads
        // indefinitely (the trait's requirements).
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: `ptr` points to an initialised lock (the trait's requirements).
        unsafe { bindings::spin_lock_bh(ptr) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: `ptr` points to an initialised lock (the trait's requirements).
        let locked = unsafe { bindings::spin_trylock_bh(ptr) } != 0;
        locked.then_some(())
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: `ptr` is a lock the caller holds, taken by `lock` or `try_lock` (the
        // trait's requirements).
        unsafe { bindings::spin_unlock_bh(ptr) }
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: `ptr` points to an initialised lock (the trait's requirements).
        unsafe { bindings::spin_assert_is_held(ptr) }
    }
}
