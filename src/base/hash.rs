//! The one stable hash: FNV-1a over bytes, with the splitmix64 finalizer where the low bits
//! must be well mixed. Stable means the same value on every machine, every night and in
//! every churnrisk version: user-hash shards (`ingest::shard`) depend on it, so it must
//! never change (a test pins known values).

/// FNV-1a of `bytes` (64 bits): fast and well spread for short keys; equality is always
/// checked after it where it groups values.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// [`fnv1a`] followed by the splitmix64 finalizer, so that every bit (the low ones a
/// modulus reads too) depends on every byte.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h = fnv1a(bytes);
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_change() {
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        // Pinned (computed apart from this code, in Python, from the definition): the shard
        // of every user in every stored list depends on these.
        assert_eq!(stable_hash(b"u1"), 0x715f_dd7b_59a9_a19f);
        assert_eq!(stable_hash(b"1001"), 0xc54f_2f22_2111_7b30);
    }
}
