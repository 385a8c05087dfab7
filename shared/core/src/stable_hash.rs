//! A hash that is the same in every process and Rust version (the std hasher promises neither):
//! FNV-1a, 64 bits. What is cut by it (reconciler slices, the report's tag sample) is cut the same
//! by every invocation.

/// FNV-1a of `text`'s bytes.
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
