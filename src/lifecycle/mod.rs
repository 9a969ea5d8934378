//! What `ls`, `rm`, `gc` and `promote` do at each kind of destination: the
//! static releases (`statics`), the images (`images`), the retention policy
//! (`retention`, pure) and `promote`. The commands themselves, loops over
//! destinations, are in `commands::lifecycle`.

pub mod images;
pub mod promote;
pub mod retention;
pub mod statics;
