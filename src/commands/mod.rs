//! The commands that work on destinations, each a loop over them
//! ([`crate::destination`]): `publish`, `ls`, `rm`, `gc`, `promote` and `verify`.

pub mod lifecycle;
pub mod promote;
pub mod publish;
pub mod verify;
