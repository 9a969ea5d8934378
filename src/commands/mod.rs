//! The commands that work on destinations, each a loop over them
//! ([`crate::destination`]): `publish`, `ls`, `rm` and `gc`.

pub mod lifecycle;
pub mod publish;
