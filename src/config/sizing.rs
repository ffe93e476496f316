//! [`RingSizing`]: the validated per-ring sizing of a tensormap_and_ringbuffer
//! run (task window, heap, dependency pool of each ring). The resolver builds
//! it once; the arena cache keys on it and the engine, rings, pools and
//! TensorMap receive it. Every constructor checks the schema's rule, so a
//! value of these types is valid by construction and converts to `usize` /
//! `u32` without narrowing casts.

use super::error::ConfigError;
use super::model::check_window_sum;
use super::schema::{self, Knob, RING_COUNT};

fn checked(knob: Knob, ring: Option<usize>, v: u64) -> Result<u64, ConfigError> {
    let spec = schema::spec(knob);
    if spec.rule.check(v) {
        Ok(v)
    } else {
        Err(ConfigError::InvalidValue { knob: spec.name, ring, value: v.to_string(), rule: spec.rule_text() })
    }
}

/// Task slots of one ring (`ring_task_window`): a power of two in the
/// schema's range (at most 2^30, so it fits `u32` and `usize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskWindow(u32);

impl TaskWindow {
    /// Checks `v` against the `ring_task_window` rule; `ring` names the ring in the error.
    pub fn new(ring: Option<usize>, v: u64) -> Result<TaskWindow, ConfigError> {
        let v = checked(Knob::RingTaskWindow, ring, v)?;
        let w = u32::try_from(v).expect("the window rule bounds it by INT32_MAX");
        Ok(TaskWindow(w))
    }
    /// Slots.
    #[inline]
    pub fn get(self) -> u32 {
        self.0
    }
    /// Slots, as an index bound.
    #[inline]
    pub fn slots(self) -> usize {
        self.0 as usize
    }
    /// Slots, as a 64-bit count.
    #[inline]
    pub fn to_u64(self) -> u64 {
        u64::from(self.0)
    }
}

/// Heap bytes of one ring (`ring_heap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeapBytes(u64);

impl HeapBytes {
    /// Checks `v` against the `ring_heap` rule; `ring` names the ring in the error.
    pub fn new(ring: Option<usize>, v: u64) -> Result<HeapBytes, ConfigError> {
        checked(Knob::RingHeap, ring, v).map(HeapBytes)
    }
    /// Bytes.
    #[inline]
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Dependency-pool entries of one ring (`ring_dep_pool`; bounded by INT32_MAX).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DepPool(u32);

impl DepPool {
    /// Checks `v` against the `ring_dep_pool` rule; `ring` names the ring in the error.
    pub fn new(ring: Option<usize>, v: u64) -> Result<DepPool, ConfigError> {
        let v = checked(Knob::RingDepPool, ring, v)?;
        Ok(DepPool(u32::try_from(v).expect("the dep-pool rule bounds it by INT32_MAX")))
    }
    /// Entries.
    #[inline]
    pub fn get(self) -> u32 {
        self.0
    }
    /// Entries, as an index bound.
    #[inline]
    pub fn entries(self) -> usize {
        self.0 as usize
    }
}

/// The sizes of one ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RingSize {
    /// Task window.
    pub window: TaskWindow,
    /// Heap.
    pub heap: HeapBytes,
    /// Dependency pool (also the fanin spill pool's capacity).
    pub dep_pool: DepPool,
}

/// The sizes of all rings: each value satisfies its knob's rule and the
/// windows sum to at most INT32_MAX (one task-id space). Hashable: it is the
/// arena cache's key. Whether the heaps fit the address space together is
/// decided where they are mapped (the arena: [`RingSizing::total_heap`] is
/// `None` when their sum overflows `u64`), as for every other allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RingSizing {
    rings: [RingSize; RING_COUNT],
}

impl RingSizing {
    /// Checks the cross-ring rule (window sum) over valid rings.
    pub fn new(rings: [RingSize; RING_COUNT]) -> Result<RingSizing, ConfigError> {
        check_window_sum(&rings.map(|r| r.window.to_u64()), "resolved")?;
        Ok(RingSizing { rings })
    }

    /// Checks raw per-ring values (windows, heaps, dep pools) against the schema.
    pub fn from_values(
        windows: [u64; RING_COUNT],
        heaps: [u64; RING_COUNT],
        dep_pools: [u64; RING_COUNT],
    ) -> Result<RingSizing, ConfigError> {
        let mut rings = [RingSizing::default().rings[0]; RING_COUNT];
        for (r, ring) in rings.iter_mut().enumerate() {
            *ring = RingSize {
                window: TaskWindow::new(Some(r), windows[r])?,
                heap: HeapBytes::new(Some(r), heaps[r])?,
                dep_pool: DepPool::new(Some(r), dep_pools[r])?,
            };
        }
        RingSizing::new(rings)
    }

    /// The same sizes for every ring.
    pub fn uniform(window: u64, heap: u64, dep_pool: u64) -> Result<RingSizing, ConfigError> {
        RingSizing::from_values([window; RING_COUNT], [heap; RING_COUNT], [dep_pool; RING_COUNT])
    }

    /// Ring `r` (`r < RING_COUNT`).
    pub fn ring(&self, r: usize) -> &RingSize {
        &self.rings[r]
    }

    /// Every ring, in ring order.
    pub fn rings(&self) -> &[RingSize; RING_COUNT] {
        &self.rings
    }

    /// Σ windows (at most INT32_MAX): the capacity of `scope_tasks`.
    pub fn total_window(&self) -> usize {
        self.rings.iter().map(|r| r.window.slots()).sum()
    }

    /// Σ heaps; `None` if the sum overflows `u64`.
    pub fn total_heap(&self) -> Option<u64> {
        self.heap_offset(RING_COUNT)
    }

    /// Offset of ring `r`'s heap in the concatenated heaps (`Σ_{i<r} H_i`;
    /// `r == RING_COUNT` gives the total); `None` if it overflows `u64`.
    pub fn heap_offset(&self, r: usize) -> Option<u64> {
        self.rings[..r].iter().try_fold(0u64, |acc, x| acc.checked_add(x.heap.get()))
    }
}

impl Default for RingSizing {
    /// The schema's defaults for every ring.
    fn default() -> RingSizing {
        let d = |k: Knob| schema::spec(k).default;
        let ring = RingSize {
            window: TaskWindow::new(None, d(Knob::RingTaskWindow)).expect("schema default is valid"),
            heap: HeapBytes::new(None, d(Knob::RingHeap)).expect("schema default is valid"),
            dep_pool: DepPool::new(None, d(Knob::RingDepPool)).expect("schema default is valid"),
        };
        RingSizing::new([ring; RING_COUNT]).expect("schema defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_schema() {
        let s = RingSizing::default();
        for r in s.rings() {
            assert_eq!(r.window.to_u64(), schema::spec(Knob::RingTaskWindow).default);
            assert_eq!(r.heap.get(), schema::spec(Knob::RingHeap).default);
            assert_eq!(u64::from(r.dep_pool.get()), schema::spec(Knob::RingDepPool).default);
        }
        assert_eq!(s.total_window(), 4 * 16384);
        assert_eq!(s.total_heap(), Some(1 << 30));
    }

    #[test]
    fn constructors_apply_the_schema_rule_text() {
        for bad in [0u64, 3, 12, 2, 1 << 31, u64::MAX] {
            let e = TaskWindow::new(Some(2), bad).unwrap_err();
            let t = e.to_string();
            assert!(t.contains("ring_task_window[ring 2]"), "{t}");
            assert!(t.contains(&schema::spec(Knob::RingTaskWindow).rule_text()), "{t}");
        }
        assert!(HeapBytes::new(None, 1023).unwrap_err().to_string().contains("ring_heap"));
        for bad in [0u64, 3, 1 << 31] {
            assert!(DepPool::new(Some(1), bad).unwrap_err().to_string().contains("ring_dep_pool[ring 1]"));
        }
        assert_eq!(TaskWindow::new(None, 1 << 30).unwrap().slots(), 1 << 30);
        assert_eq!(DepPool::new(None, i32::MAX as u64).unwrap().get(), i32::MAX as u32);
    }

    #[test]
    fn cross_ring_rules_are_checked() {
        let e = RingSizing::uniform(1 << 30, 1024, 4).unwrap_err().to_string();
        assert!(e.contains("INT32_MAX") && e.contains("PTO2_RING_TASK_WINDOW"), "{e}");
        let ok = RingSizing::from_values([1 << 30, 1 << 29, 1 << 28, 1 << 27], [1024; 4], [4; 4]).unwrap();
        assert_eq!(ok.total_window(), (1 << 31) - (1 << 27));
        let s = RingSizing::from_values([4; 4], [u64::MAX / 2, u64::MAX / 2, 1024, 1024], [4; 4]).unwrap();
        assert_eq!((s.heap_offset(2), s.total_heap()), (Some(u64::MAX - 1), None));
        let s = RingSizing::from_values([4; 4], [u64::MAX / 2 - 2048, u64::MAX / 2, 1024, 1024], [4; 4]).unwrap();
        assert_eq!(s.total_heap(), Some(u64::MAX - 1));
        let s = RingSizing::from_values([4, 8, 16, 32], [1024, 2048, 4096, 8192], [4; 4]).unwrap();
        assert_eq!(s.heap_offset(2), Some(3072));
        assert_eq!(s.total_heap(), Some(15360));
    }
}
