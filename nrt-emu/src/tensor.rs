//! Tensors and tensor sets.
//!
//! - [`Storage`] is one block of emulated memory: device HBM and host memory are both
//!   ordinary host memory here, owned by the emulator (zeroed at allocation) or, after
//!   `nrt_tensor_attach_buffer`, borrowed from the caller.
//! - [`TensorView`] is an `Arc` of a storage plus a byte range. Slices share storage
//!   through it, and in-flight device work holds one, so memory stays valid until the
//!   last user is done even if the caller frees the tensor handle meanwhile.
//! - [`Tensor`] is what an `nrt_tensor_t*` names: a view (replaceable by
//!   `attach_buffer`), a placement, an optional logical core and an output-completion
//!   counter.
//! - [`TensorSet`] is a name → tensor-handle map (`nrt_tensor_set_t*`); it does not own
//!   its tensors, and they are resolved when a model binds the set.
//!
//! Every emulator access to a storage's bytes happens under that storage's lock, so
//! the device threads and the API calls never race each other. Direct access by the
//! caller through `nrt_tensor_get_va` is outside that lock, exactly as with real mapped
//! memory: ordering it against device work is the caller's job.

use crate::error::Failure;
use crate::handle::Registry;
use neuron_sys::{
    nrt_tensor_placement_t, NRT_INVALID, NRT_RESOURCE, NRT_TENSOR_PLACEMENT_DEVICE,
    NRT_TENSOR_PLACEMENT_HOST, NRT_TENSOR_PLACEMENT_VIRTUAL,
};
use parking_lot::{Condvar, Mutex, RwLock};
use std::alloc::Layout;
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Alignment of emulator-owned tensor memory (a cache line, like DMA-friendly buffers).
const ALIGN: usize = 64;

// ---------------------------------------------------------------------------------------
// Memory accounting

/// Device memory in use per logical core, against a per-core limit
/// (`NRT_EMU_CORE_MEMORY_MB`); host tensors are not counted.
pub struct MemoryAccount {
    used: Vec<AtomicU64>,
    limit: u64,
}

impl MemoryAccount {
    /// `cores` logical cores of `limit` bytes each.
    pub fn new(cores: u32, limit: u64) -> MemoryAccount {
        MemoryAccount {
            used: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            limit,
        }
    }

    /// Bytes allocated on `lnc` (0 for a core that does not exist).
    pub fn used(&self, lnc: u32) -> u64 {
        self.used
            .get(lnc as usize)
            .map_or(0, |u| u.load(Ordering::Relaxed))
    }

    /// The per-core limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    fn reserve(&self, lnc: u32, bytes: u64) -> Result<(), Failure> {
        let slot = self
            .used
            .get(lnc as usize)
            .ok_or_else(|| Failure::invalid(format!("core {lnc} does not exist")))?;
        slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
            u.checked_add(bytes).filter(|&n| n <= self.limit)
        })
        .map(|_| ())
        .map_err(|u| {
            Failure::new(
                NRT_RESOURCE,
                format!(
                    "out of device memory on core {lnc}: {bytes} bytes requested, {u} of {} in use",
                    self.limit
                ),
            )
        })
    }

    fn release(&self, lnc: u32, bytes: u64) {
        if let Some(slot) = self.used.get(lnc as usize) {
            slot.fetch_sub(bytes, Ordering::Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Storage

/// One block of tensor memory.
pub struct Storage {
    ptr: NonNull<u8>,
    len: usize,
    /// `Some` when the emulator allocated the block and must free it.
    layout: Option<Layout>,
    /// Serialises the emulator's own reads and writes of the bytes.
    lock: Mutex<()>,
    /// Device memory to give back on drop.
    account: Option<(Arc<MemoryAccount>, u32)>,
}

// SAFETY: `ptr` is either memory this Storage owns or a caller buffer the caller
// promised to keep alive (`attach_buffer`); every emulator access to it takes `lock`,
// so sharing the handle between threads cannot create a data race among them.
unsafe impl Send for Storage {}
// SAFETY: as above: shared access goes through `lock`.
unsafe impl Sync for Storage {}

impl Storage {
    /// Zeroed memory of `len` bytes (`len > 0`), charged to `account` if given.
    fn allocate(
        len: usize,
        account: Option<(Arc<MemoryAccount>, u32)>,
    ) -> Result<Storage, Failure> {
        if let Some((acc, lnc)) = &account {
            acc.reserve(*lnc, len as u64)?;
        }
        let release = |account: &Option<(Arc<MemoryAccount>, u32)>| {
            if let Some((acc, lnc)) = account {
                acc.release(*lnc, len as u64);
            }
        };
        let Ok(layout) = Layout::from_size_align(len.max(1), ALIGN) else {
            release(&account);
            return Err(Failure::new(
                NRT_RESOURCE,
                format!("{len} bytes is too large"),
            ));
        };
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            release(&account);
            return Err(Failure::new(
                NRT_RESOURCE,
                format!("could not allocate {len} bytes of host memory"),
            ));
        };
        Ok(Storage {
            ptr,
            len,
            layout: Some(layout),
            lock: Mutex::new(()),
            account,
        })
    }

    /// A caller's buffer, never freed by the emulator.
    fn borrowed(ptr: NonNull<u8>, len: usize) -> Storage {
        Storage {
            ptr,
            len,
            layout: None,
            lock: Mutex::new(()),
            account: None,
        }
    }

    /// No memory at all (a tensor from `nrt_tensor_allocate_empty`).
    fn empty() -> Storage {
        Storage::borrowed(NonNull::dangling(), 0)
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(layout) = self.layout {
            // SAFETY: `ptr` came from `alloc_zeroed(layout)` and this is the only free.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
        if let Some((acc, lnc)) = &self.account {
            acc.release(*lnc, self.len as u64);
        }
    }
}

// ---------------------------------------------------------------------------------------
// TensorView

/// A byte range of a storage. Cheap to clone; keeps the storage alive.
#[derive(Clone)]
pub struct TensorView {
    storage: Arc<Storage>,
    offset: usize,
    len: usize,
}

impl TensorView {
    fn whole(storage: Storage) -> TensorView {
        let len = storage.len;
        TensorView {
            storage: Arc::new(storage),
            offset: 0,
            len,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the view has no bytes (an empty tensor).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Address of the first byte (NULL for an empty view).
    pub fn as_ptr(&self) -> *mut u8 {
        if self.len == 0 {
            return std::ptr::null_mut();
        }
        // SAFETY: offset < storage.len, so the result stays inside the allocation.
        unsafe { self.storage.ptr.as_ptr().add(self.offset) }
    }

    /// The storage index of `[offset, offset + len)` of this view, if it lies inside.
    fn range(&self, offset: usize, len: usize) -> Result<usize, neuron_sys::NRT_STATUS> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(self.offset + offset),
            _ => Err(NRT_INVALID),
        }
    }

    /// Whether `[offset, offset + len)` lies inside the view.
    pub fn contains(&self, offset: usize, len: usize) -> bool {
        self.range(offset, len).is_ok()
    }

    /// Copy bytes `[offset, offset + out.len())` into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), neuron_sys::NRT_STATUS> {
        // SAFETY: `out` is a valid, exclusively borrowed buffer of out.len() bytes.
        unsafe { self.read_raw(offset, out.as_mut_ptr(), out.len()) }
    }

    /// Copy `data` into the view at `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), neuron_sys::NRT_STATUS> {
        // SAFETY: `data` is a valid buffer of data.len() bytes.
        unsafe { self.write_raw(offset, data.as_ptr(), data.len()) }
    }

    /// Copy `len` bytes at `offset` to the caller memory `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `len` bytes. It may overlap this storage (a
    /// caller can pass another tensor's VA): the copy is a `memmove`.
    pub unsafe fn read_raw(
        &self,
        offset: usize,
        dst: *mut u8,
        len: usize,
    ) -> Result<(), neuron_sys::NRT_STATUS> {
        let start = self.range(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        let _g = self.storage.lock.lock();
        // SAFETY: start + len <= storage.len (range), the storage is alive (we hold the
        // Arc), emulator access is serialised by the lock, and `dst` is the caller's
        // promise; `copy` tolerates overlap.
        unsafe { std::ptr::copy(self.storage.ptr.as_ptr().add(start), dst, len) };
        Ok(())
    }

    /// Copy `len` bytes from the caller memory `src` into the view at `offset`.
    ///
    /// # Safety
    /// `src` must be valid for reads of `len` bytes (it may overlap this storage).
    pub unsafe fn write_raw(
        &self,
        offset: usize,
        src: *const u8,
        len: usize,
    ) -> Result<(), neuron_sys::NRT_STATUS> {
        let start = self.range(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        let _g = self.storage.lock.lock();
        // SAFETY: as in `read_raw`, with the storage as destination.
        unsafe { std::ptr::copy(src, self.storage.ptr.as_ptr().add(start), len) };
        Ok(())
    }

    /// Set `len` bytes at `offset` to `value`.
    pub fn fill(&self, offset: usize, len: usize, value: u8) -> Result<(), neuron_sys::NRT_STATUS> {
        let start = self.range(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        let _g = self.storage.lock.lock();
        // SAFETY: start + len <= storage.len, storage alive, serialised by the lock.
        unsafe { std::ptr::write_bytes(self.storage.ptr.as_ptr().add(start), value, len) };
        Ok(())
    }

    /// Copy `len` bytes from `self[src_off..]` to `dst[dst_off..]` (overlap allowed).
    pub fn copy_to(
        &self,
        src_off: usize,
        dst: &TensorView,
        dst_off: usize,
        len: usize,
    ) -> Result<(), neuron_sys::NRT_STATUS> {
        let from = self.range(src_off, len)?;
        let to = dst.range(dst_off, len)?;
        if len == 0 {
            return Ok(());
        }
        let (a, b) = (&self.storage, &dst.storage);
        // Two storages are locked in address order, so two opposite copies cannot deadlock.
        let _guards = if Arc::ptr_eq(a, b) {
            (a.lock.lock(), None)
        } else if Arc::as_ptr(a) < Arc::as_ptr(b) {
            let g = a.lock.lock();
            (g, Some(b.lock.lock()))
        } else {
            let g = b.lock.lock();
            (g, Some(a.lock.lock()))
        };
        // SAFETY: both ranges were checked against their storages, both storages are
        // alive (Arcs held) and locked; `copy` handles a shared storage's overlap.
        unsafe { std::ptr::copy(a.ptr.as_ptr().add(from), b.ptr.as_ptr().add(to), len) };
        Ok(())
    }

    /// A sub-range sharing this view's storage.
    pub fn slice(&self, offset: usize, len: usize) -> Result<TensorView, neuron_sys::NRT_STATUS> {
        let start = self.range(offset, len)?;
        Ok(TensorView {
            storage: self.storage.clone(),
            offset: start,
            len,
        })
    }

    /// Whether `[ptr, ptr + len)` lies inside this view's bytes.
    pub fn covers(&self, ptr: *const u8, len: usize) -> bool {
        let base = self.as_ptr() as usize;
        let p = ptr as usize;
        self.len > 0 && p >= base && p.checked_add(len).is_some_and(|end| end <= base + self.len)
    }

    /// Whether two views share one storage.
    pub fn same_storage(&self, other: &TensorView) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// The emulator-owned allocation size of the storage (the caller's size for a
    /// borrowed buffer).
    pub fn allocation_size(&self) -> usize {
        self.storage.len
    }
}

// ---------------------------------------------------------------------------------------
// Tensor

struct Binding {
    placement: nrt_tensor_placement_t,
    lnc: Option<u32>,
    view: TensorView,
}

/// What an `nrt_tensor_t*` names.
pub struct Tensor {
    name: String,
    binding: RwLock<Binding>,
    /// Times an execution finished writing this tensor as an output.
    completions: AtomicU64,
}

impl Tensor {
    fn new(
        name: &str,
        placement: nrt_tensor_placement_t,
        lnc: Option<u32>,
        view: TensorView,
    ) -> Tensor {
        Tensor {
            name: name.to_string(),
            binding: RwLock::new(Binding {
                placement,
                lnc,
                view,
            }),
            completions: AtomicU64::new(0),
        }
    }

    /// The name given at allocation ("" when none).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The logical core of a device tensor; `None` for host and virtual memory.
    pub fn lnc(&self) -> Option<u32> {
        self.binding.read().lnc
    }

    /// `NRT_TENSOR_PLACEMENT_*`.
    pub fn placement(&self) -> nrt_tensor_placement_t {
        self.binding.read().placement
    }

    /// The tensor's bytes now (an empty view for a tensor without storage).
    pub fn view(&self) -> TensorView {
        self.binding.read().view.clone()
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.binding.read().view.len()
    }

    /// Record that an execution finished writing this output (wakes
    /// `nrt_tensor_check_output_completion` waiters).
    pub fn mark_output_complete(&self) {
        self.completions.fetch_add(1, Ordering::Release);
        let _g = COMPLETION_LOCK.lock();
        COMPLETION.notify_all();
    }

    /// The output-completion counter.
    pub fn completion_count(&self) -> u64 {
        self.completions.load(Ordering::Acquire)
    }

    /// Set the output-completion counter to 0.
    pub fn reset_completion(&self) {
        self.completions.store(0, Ordering::Release);
    }

    /// Wait until the completion counter reaches `expected`; `None` waits without limit.
    /// Returns whether it did. Gives up early (false) once `alive` says the runtime closed.
    pub fn wait_completion(
        &self,
        expected: u64,
        timeout: Option<Duration>,
        alive: impl Fn() -> bool,
    ) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut g = COMPLETION_LOCK.lock();
        loop {
            if self.completion_count() >= expected {
                return true;
            }
            if !alive() {
                return false;
            }
            // A bounded wait even without a deadline, so a close is noticed.
            let step = Duration::from_millis(100);
            let until = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    (d - now).min(step)
                }
                None => step,
            };
            COMPLETION.wait_for(&mut g, until);
        }
    }
}

static COMPLETION_LOCK: Mutex<()> = Mutex::new(());
static COMPLETION: Condvar = Condvar::new();

static TENSORS: Registry<Tensor> = Registry::new();

/// The live tensor named by a C handle: `NRT_INVALID` for NULL, freed or foreign pointers.
pub fn lookup(ptr: *const neuron_sys::nrt_tensor_t) -> Result<Arc<Tensor>, neuron_sys::NRT_STATUS> {
    TENSORS.get(ptr as usize).ok_or(NRT_INVALID)
}

/// The live tensor with handle number `handle`.
pub fn lookup_handle(handle: usize) -> Option<Arc<Tensor>> {
    TENSORS.get(handle)
}

/// Number of live tensor handles.
pub fn live_count() -> usize {
    TENSORS.len()
}

/// Allocate a tensor. `vnc` must name a visible core for DEVICE; HOST and VIRTUAL
/// accept -1 (the documented value) or any visible core, which they ignore.
pub fn allocate(
    placement: nrt_tensor_placement_t,
    vnc: i32,
    size: usize,
    name: &str,
    memory: &Arc<MemoryAccount>,
    visible_cores: u32,
    virtual_supported: bool,
) -> Result<usize, Failure> {
    if size == 0 {
        return Err(Failure::invalid("a tensor of 0 bytes"));
    }
    let core_ok = vnc >= 0 && (vnc as u32) < visible_cores;
    let (lnc, account) = match placement {
        NRT_TENSOR_PLACEMENT_DEVICE => {
            if !core_ok {
                return Err(Failure::invalid(format!(
                    "device tensor on core {vnc}, but cores 0..{visible_cores} are visible"
                )));
            }
            (Some(vnc as u32), Some((memory.clone(), vnc as u32)))
        }
        NRT_TENSOR_PLACEMENT_HOST | NRT_TENSOR_PLACEMENT_VIRTUAL => {
            if placement == NRT_TENSOR_PLACEMENT_VIRTUAL && !virtual_supported {
                return Err(Failure::invalid(
                    "NRT_TENSOR_PLACEMENT_VIRTUAL is not supported since SDK 2.30",
                ));
            }
            if vnc != -1 && !core_ok {
                return Err(Failure::invalid(format!(
                    "host tensor with vnc {vnc}: pass -1 or a visible core"
                )));
            }
            (None, None)
        }
        other => {
            return Err(Failure::invalid(format!(
                "unknown tensor placement {other}"
            )))
        }
    };
    let storage = Storage::allocate(size, account)?;
    let tensor = Tensor::new(name, placement, lnc, TensorView::whole(storage));
    Ok(TENSORS.insert(Arc::new(tensor)))
}

/// A tensor without storage.
pub fn allocate_empty(name: &str) -> usize {
    let t = Tensor::new(
        name,
        NRT_TENSOR_PLACEMENT_VIRTUAL,
        None,
        TensorView::whole(Storage::empty()),
    );
    TENSORS.insert(Arc::new(t))
}

/// Make the caller's `buffer` the tensor's storage (placement becomes VIRTUAL).
///
/// # Safety
/// `buffer` must stay valid for reads and writes of `size` bytes for as long as the
/// tensor, any slice of it, or device work using it exists (the vendor's contract).
pub unsafe fn attach_buffer(handle: usize, buffer: *mut u8, size: usize) -> Result<(), Failure> {
    let t = TENSORS
        .get(handle)
        .ok_or_else(|| Failure::invalid("not a live tensor"))?;
    let Some(ptr) = NonNull::new(buffer) else {
        return Err(Failure::invalid("buffer is NULL"));
    };
    if size == 0 {
        return Err(Failure::invalid("buffer size is 0"));
    }
    let mut b = t.binding.write();
    // The previous storage is released when its last view goes (slices keep it).
    b.view = TensorView::whole(Storage::borrowed(ptr, size));
    b.placement = NRT_TENSOR_PLACEMENT_VIRTUAL;
    b.lnc = None;
    Ok(())
}

/// A new tensor viewing `[offset, offset + size)` of `source`'s storage.
pub fn allocate_slice(
    source: usize,
    offset: usize,
    size: usize,
    name: &str,
) -> Result<usize, Failure> {
    let src = TENSORS
        .get(source)
        .ok_or_else(|| Failure::invalid("source is not a live tensor"))?;
    if size == 0 {
        return Err(Failure::invalid("a slice of 0 bytes"));
    }
    let (placement, lnc, view) = {
        let b = src.binding.read();
        (b.placement, b.lnc, b.view.clone())
    };
    let slice = view.slice(offset, size).map_err(|s| {
        Failure::new(
            s,
            format!(
                "slice [{offset}, +{size}) is outside the source's {} bytes",
                view.len()
            ),
        )
    })?;
    Ok(TENSORS.insert(Arc::new(Tensor::new(name, placement, lnc, slice))))
}

/// Drop the handle; storage goes with the last view. Returns whether it was live.
pub fn free(handle: usize) -> bool {
    TENSORS.remove(handle).is_some()
}

/// The live tensor whose memory contains `[ptr, ptr + len)` (for `nrt_memcpy_to_device`).
pub fn find_by_address(ptr: *const u8, len: usize) -> Option<TensorView> {
    TENSORS
        .snapshot()
        .into_iter()
        .map(|(_, t)| t.view())
        .find(|v| v.covers(ptr, len))
}

// ---------------------------------------------------------------------------------------
// Tensor sets

/// A name → tensor-handle map.
#[derive(Default)]
pub struct TensorSet {
    entries: Mutex<BTreeMap<String, usize>>,
}

impl TensorSet {
    /// Add or replace `name`.
    pub fn add(&self, name: &str, tensor: usize) {
        self.entries.lock().insert(name.to_string(), tensor);
    }

    /// The tensor handle stored under `name`.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.entries.lock().get(name).copied()
    }

    /// The live tensor under `name`: `Err(None)` when the name is absent,
    /// `Err(Some(handle))` when it names a tensor that was freed.
    pub fn resolve(&self, name: &str) -> Result<Arc<Tensor>, Option<usize>> {
        let h = self.get(name).ok_or(None)?;
        TENSORS.get(h).ok_or(Some(h))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

static SETS: Registry<TensorSet> = Registry::new();

/// A new empty tensor set.
pub fn set_allocate() -> usize {
    SETS.insert(Arc::new(TensorSet::default()))
}

/// The live tensor set named by a C handle.
pub fn set_lookup(
    ptr: *const neuron_sys::nrt_tensor_set_t,
) -> Result<Arc<TensorSet>, neuron_sys::NRT_STATUS> {
    SETS.get(ptr as usize).ok_or(NRT_INVALID)
}

/// Destroy a set (not its tensors). Returns whether it was live.
pub fn set_destroy(handle: usize) -> bool {
    SETS.remove(handle).is_some()
}

/// Forget every tensor and set (at `nrt_close`); memory goes once in-flight work ends.
pub fn clear_all() {
    drop(SETS.clear());
    drop(TENSORS.clear());
    let _g = COMPLETION_LOCK.lock();
    COMPLETION.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> Arc<MemoryAccount> {
        Arc::new(MemoryAccount::new(2, 1 << 20))
    }

    #[test]
    fn read_write_copy_fill_and_bounds() {
        let m = mem();
        let h = allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "t", &m, 2, true).unwrap();
        let t = TENSORS.get(h).unwrap();
        let v = t.view();
        v.write(4, &[1, 2, 3]).unwrap();
        let mut out = [9u8; 8];
        v.read(2, &mut out).unwrap();
        assert_eq!(out, [0, 0, 1, 2, 3, 0, 0, 0]);
        assert_eq!(v.write(14, &[1, 2, 3]), Err(NRT_INVALID));
        assert_eq!(v.read(usize::MAX, &mut out), Err(NRT_INVALID));
        v.copy_to(4, &v, 5, 3).unwrap();
        v.read(4, &mut out[..4]).unwrap();
        assert_eq!(&out[..4], &[1, 1, 2, 3], "overlapping copy is a memmove");
        v.fill(0, 16, 7).unwrap();
        v.read(0, &mut out).unwrap();
        assert_eq!(out, [7; 8]);
        assert_eq!(m.used(0), 16);
        assert!(free(h));
        drop((t, v));
        assert_eq!(m.used(0), 0, "memory returns with the last view");
    }

    #[test]
    fn slices_share_storage_and_outlive_the_source() {
        let m = mem();
        let h = allocate(NRT_TENSOR_PLACEMENT_DEVICE, 1, 8, "", &m, 2, true).unwrap();
        let s = allocate_slice(h, 4, 4, "s").unwrap();
        TENSORS
            .get(h)
            .unwrap()
            .view()
            .write(4, &[5, 6, 7, 8])
            .unwrap();
        assert!(free(h));
        let mut out = [0u8; 4];
        TENSORS.get(s).unwrap().view().read(0, &mut out).unwrap();
        assert_eq!(out, [5, 6, 7, 8]);
        assert_eq!(m.used(1), 8);
        assert!(allocate_slice(s, 1, 4, "").is_err(), "beyond the slice");
        free(s);
        assert_eq!(m.used(1), 0);
        assert!(!free(s), "second free is refused");
    }

    #[test]
    fn memory_limit_is_enforced() {
        let m = Arc::new(MemoryAccount::new(1, 100));
        let a = allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 60, "", &m, 1, true).unwrap();
        let e = allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 60, "", &m, 1, true).unwrap_err();
        assert_eq!(e.status, NRT_RESOURCE);
        free(a);
        let b = allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 60, "", &m, 1, true).unwrap();
        free(b);
    }
}
