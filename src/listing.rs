//! What a store listing says of one object: a leaf of plain data, so that
//! the pure modules that read listings (the release index) need not name
//! the object-store seam.

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, when the store says.
    pub modified: Option<std::time::SystemTime>,
}
