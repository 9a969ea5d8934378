//! The commands that work on destinations, each a loop over them
//! ([`crate::destination`]): `publish`, `ls`, `rm`, `gc` and `verify`.

pub mod lifecycle;
pub mod publish;
pub mod verify;
