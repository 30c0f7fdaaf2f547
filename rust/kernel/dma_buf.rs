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
    sync::aref::{
        ARef,
        AlwaysRefCounted, //
    },
    types::Opaque, //
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
/// Dropping it unmaps the buffer, detaches it from the device and drops the references on
/// the buffer and on the device, in that order.
///
/// The mapping holds a reference on the device: an importer may keep it past the unbinding
/// or the removal of the device's driver (devmem keeps a binding's mapping until userspace
/// gives back every buffer it holds), and the attachment and the unmap use the device's
/// `struct device`, which must still be there (dma-buf attachments do not refcount it).
///
/// # Invariants
///
/// `attach` is an attachment of `buf` to `dev` and `sgt` its mapping in direction `dir`,
/// both made by [`Mapping::new`] and undone only by `drop`.
pub struct Mapping {
    buf: ARef<DmaBuf>,
    // Dropped after `drop` has unmapped and detached (fields drop after `Drop::drop`).
    _dev: ARef<Device>,
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
        // INVARIANT: `attach` and `sgt` were made here, for `buf` and `dev`, in direction
        // `dir`.
        Ok(Self {
            buf,
            _dev: dev.into(),
            // SAFETY: `from_err_ptr` returned a valid (non-null) pointer.
            attach: unsafe { NonNull::new_unchecked(attach) },
            // SAFETY: `from_err_ptr` returned a valid (non-null) pointer for the table too.
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

/// A dma-buf exporter and a DMA-capable device for KUnit tests of dma-buf importers.
#[cfg(CONFIG_KUNIT)]
pub mod kunit {
    use super::*;
    use crate::{
        error::to_result,
        ffi::{c_uint, c_ulong},
        page::{Page, PAGE_SIZE},
    };
    use core::{
        ffi::c_void,
        sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    };

    /// How many mock buffers have been released so far.
    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    /// The number of mock buffers released since boot: a test compares it before and after.
    pub fn released() -> usize {
        RELEASED.load(Ordering::Relaxed)
    }

    /// The exporter side of the test: a buffer of `PAGES` pages, mapped for whichever device
    /// attaches, counting its maps and unmaps.
    pub struct Mock {
        pages: KVec<Page>,
        maps: AtomicUsize,
        unmaps: AtomicUsize,
        fail_map: AtomicBool,
    }

    /// The `Mock` of a buffer made by `export`.
    ///
    /// # Safety
    ///
    /// `dmabuf` must be a live buffer made by `export`: its `priv` is a `Mock` that lives
    /// until `release`.
    unsafe fn mock_of<'a>(dmabuf: *mut bindings::dma_buf) -> &'a Mock {
        // SAFETY: See above.
        unsafe { &*(*dmabuf).priv_.cast::<Mock>() }
    }

    /// Maps the mock buffer's pages for the attached device.
    ///
    /// # Safety
    ///
    /// Called by the dma-buf core with a live attachment of a buffer made by `export`.
    unsafe extern "C" fn map(
        attach: *mut bindings::dma_buf_attachment,
        dir: bindings::dma_data_direction,
    ) -> *mut bindings::sg_table {
        // SAFETY: `attach` is a live attachment of a mock buffer.
        let (mock, dev) = unsafe { (mock_of((*attach).dmabuf), (*attach).dev) };
        if mock.fail_map.load(Ordering::Relaxed) {
            return ENOMEM.to_ptr();
        }
        let pages = mock.pages.len();
        let mut ptrs = KVec::with_capacity(pages, GFP_KERNEL).unwrap_or_default();
        for page in mock.pages.iter() {
            if ptrs.push(page.as_ptr(), GFP_KERNEL).is_err() {
                return ENOMEM.to_ptr();
            }
        }
        let Ok(sgt) = KBox::new(pin_init::zeroed::<bindings::sg_table>(), GFP_KERNEL) else {
            return ENOMEM.to_ptr();
        };
        let sgt = KBox::into_raw(sgt);
        // CAST: the buffer size is a few pages.
        let size = (pages * PAGE_SIZE) as c_ulong;
        // SAFETY: `sgt` is a zeroed table and `ptrs` holds `pages` live pages.
        let ret = unsafe {
            bindings::sg_alloc_table_from_pages_segment(
                sgt,
                ptrs.as_mut_ptr(),
                // CAST: a test buffer has a few pages.
                pages as c_uint,
                0,
                size,
                c_uint::MAX,
                GFP_KERNEL.as_raw(),
            )
        };
        let ret = if ret == 0 {
            // SAFETY: The table is filled; `dev` is the attached device.
            unsafe { bindings::dma_map_sgtable(dev, sgt, dir, 0) }
        } else {
            ret
        };
        if ret != 0 {
            // SAFETY: `sgt` came from `KBox::into_raw` above; freeing a zeroed or filled table
            // is allowed.
            unsafe {
                bindings::sg_free_table(sgt);
                drop(KBox::from_raw(sgt));
            }
            return Error::from_errno(ret).to_ptr();
        }
        mock.maps.fetch_add(1, Ordering::Relaxed);
        sgt
    }

    /// Undoes `map`.
    ///
    /// # Safety
    ///
    /// Called by the dma-buf core with a live attachment of a buffer made by `export` and
    /// the table `map` returned for it.
    unsafe extern "C" fn unmap(
        attach: *mut bindings::dma_buf_attachment,
        sgt: *mut bindings::sg_table,
        dir: bindings::dma_data_direction,
    ) {
        // SAFETY: `attach` is a live attachment of a mock buffer and `sgt` its mapping made
        // by `map`.
        unsafe {
            let mock = mock_of((*attach).dmabuf);
            bindings::dma_unmap_sgtable((*attach).dev, sgt, dir, 0);
            bindings::sg_free_table(sgt);
            drop(KBox::from_raw(sgt));
            mock.unmaps.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Frees the `Mock` when the buffer's last reference is gone.
    ///
    /// # Safety
    ///
    /// Called by the dma-buf core once, for a buffer made by `export`.
    unsafe extern "C" fn release(dmabuf: *mut bindings::dma_buf) {
        // SAFETY: The last reference is gone: the `Mock` made by `export` is ours again.
        drop(unsafe { KBox::from_raw((*dmabuf).priv_.cast::<Mock>()) });
        RELEASED.fetch_add(1, Ordering::Relaxed);
    }

    static MOCK_OPS: bindings::dma_buf_ops = bindings::dma_buf_ops {
        map_dma_buf: Some(map),
        unmap_dma_buf: Some(unmap),
        release: Some(release),
        ..pin_init::zeroed()
    };

    /// Exports a mock buffer of `npages` pages; returns it and its `Mock`, which lives as
    /// long as the buffer.
    pub fn export(npages: usize) -> Result<(ARef<DmaBuf>, *const Mock)> {
        let mut pages = KVec::with_capacity(npages, GFP_KERNEL)?;
        for _ in 0..npages {
            pages.push(Page::alloc_page(GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mock = KBox::into_raw(KBox::new(
            Mock {
                pages,
                maps: AtomicUsize::new(0),
                unmaps: AtomicUsize::new(0),
                fail_map: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?);
        let info = bindings::dma_buf_export_info {
            exp_name: c"rust-dma-buf-test".as_char_ptr(),
            owner: core::ptr::null_mut(),
            ops: &MOCK_OPS,
            size: npages * PAGE_SIZE,
            // CAST: `O_RDWR` is a small flag.
            flags: bindings::O_RDWR as c_int,
            resv: core::ptr::null_mut(),
            priv_: mock.cast::<c_void>(),
        };
        // SAFETY: `info` is complete; on success the buffer owns `mock` (freed in `release`).
        match from_err_ptr(unsafe { bindings::dma_buf_export(&info) }) {
            // SAFETY: `dma_buf_export` returned a buffer with a reference that we own.
            Ok(buf) => Ok((
                unsafe { ARef::from_raw(NonNull::new_unchecked(buf.cast())) },
                mock,
            )),
            Err(e) => {
                // SAFETY: The export failed, so `mock` is still ours.
                drop(unsafe { KBox::from_raw(mock) });
                Err(e)
            }
        }
    }

    /// A KUnit device that can reach all memory; unregistered when the test ends.
    pub fn test_device() -> Result<&'static Device> {
        // SAFETY: Called from a KUnit test, which has a current test.
        let test = unsafe { bindings::kunit_get_current_test() };
        // SAFETY: `test` is the running test; the name is a static C string.
        let dev = from_err_ptr(unsafe {
            bindings::kunit_device_register(test, c"rust-dma-buf".as_char_ptr())
        })?;
        // SAFETY: `dev` is a live device; a 64-bit mask is valid for it.
        to_result(unsafe { bindings::dma_set_mask_and_coherent(dev, u64::MAX) })?;
        // SAFETY: KUnit keeps the device registered until the test ends, after the test
        // function returns, so it outlives every use in the test.
        Ok(unsafe { Device::from_raw(dev) })
    }

    impl Mock {
        /// How many times the buffer was mapped.
        pub fn maps(&self) -> usize {
            self.maps.load(Ordering::Relaxed)
        }

        /// How many times the buffer was unmapped.
        pub fn unmaps(&self) -> usize {
            self.unmaps.load(Ordering::Relaxed)
        }

        /// Makes the next maps fail with `ENOMEM`.
        pub fn fail_maps(&self, fail: bool) {
            self.fail_map.store(fail, Ordering::Relaxed);
        }
    }
}

#[macros::kunit_tests(rust_dma_buf)]
mod tests {
    use super::kunit::{export, test_device};
    use super::*;
    use crate::page::PAGE_SIZE;

    const PAGES: usize = 4;

    #[test]
    fn map_walk_and_unmap_on_drop() -> Result {
        let dev = test_device()?;
        let (buf, mock) = export(PAGES)?;
        // SAFETY: `mock` lives as long as `buf`, which we hold until the end.
        let mock = unsafe { &*mock };
        assert_eq!(buf.size(), PAGES * PAGE_SIZE);

        let mapping = Mapping::new(buf.clone(), dev, DataDirection::FromDevice)?;
        assert_eq!(mock.maps(), 1);
        assert_eq!(mapping.dma_buf().size(), PAGES * PAGE_SIZE);
        let mut total = 0;
        for sg in mapping.sg_table().iter() {
            assert!(sg.dma_address() != 0);
            // CAST: a segment length is at most the buffer size.
            total += sg.dma_len() as usize;
        }
        assert_eq!(total, PAGES * PAGE_SIZE);

        drop(mapping);
        assert_eq!(mock.unmaps(), 1);
        Ok(())
    }

    #[test]
    fn a_failed_map_detaches() -> Result {
        let dev = test_device()?;
        let (buf, mock) = export(PAGES)?;
        // SAFETY: `mock` lives as long as `buf`, which we hold until the end.
        let mock = unsafe { &*mock };
        mock.fail_maps(true);

        let r = Mapping::new(buf.clone(), dev, DataDirection::FromDevice);
        assert_eq!(r.err(), Some(ENOMEM));
        assert_eq!(mock.maps(), 0);
        // The attachment was undone: the buffer's list of attachments is empty again.
        // SAFETY: `buf` is alive and nothing attaches to it concurrently; reading the list
        // head only.
        let empty = unsafe {
            let head = &raw mut (*buf.as_raw()).attachments;
            (*head).next == head
        };
        assert!(empty);
        Ok(())
    }
}
