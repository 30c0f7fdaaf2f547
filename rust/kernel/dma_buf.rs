// SPDX-License-Identifier: GPL-2.0

//! Importing DMA buffers shared by another driver (dma-buf).
//!
//! An importer takes a [`DmaBuf`] from a file descriptor that userspace passed in, attaches
//! it to its device and maps it for DMA: a [`Mapping`] gives the scatter-gather table of the
//! buffer's DMA addresses, and undoes the mapping and the attachment when dropped.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)

use crate::{
    device::Device,
    dma::DataDirection,
    error::from_err_ptr,
    prelude::*,
    scatterlist::SGTable,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};
use core::ptr::NonNull;

/// A shared DMA buffer (C `struct dma_buf`).
///
/// # Invariants
///
/// The buffer is alive: references to it come from [`ARef<DmaBuf>`], which holds a reference
/// on its file.
///
/// # Examples
///
/// ```
/// use kernel::dma_buf::DmaBuf;
///
/// // A descriptor that is not open is refused.
/// assert_eq!(DmaBuf::from_fd(-1).err(), Some(EBADF));
/// ```
#[repr(transparent)]
pub struct DmaBuf(Opaque<bindings::dma_buf>);

// SAFETY: A dma-buf is a refcounted kernel object meant to be shared between drivers and
// threads; its methods synchronize internally.
unsafe impl Send for DmaBuf {}
// SAFETY: See above.
unsafe impl Sync for DmaBuf {}

// SAFETY: `get_dma_buf` and `dma_buf_put` take and drop a reference on the buffer's file,
// which keeps the buffer alive.
unsafe impl AlwaysRefCounted for DmaBuf {
    fn inc_ref(&self) {
        // SAFETY: The buffer is alive (type invariant).
        unsafe { bindings::get_dma_buf(self.as_raw()) }
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it owned.
        unsafe { bindings::dma_buf_put(obj.as_ptr().cast()) }
    }
}

impl DmaBuf {
    /// Takes a reference to the dma-buf behind the file descriptor `fd` (C `dma_buf_get`).
    ///
    /// Fails with `EBADF` when `fd` is not open and `EINVAL` when it is not a dma-buf.
    pub fn from_fd(fd: i32) -> Result<ARef<Self>> {
        // SAFETY: `dma_buf_get` accepts any integer and checks it.
        let ptr = from_err_ptr(unsafe { bindings::dma_buf_get(fd) })?;
        // SAFETY: `dma_buf_get` returned a buffer with a reference that we now own.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(ptr.cast::<Self>())) })
    }

    /// Returns the pointer to the C buffer.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::dma_buf {
        self.0.get()
    }

    /// The size of the buffer in bytes.
    #[inline]
    pub fn size(&self) -> usize {
        // SAFETY: The buffer is alive; `size` is fixed when it is exported.
        unsafe { (*self.as_raw()).size }
    }
}

/// A dma-buf attached to a device and mapped for DMA in one direction.
///
/// Dropping it unmaps the buffer, detaches it from the device and drops the reference on
/// the buffer, in that order.
///
/// # Invariants
///
/// `attach` is an attachment of `buf` and `sgt` its mapping in direction `dir`, both made
/// by [`Mapping::new`] and undone only by `drop`.
pub struct Mapping {
    buf: ARef<DmaBuf>,
    attach: NonNull<bindings::dma_buf_attachment>,
    sgt: NonNull<bindings::sg_table>,
    dir: DataDirection,
}

// SAFETY: The attachment and mapping belong to this object alone and the C functions that
// undo them may run on any thread.
unsafe impl Send for Mapping {}
// SAFETY: Shared access only reads the table, which is fixed while the mapping lives.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Attaches `buf` to `dev` and maps it for DMA in direction `dir`
    /// (C `dma_buf_attach` and `dma_buf_map_attachment_unlocked`).
    ///
    /// The exporter decides what fails: a device it cannot reach, memory it cannot map.
    pub fn new(buf: ARef<DmaBuf>, dev: &Device, dir: DataDirection) -> Result<Self> {
        // SAFETY: Both objects are alive; the attachment is undone below or in `drop`.
        let attach = from_err_ptr(unsafe { bindings::dma_buf_attach(buf.as_raw(), dev.as_raw()) })?;
        // SAFETY: `attach` was just made and is valid.
        let sgt = unsafe { bindings::dma_buf_map_attachment_unlocked(attach, dir.into()) };
        let sgt = match from_err_ptr(sgt) {
            Ok(sgt) => sgt,
            Err(e) => {
                // SAFETY: `attach` is an attachment of `buf` that nothing else uses.
                unsafe { bindings::dma_buf_detach(buf.as_raw(), attach) };
                return Err(e);
            }
        };
        // INVARIANT: `attach` and `sgt` were made here, for `buf`, in direction `dir`.
        Ok(Self {
            buf,
            // SAFETY: `from_err_ptr` returned a valid (non-null) pointer.
            attach: unsafe { NonNull::new_unchecked(attach) },
            // SAFETY: As above.
            sgt: unsafe { NonNull::new_unchecked(sgt) },
            dir,
        })
    }

    /// The buffer that is mapped.
    #[inline]
    pub fn dma_buf(&self) -> &DmaBuf {
        &self.buf
    }

    /// The scatter-gather table of the mapping: the DMA address and length of each chunk.
    #[inline]
    pub fn sg_table(&self) -> &SGTable {
        // SAFETY: The table is valid while the mapping lives (type invariant), which bounds
        // the returned lifetime.
        unsafe { SGTable::from_raw(self.sgt.as_ptr()) }
    }

    /// The direction of the mapping.
    #[inline]
    pub fn direction(&self) -> DataDirection {
        self.dir
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `sgt` is the mapping of `attach` in `dir` and
        // `attach` an attachment of `buf`; neither is used after this.
        unsafe {
            bindings::dma_buf_unmap_attachment_unlocked(
                self.attach.as_ptr(),
                self.sgt.as_ptr(),
                self.dir.into(),
            );
            bindings::dma_buf_detach(self.buf.as_raw(), self.attach.as_ptr());
        }
    }
}
